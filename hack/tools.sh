#!/usr/bin/env bash
# Builds the code generators pinned in tools/go.mod into a machine-wide cache
# keyed by tools/go.sum, and links them into bin/. Prints nothing when cached.
#   hack/tools.sh controller-gen buf protoc-gen-go protoc-gen-go-grpc
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
. "$root/hack/lib/cache.sh"
cache=$(cache_root)
key=$(cat "$root/tools/go.mod" "$root/tools/go.sum" | sha256sum | cut -c1-16)
dir="$cache/tools-$key"
mkdir -p "$dir" "$root/bin"
# build PKG OUT: builds one tool into OUT (cache_build renames it into place).
build() { (cd "$root/tools" && GOWORK=off go build -trimpath -o "$2" "$1"); }

for name in "$@"; do
	case "$name" in
	controller-gen) pkg=sigs.k8s.io/controller-tools/cmd/controller-gen ;;
	buf) pkg=github.com/bufbuild/buf/cmd/buf ;;
	protoc-gen-go) pkg=google.golang.org/protobuf/cmd/protoc-gen-go ;;
	protoc-gen-go-grpc) pkg=google.golang.org/grpc/cmd/protoc-gen-go-grpc ;;
	*) echo "tools: unknown tool $name" >&2; exit 2 ;;
	esac
	if [ ! -x "$dir/$name" ]; then
		echo "tools: building $name (cached in $dir)" >&2
		cache_build "$dir/$name" build "$pkg"
	fi
	link_atomic "$dir/$name" "$root/bin/$name"
done
