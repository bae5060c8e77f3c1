#!/usr/bin/env bash
# Fails when the gRPC contracts in proto/ break compatibility with a base
# revision (buf breaking). Works in any checkout: a clone with only
# origin/main, a detached HEAD, a git worktree.
#
#   hack/buf-breaking.sh [BASE]   (default: $BUF_AGAINST, else chosen below)
#
# The base is the merge-base of HEAD with the first of: the given revision,
# the local branch main, origin/main, another remote's main - so what main
# gained after this branch forked is not read as removed here. Without a
# merge-base (a shallow clone) it is that revision itself. With none of them
# (a single-branch clone of another branch, a CI checkout of one commit) the
# check is skipped, saying why: comparing with the branch's own upstream
# would compare it with itself.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
buf=${BUF:-$root/bin/buf}
cd "$root"

want=${1:-${BUF_AGAINST:-}}
ref=
if [ -n "$want" ]; then
	git rev-parse --verify --quiet "$want^{commit}" >/dev/null \
		|| { echo "buf-breaking: the base $want given is not a revision of this checkout" >&2; exit 2; }
	ref=$want
else
	for r in refs/heads/main refs/remotes/origin/main $(git for-each-ref --format='%(refname)' 'refs/remotes/*/main'); do
		if git rev-parse --verify --quiet "$r^{commit}" >/dev/null 2>&1; then ref=$r; break; fi
	done
fi
if [ -z "$ref" ]; then
	echo "buf-breaking: SKIPPED: this checkout has no branch main, local or remote, to compare proto/ with (a single-branch clone or a CI checkout of one commit?); git fetch origin main, or set BUF_AGAINST=<revision>" >&2
	exit 0
fi
base=$(git merge-base HEAD "$ref" 2>/dev/null || git rev-parse "$ref^{commit}")
if ! git cat-file -e "$base:proto" 2>/dev/null; then
	echo "buf-breaking: SKIPPED: the base $ref ($base) has no proto/ folder" >&2
	exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
git archive "$base" proto | tar -x -C "$tmp"
echo "buf-breaking: proto/ against $ref (merge-base ${base:0:12})" >&2
cd proto && "$buf" breaking --against "$tmp/proto"
