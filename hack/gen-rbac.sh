#!/usr/bin/env bash
# Generates each binary's least-privilege RBAC from the kubebuilder markers in
# its main package's rbac.go (controllers/<x>/rbac.go, cmd/<x>/rbac.go):
# deploy/kustomize/base/rbac/<binary>/role.yaml holds its ClusterRole (named
# plinth-<binary>) and, for namespaced markers, its Role.
#   hack/gen-rbac.sh [SRC [OUT]]   (default: this repository for both)
# Each rbac.go is read on its own (a file of markers), so generation does not
# need the rest of the module to build.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
src=$(cd "${1:-$here}" && pwd)
out=$(cd "${2:-$src}" && pwd)
gen="$here/bin/controller-gen"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$src"
mkdir -p "$out/deploy/kustomize/base/rbac"
for f in controllers/*/rbac.go cmd/*/rbac.go; do
	[ -e "$f" ] || continue
	dir=$(dirname "$f")
	case "$dir" in
	controllers/*) bin=$(basename "$dir")-controller ;;
	*) bin=$(basename "$dir") ;;
	esac
	mod="$tmp/$bin"
	mkdir -p "$mod"
	printf 'module plinth.invalid/rbac\n\ngo 1.22\n' >"$mod/go.mod"
	sed 's/^package main$/package rbac/' "$f" >"$mod/rbac.go"
	dest="$out/deploy/kustomize/base/rbac/$bin"
	rm -rf "$dest"
	(cd "$mod" && GOWORK=off GOFLAGS=-mod=mod "$gen" rbac:roleName="plinth-$bin" paths=./... output:rbac:artifacts:config="$dest")
done
