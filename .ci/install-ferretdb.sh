#!/usr/bin/env bash
# Installs FerretDB (a MongoDB wire-protocol server; SQLite handler) for the MongoDB store
# tests into $(go env GOBIN) or $(go env GOPATH)/bin. Idempotent: a working binary at the
# pinned version is reused.
#
# Why not plain `go install github.com/FerretDB/FerretDB/cmd/ferretdb@v1.24.2`: the module
# zip lacks the generated build/version/version.txt, so that binary panics at start
# (FerretDB/FerretDB#2982). We fetch the same module with the Go toolchain, build it from a
# writable copy with version.txt written, and install the result where `go install` would.
set -euo pipefail

VERSION="${FERRETDB_VERSION:-v1.24.2}"
MODULE="github.com/FerretDB/FerretDB"

command -v go >/dev/null 2>&1 || { echo "install-ferretdb: Go toolchain not found (need go >= 1.21 on PATH)" >&2; exit 1; }

bindir="$(go env GOBIN)"
[ -n "$bindir" ] || bindir="$(go env GOPATH)/bin"
bin="$bindir/ferretdb"

works() {
  # A good build prints its version; a plain `go install` build panics instead. The output is
  # captured before matching: piping into `grep -q` under pipefail fails at random when grep
  # exits on the first line and ferretdb dies of SIGPIPE writing the next (seen in CI).
  local out
  out="$("$1" --version 2>/dev/null)" || return 1
  grep -q "version: ${VERSION}\$" <<<"$out"
}

if [ -x "$bin" ] && works "$bin"; then
  echo "install-ferretdb: reusing $bin ($VERSION)"
  exit 0
fi

echo "install-ferretdb: building FerretDB $VERSION into $bin" >&2
# Downloads (or reuses) the module in the module cache and prints its directory.
src="$(go mod download -json "${MODULE}@${VERSION}" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')"
[ -d "$src" ] || { echo "install-ferretdb: could not download ${MODULE}@${VERSION}" >&2; exit 1; }

work="$(mktemp -d)"
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
cp -R "$src/." "$work/src"
chmod -R u+w "$work/src"
printf '%s\n' "$VERSION" >"$work/src/build/version/version.txt"
mkdir -p "$bindir"
(cd "$work/src" && CGO_ENABLED=0 go build -trimpath -buildvcs=false -o "$work/ferretdb" ./cmd/ferretdb)
works "$work/ferretdb" || { echo "install-ferretdb: the built binary does not report $VERSION" >&2; exit 1; }
# Replace atomically, so a concurrently starting test never runs a half-written file.
mv -f "$work/ferretdb" "$bin.tmp.$$" && mv -f "$bin.tmp.$$" "$bin"
echo "install-ferretdb: installed $bin ($VERSION)"
