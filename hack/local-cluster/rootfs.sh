#!/usr/bin/env bash
# Builds a Debian root filesystem with debootstrap (minbase) plus packages
# installed by apt-get in a chroot, and writes it as one uncompressed tar: the
# single layer of a local image. Called by "local-cluster images"; the result is
# cached machine-wide by the caller, so this runs once per recipe and machine.
#
#   rootfs.sh RELEASE OUT.tar PACKAGE...
#
# The Debian mirror is the one apt on this machine already uses.
set -euo pipefail
release=$1 out=$2; shift 2
[ $# -gt 0 ] || { echo "rootfs.sh: no packages given" >&2; exit 2; }
command -v debootstrap >/dev/null || { echo "rootfs.sh: debootstrap is missing (hack/install-deps.sh cluster)" >&2; exit 1; }

mirror=$(sed -n 's/^URIs: *\([^ ]*debian\)\/*$/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -1)
[ -n "$mirror" ] || mirror=$(awk '$1=="deb" && $2 !~ /security/ {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
[ -n "$mirror" ] || { echo "rootfs.sh: cannot find the Debian mirror in /etc/apt/sources.list*" >&2; exit 1; }

work=$(mktemp -d "${out%/*}/.rootfs-$release.XXXXXX")
dir=$work/root
cleanup() {
	# debootstrap and chroot apt may leave proc/sys mounted on failure.
	for m in proc sys dev/pts dev; do
		mountpoint -q "$dir/$m" 2>/dev/null && umount -l "$dir/$m" || true
	done
	rm -rf "$work"
}
trap cleanup EXIT

echo "rootfs: debootstrap --variant=minbase $release" >&2
debootstrap --variant=minbase "$release" "$dir" "$mirror" >"$work/debootstrap.log" 2>&1 || {
	tail -30 "$work/debootstrap.log" >&2; echo "rootfs.sh: debootstrap $release failed" >&2; exit 1; }

# No daemons start inside the chroot.
printf '#!/bin/sh\nexit 101\n' >"$dir/usr/sbin/policy-rc.d"
chmod 755 "$dir/usr/sbin/policy-rc.d"
# Fixed users (the official images use uid 999), created before the packages
# so their postinst scripts keep them.
chroot "$dir" groupadd -r -g 999 postgres
chroot "$dir" useradd -r -u 999 -g postgres -d /var/lib/postgresql -s /bin/bash postgres
chroot "$dir" groupadd -r -g 998 redis
chroot "$dir" useradd -r -u 998 -g redis -d /var/lib/redis -s /usr/sbin/nologin redis

export DEBIAN_FRONTEND=noninteractive LC_ALL=C
echo "rootfs: apt-get install $*" >&2
{
	chroot "$dir" apt-get update -qq
	# No default "main" cluster: like the official image, PGDATA starts empty.
	chroot "$dir" apt-get install -y -qq --no-install-recommends postgresql-common
	sed -ri 's/^#?\s*create_main_cluster.*/create_main_cluster = false/' "$dir/etc/postgresql-common/createcluster.conf"
	chroot "$dir" apt-get install -y -qq --no-install-recommends "$@"
} >"$work/apt.log" 2>&1 || { tail -30 "$work/apt.log" >&2; echo "rootfs.sh: apt-get install in the $release chroot failed" >&2; exit 1; }
chroot "$dir" dpkg-query -W -f '${Package}=${Version}\n' >"$work/versions"

rm -f "$dir/usr/sbin/policy-rc.d"
# PostgreSQL's JIT is optional: without its provider (llvmjit.so) the server
# runs with jit unavailable. Dropping it and LLVM (which nothing else here
# uses) makes the image 40% smaller and its import into containerd faster.
rm -rf "$dir"/usr/lib/postgresql/*/lib/llvmjit* "$dir"/usr/lib/postgresql/*/lib/bitcode \
	"$dir"/usr/lib/x86_64-linux-gnu/libLLVM* "$dir"/usr/lib/x86_64-linux-gnu/libz3.so* "$dir"/usr/share/i18n
rm -rf "$dir"/var/lib/apt/lists/* "$dir"/var/cache/apt/* "$dir"/var/log/* "$dir"/usr/share/doc \
	"$dir"/usr/share/man "$dir"/usr/share/info "$dir"/usr/share/locale "$dir"/tmp/*
mkdir -p "$dir/var/run/postgresql" "$dir/var/lib/postgresql/data" "$dir/data"
chroot "$dir" chown postgres:postgres /var/run/postgresql /var/lib/postgresql /var/lib/postgresql/data
chroot "$dir" chown redis:redis /data
chmod 2777 "$dir/var/run/postgresql"
cp "$work/versions" "$dir/etc/plinth-image-packages"
install -m 755 "$(dirname "$0")/postgres-entrypoint.sh" "$dir/usr/local/bin/docker-entrypoint.sh"

tar --numeric-owner --xattrs -C "$dir" -cf "$work/layer.tar" .
# Both renamed into place (the caller holds a lock): the package list first,
# so whoever sees the layer also sees its list.
mv "$work/versions" "$out.packages"
mv "$work/layer.tar" "$out"
echo "rootfs: wrote $out ($(du -h "$out" | cut -f1))" >&2
