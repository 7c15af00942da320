#!/bin/bash
# fetch-valgrind.sh — fetch and unpack a valgrind that knows the system
# calls sdfs makes, for running the daemon under memcheck.
#
#   tests/valgrind/fetch-valgrind.sh [--refresh]
#
# bookworm's valgrind (3.19) implements neither userfaultfd(2) nor
# pidfd_open(2) nor pidfd_getfd(2): under it the daemon finds no backend
# and cannot track any process. trixie's valgrind (3.24) does; its tool
# binaries are static and its launcher needs nothing newer than bookworm's
# libc, so it runs here unpacked, without being installed.
#
# Prints one line: a command prefix that runs valgrind
#   env VALGRIND_LIB=DIR/usr/libexec/valgrind DIR/usr/bin/valgrind.bin
# The package is resolved with a private apt configuration (the machine's
# own Debian mirror, suite trixie) and cached in
# ${SDFS_VM_CACHE:-/var/tmp/sdfs-vm-cache}/valgrind; once there, nothing
# is asked of the network.

set -euo pipefail

CACHE=${SDFS_VM_CACHE:-/var/tmp/sdfs-vm-cache}
REFRESH=${SDFS_VM_REFRESH:-0}
TOOL=fetch-valgrind
SUITE=trixie
# shellcheck source=../vm/debian-apt.sh
. "$(dirname "${BASH_SOURCE[0]}")/../vm/debian-apt.sh"

[[ ${1:-} == --refresh ]] && REFRESH=1
debian_cache_lock

link=$CACHE/valgrind
if [[ ! -x $link/usr/bin/valgrind.bin || $REFRESH == 1 ]]; then
	private_apt "$SUITE" amd64
	version=$(apt-cache "${APT_OPTS[@]}" policy valgrind |
		awk '$1 == "Candidate:" { print $2; exit }')
	[[ -n $version && $version != "(none)" ]] || die "no valgrind in $SUITE"
	dir=$CACHE/valgrind-pkg/${version//:/_}
	if [[ ! -x $dir/usr/bin/valgrind.bin ]]; then
		dl=$CACHE/download-valgrind
		rm -rf "$dl" "$dir"
		mkdir -p "$dl" "$dir"
		chown _apt "$dl" 2>/dev/null || true
		log "downloading valgrind $version ($SUITE)"
		(cd "$dl" && apt-get "${APT_OPTS[@]}" -q download "valgrind=$version" >&2) ||
			die "apt-get download valgrind=$version failed"
		dpkg-deb -x "$dl"/valgrind_*.deb "$dir"
		rm -rf "$dl"
	fi
	ln -sfn "valgrind-pkg/${dir##*/}" "$link.new"
	mv -T "$link.new" "$link"
fi
dir=$(readlink -f "$link")
cmd="env VALGRIND_LIB=$dir/usr/libexec/valgrind $dir/usr/bin/valgrind.bin"
# it must run here (a launcher that needs a newer libc would not)
$cmd --version >/dev/null 2>&1 || die "$dir: valgrind does not run on this machine"
printf '%s\n' "$cmd"
