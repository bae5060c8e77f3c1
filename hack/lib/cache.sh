# Shared by the hack/ scripts that write the machine-wide cache
# (${PLINTH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/plinth}), which every clone
# on the machine uses at the same time. Source it: . "$root/hack/lib/cache.sh"
#
# Every entry is built under a lock (flock on ENTRY.lock, so two clones do not
# both build it: the second waits and then uses the first one's result) into
# a unique temporary name in the entry's own folder, and renamed into place
# in one step, so no reader ever sees half an entry and no two writers share
# a temporary file.

# cache_root prints the machine-wide cache folder.
cache_root() {
	echo "${PLINTH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/plinth}"
}

# cache_build ENTRY COMMAND [ARG...]: unless ENTRY (a file or folder) exists,
# runs COMMAND ARG... TMP, which must create TMP (a path in ENTRY's folder,
# not yet existing), then renames TMP to ENTRY. COMMAND may be a shell
# function. Fails, leaving no ENTRY, when COMMAND fails or creates nothing.
cache_build() {
	local entry=$1; shift
	[ -e "$entry" ] && return 0
	local parent; parent=$(dirname "$entry")
	mkdir -p "$parent"
	(
		exec 9>>"$entry.lock"
		if ! flock -n 9; then
			echo "cache: waiting for another build of $entry" >&2
			flock 9
		fi
		[ -e "$entry" ] && exit 0
		work=$(mktemp -d "$parent/.$(basename "$entry").XXXXXX")
		trap 'rm -rf "$work"' EXIT
		"$@" "$work/out" || exit 1
		[ -e "$work/out" ] || { echo "cache: $* created nothing" >&2; exit 1; }
		mv -T "$work/out" "$entry" || exit 1
	)
}

# link_atomic TARGET LINK: points the symbolic link LINK at TARGET, replacing
# any LINK in one rename (ln -sfn removes first, so a reader can miss it).
link_atomic() {
	local target=$1 link=$2 tmp
	mkdir -p "$(dirname "$link")"
	tmp=$(mktemp -u "$link.XXXXXX")
	ln -s "$target" "$tmp"
	mv -T "$tmp" "$link"
}
