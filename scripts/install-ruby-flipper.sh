#!/bin/sh
# Installs a real Ruby Flipper for test/prisma/flipper-interop.test.ts: Debian's ruby-flipper
# (0.25.4, which ships the ActiveRecord adapter as flipper-active_record), ruby-pg and
# ruby-activerecord. Does nothing when they are already there, so CI can run it every time.
set -eu

probe="require 'active_record'; require 'pg'; require 'flipper/adapters/active_record'"
if command -v ruby >/dev/null 2>&1 && ruby -e "$probe" >/dev/null 2>&1; then
  echo "ruby-flipper: already installed"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update
$SUDO apt-get install -y --no-install-recommends ruby ruby-flipper ruby-pg ruby-activerecord
ruby -e "$probe"
echo "ruby-flipper: installed"
