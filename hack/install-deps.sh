#!/usr/bin/env bash
# Installs the Debian packages the tests need, only when one is missing, so a
# machine that has them does not touch the network. Pinned by the Debian
# release (bookworm) the machines run.
#   hack/install-deps.sh [group...]   groups: test (default), cluster
set -euo pipefail
groups=("$@"); [ ${#groups[@]} -gt 0 ] || groups=(test)
pkgs=()
for g in "${groups[@]}"; do
	case "$g" in
	test) pkgs+=(redis-server redis-tools postgresql-15 postgresql-client-15) ;;
	cluster) pkgs+=(containerd runc containernetworking-plugins iptables conntrack socat iproute2 debootstrap util-linux) ;;
	*) echo "install-deps: unknown group $g" >&2; exit 2 ;;
	esac
done
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
# Another clone may be installing at the same moment: wait for dpkg's lock
# instead of failing on it.
apt=(apt-get -o DPkg::Lock::Timeout=600)
"${apt[@]}" update -qq
"${apt[@]}" install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# The Debian packages start their own servers; tests start their own, so stop these.
for s in redis-server postgresql; do
	if command -v service >/dev/null 2>&1; then service "$s" stop >/dev/null 2>&1 || true; fi
done
