#!/usr/bin/env bash
# Builds the pinned Kubernetes binaries and etcd from the Go module proxy (through
# the helper module hack/kubebin), version-stamped so kubectl can parse them.
# Binaries are cached machine-wide by version and linked into bin/k8s/, so a fresh
# clone on the same machine reuses them in seconds.
#
#   hack/build-kube.sh [kube-apiserver|etcd|kubectl|kube-controller-manager|kube-scheduler|kubelet|kube-proxy|coredns]...
#   (no argument: kube-apiserver, etcd and kubectl, which the integration tests need)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
KUBE_VERSION=v1.36.3
COREDNS_VERSION=v1.12.4
ETCD_VERSION=$(cd "$root/hack/kubebin" && GOWORK=off go list -m -f '{{.Version}}' go.etcd.io/etcd/server/v3)
. "$root/hack/lib/cache.sh"
cache=$(cache_root)
out="$root/bin/k8s"
mkdir -p "$out"

names=("$@")
[ ${#names[@]} -gt 0 ] || names=(kube-apiserver etcd kubectl)

minor=${KUBE_VERSION#v1.}; minor=${minor%%.*}
ldflags="-s -w"
for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
	ldflags+=" -X $p.gitVersion=$KUBE_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$minor"
	ldflags+=" -X $p.gitTreeState=clean -X $p.buildDate=1970-01-01T00:00:00Z"
done

# build NAME PKG FLAGS OUT: builds one binary into OUT (a unique temporary
# name; cache_build renames it into place).
build() {
	local name=$1 pkg=$2 flags=$3 out=$4
	if [ "$name" = coredns ]; then
		# CoreDNS installs straight from the module proxy (its go.mod has no replace lines).
		local gobin; gobin=$(mktemp -d "$(dirname "$out")/.gobin.XXXXXX")
		GOWORK=off GOBIN="$gobin" CGO_ENABLED=0 go install -trimpath -ldflags "$flags" "$pkg"
		mv "$gobin/coredns" "$out" && rmdir "$gobin"
	else
		# GOWORK=off: the helper module is not part of the repository's go.work.
		(cd "$root/hack/kubebin" && GOWORK=off CGO_ENABLED=0 go build -trimpath -ldflags "$flags" -o "$out" "$pkg")
	fi
}

for name in "${names[@]}"; do
	case "$name" in
	etcd) pkg=./etcd; version=$ETCD_VERSION; flags="-s -w" ;;
	coredns) pkg=github.com/coredns/coredns@$COREDNS_VERSION; version=$COREDNS_VERSION; flags="-s -w" ;;
	kube-apiserver|kube-controller-manager|kube-scheduler|kubelet|kube-proxy|kubectl)
		pkg=k8s.io/kubernetes/cmd/$name; version=$KUBE_VERSION; flags=$ldflags ;;
	*) echo "build-kube: unknown binary $name" >&2; exit 2 ;;
	esac
	dir="$cache/bin/$name-$version"
	if [ ! -x "$dir/$name" ]; then
		echo "build-kube: building $name $version (first time on this machine; cached in $dir)" >&2
		cache_build "$dir/$name" build "$name" "$pkg" "$flags"
	fi
	link_atomic "$dir/$name" "$out/$name"
done
