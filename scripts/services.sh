#!/usr/bin/env bash
# Starts the local PostgreSQL and MariaDB services the tests use, if they are not running.
set -euo pipefail

wait_for() { # name, command
  for _ in $(seq 1 60); do
    if eval "$2" >/dev/null 2>&1; then return 0; fi
    sleep 0.5
  done
  echo "$1 did not come up" >&2
  return 1
}

if ! pg_isready -h 127.0.0.1 -p 5432 >/dev/null 2>&1; then
  echo "starting PostgreSQL"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql)" main start
  wait_for PostgreSQL "pg_isready -h 127.0.0.1 -p 5432"
fi
echo "PostgreSQL is up"

if ! mysqladmin -h 127.0.0.1 -P 3306 -u root ping >/dev/null 2>&1; then
  echo "starting MariaDB"
  start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd
  wait_for MariaDB "mysqladmin -h 127.0.0.1 -P 3306 -u root ping"
fi
echo "MariaDB is up"
