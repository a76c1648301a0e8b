#!/usr/bin/env bash
# Builds the FerretDB binary the MongoDB tests run against, once, into a gitignored cache:
#   .cache/ferretdb/v1.24.2/ferretdb   (override the directory with FERRETDB_CACHE_DIR)
# A present binary skips the build. Needs Go >= 1.22 and the Go module proxy (or a warm module cache).
#
# Why not a plain `go install github.com/FerretDB/FerretDB/cmd/ferretdb@v1.24.2`: that binary panics
# at start ("Invalid build/version/version.txt file content"), because FerretDB embeds a version.txt
# that its release tooling generates and the module zip does not contain. So the script downloads the
# same pinned module, writes that one file into a private copy and builds the same main package.
set -euo pipefail

VERSION="v1.24.2"
MODULE="github.com/FerretDB/FerretDB"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE_DIR="${FERRETDB_CACHE_DIR:-$ROOT/.cache/ferretdb/$VERSION}"
BIN="$CACHE_DIR/ferretdb"

if [[ -x "$BIN" ]] && "$BIN" --version >/dev/null 2>&1; then
  echo "ferretdb $VERSION: $BIN (cached)"
  exit 0
fi

if ! command -v go >/dev/null 2>&1; then
  echo "ferretdb.sh: the Go toolchain is missing; install Go >= 1.22 (https://go.dev/dl/) or set MONGODB_URL to a running MongoDB" >&2
  exit 1
fi

mkdir -p "$CACHE_DIR"
WORK="$(mktemp -d)"
trap 'chmod -R u+w "$WORK" 2>/dev/null || true; rm -rf "$WORK"' EXIT

echo "ferretdb $VERSION: building into $BIN (first run only, takes a few minutes on a cold module cache)"
# `go mod download` prints the module's directory in the (read-only) module cache.
SRC="$(cd "$WORK" && GOFLAGS=-mod=mod go mod download -json "$MODULE@$VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
if [[ -z "$SRC" || ! -d "$SRC" ]]; then
  echo "ferretdb.sh: could not download $MODULE@$VERSION from the Go module proxy ($(go env GOPROXY))" >&2
  exit 1
fi
cp -R "$SRC" "$WORK/src"
chmod -R u+w "$WORK/src"
printf '%s\n' "$VERSION" >"$WORK/src/build/version/version.txt"
(cd "$WORK/src" && CGO_ENABLED=0 go build -trimpath -buildvcs=false -o "$WORK/ferretdb" ./cmd/ferretdb)
"$WORK/ferretdb" --version >/dev/null
# Move into place last, so an interrupted build never leaves a broken binary behind.
mv -f "$WORK/ferretdb" "$BIN"
echo "ferretdb $VERSION: built $BIN"
