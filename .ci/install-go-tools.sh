#!/usr/bin/env bash
# Installs the Go-built gRPC tools the interoperability tests drive the server with:
#   grpcurl            (github.com/fullstorydev/grpcurl)       — reflection, Health/Check, Resolve
#   grpc-health-probe  (github.com/grpc-ecosystem/grpc-health-probe) — the Kubernetes probe
# into $(go env GOBIN) or $(go env GOPATH)/bin, with `go install` from the Go module proxy.
# Idempotent: a binary already built from the pinned module version is reused.
set -euo pipefail

GRPCURL_VERSION="${GRPCURL_VERSION:-v1.9.4}"
HEALTH_PROBE_VERSION="${GRPC_HEALTH_PROBE_VERSION:-v0.4.62}"

command -v go >/dev/null 2>&1 || { echo "install-go-tools: Go toolchain not found (need go on PATH)" >&2; exit 1; }

bindir="$(go env GOBIN)"
[ -n "$bindir" ] || bindir="$(go env GOPATH)/bin"

# install NAME MODULE PACKAGE VERSION: reuse $bindir/NAME when its embedded build info says it
# was built from MODULE at VERSION (grpcurl's own -version is unset under `go install`).
install() {
  local name="$1" module="$2" package="$3" version="$4"
  local bin="$bindir/$name"
  # Output captured before matching: `| grep -q` under pipefail can fail on SIGPIPE.
  if [ -x "$bin" ] && info="$(go version -m "$bin" 2>/dev/null)" \
    && grep -Eq "^[[:space:]]+mod[[:space:]]+${module}[[:space:]]+${version}([[:space:]]|\$)" <<<"$info"; then
    echo "install-go-tools: reusing $bin ($version)"
    return 0
  fi
  echo "install-go-tools: go install ${package}@${version}" >&2
  GOBIN="$bindir" CGO_ENABLED=0 go install -trimpath "${package}@${version}"
  [ -x "$bin" ] || { echo "install-go-tools: $bin missing after go install" >&2; exit 1; }
  echo "install-go-tools: installed $bin ($version)"
}

mkdir -p "$bindir"
install grpcurl github.com/fullstorydev/grpcurl github.com/fullstorydev/grpcurl/cmd/grpcurl "$GRPCURL_VERSION"
install grpc-health-probe github.com/grpc-ecosystem/grpc-health-probe github.com/grpc-ecosystem/grpc-health-probe "$HEALTH_PROBE_VERSION"
