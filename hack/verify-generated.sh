#!/usr/bin/env bash
# Fails when generated files (deep-copy code, CRD manifests, each binary's
# RBAC, gRPC stubs) are stale: regenerates them from a copy of the sources and compares.
#   hack/verify-generated.sh [ROOT]   (default: this repository)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
root=$(cd "${1:-$here}" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

cp -r "$root/apis" "$tmp/apis"
cp -r "$root/proto" "$tmp/proto"
mkdir -p "$tmp/hack" "$tmp/crds" "$tmp/bin"
cp "$root/hack/boilerplate.go.txt" "$tmp/hack/"
for t in controller-gen buf protoc-gen-go protoc-gen-go-grpc; do ln -s "$(readlink -f "$here/bin/$t")" "$tmp/bin/$t"; done

(cd "$tmp/apis" && GOWORK=off "$tmp/bin/controller-gen" object:headerFile=../hack/boilerplate.go.txt paths=./... \
	&& GOWORK=off "$tmp/bin/controller-gen" crd:maxDescLen=512 paths=./... output:crd:artifacts:config="$tmp/crds")
"$here/hack/gen-rbac.sh" "$root" "$tmp"
rm -rf "$tmp/proto/gen"
(cd "$tmp/proto" && "$tmp/bin/buf" generate)

status=0
if ! diff -r "$root/apis" "$tmp/apis" >"$tmp/apis.diff"; then
	echo "verify: deep-copy code in apis/ is stale; run 'make generate' and commit the result:" >&2
	head -40 "$tmp/apis.diff" >&2; status=1
fi
if ! diff -r "$root/deploy/kustomize/base/crds" "$tmp/crds" >"$tmp/crds.diff"; then
	echo "verify: CRD manifests in deploy/kustomize/base/crds are stale; run 'make generate' and commit the result:" >&2
	head -40 "$tmp/crds.diff" >&2; status=1
fi
if ! diff -r "$root/deploy/kustomize/base/rbac" "$tmp/deploy/kustomize/base/rbac" >"$tmp/rbac.diff"; then
	echo "verify: RBAC in deploy/kustomize/base/rbac is stale (markers in controllers/*/rbac.go, cmd/*/rbac.go); run 'make generate' and commit the result:" >&2
	head -40 "$tmp/rbac.diff" >&2; status=1
fi
if ! diff -r "$root/proto/gen" "$tmp/proto/gen" >"$tmp/proto.diff"; then
	echo "verify: generated gRPC code in proto/gen is stale; run 'make generate' and commit the result:" >&2
	head -40 "$tmp/proto.diff" >&2; status=1
fi
[ $status -eq 0 ] && echo "verify: generated files are current"
exit $status
