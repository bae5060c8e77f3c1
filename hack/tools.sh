#!/usr/bin/env bash
# Builds the code generators pinned in tools/go.mod into a machine-wide cache
# keyed by tools/go.sum, and links them into bin/. Prints nothing when cached.
#   hack/tools.sh controller-gen buf protoc-gen-go protoc-gen-go-grpc
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cache=${PLINTH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/plinth}
key=$(cat "$root/tools/go.mod" "$root/tools/go.sum" | sha256sum | cut -c1-16)
dir="$cache/tools-$key"
mkdir -p "$dir" "$root/bin"
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
		(cd "$root/tools" && GOWORK=off go build -trimpath -o "$dir/$name.tmp" "$pkg")
		mv "$dir/$name.tmp" "$dir/$name"
	fi
	ln -sfn "$dir/$name" "$root/bin/$name"
done
