#!/usr/bin/env bash
# Builds kube-apiserver from the k8s.io/kubernetes Go module (the Go module proxy is the only
# source of Kubernetes here) and installs etcd from Debian, for the Kubernetes tests: a real
# control plane without a kubelet. kubectl comes with the machine image; where it is missing it
# is built from the same module. Idempotent: binaries of the pinned version are reused.
#
# The module zip leaves out ./staging (each staging repo is a module of its own), so the
# replace directives that point at ./staging/src/k8s.io/X are pointed at k8s.io/X at the
# matching v0.MINOR.PATCH release before building.
set -euo pipefail

VERSION="${KUBE_VERSION:-v1.34.2}"
STAGING="v0${VERSION#v1}"

bindir="$(go env GOBIN)"
[ -n "$bindir" ] || bindir="$(go env GOPATH)/bin"
bin="$bindir/kube-apiserver"

if ! command -v etcd >/dev/null 2>&1; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq etcd-server >/dev/null
fi

# Output captured before matching: `| grep -q` under pipefail can fail on SIGPIPE.
need_apiserver=1
if [ -x "$bin" ] && out="$("$bin" --version 2>/dev/null)" && grep -q "Kubernetes ${VERSION}\$" <<<"$out"; then
  echo "install-kube-apiserver: reusing $bin ($VERSION)"
  need_apiserver=0
fi
need_kubectl=0
if ! command -v kubectl >/dev/null 2>&1 && [ ! -x "$bindir/kubectl" ]; then need_kubectl=1; fi
[ "$need_apiserver" = 1 ] || [ "$need_kubectl" = 1 ] || exit 0

work="$(mktemp -d)"
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
cd "$work"
export GOWORK=off GOFLAGS=-mod=mod
dir="$(go mod download -json "k8s.io/kubernetes@${VERSION}" | sed -n 's/^\s*"Dir": "\(.*\)",$/\1/p')"
[ -d "$dir" ] || { echo "install-kube-apiserver: could not download k8s.io/kubernetes@${VERSION}" >&2; exit 1; }
cp -r "$dir" src
chmod -R u+w src
cd src
sed -i -E "s#=> \./staging/src/(k8s\.io/[A-Za-z0-9._-]+)\$#=> \1 ${STAGING}#" go.mod
# Versions are stamped as `make` would, so `--version` reports the release.
ldflags="-s -w -X k8s.io/component-base/version.gitVersion=${VERSION} -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$(echo "$VERSION" | cut -d. -f2)"
if [ "$need_apiserver" = 1 ]; then
  echo "install-kube-apiserver: building kube-apiserver ${VERSION} (several minutes)"
  go build -trimpath -ldflags "$ldflags" -o "$bin" ./cmd/kube-apiserver
  "$bin" --version
fi
if [ "$need_kubectl" = 1 ]; then
  echo "install-kube-apiserver: no kubectl on PATH; building kubectl ${VERSION}"
  go build -trimpath -ldflags "$ldflags" -o "$bindir/kubectl" ./cmd/kubectl
  "$bindir/kubectl" version --client
fi
