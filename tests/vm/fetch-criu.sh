#!/bin/bash
# fetch-criu.sh — fetch Debian's criu, for the VM guests, without installing
# it on the host.
#
#   tests/vm/fetch-criu.sh [--refresh]
#
# Downloads the criu package and every library package it needs that the
# host does not have installed (libprotobuf-c1, libnet1, libnftables1,
# libnftnl11, ... on a bookworm machine: its Depends, followed through
# lib* packages), with the machine's own apt configuration, and unpacks
# them. Prints one line, the directory of a usrmerged tree to add to a
# guest whole (vm-run.sh --add DIR:/):
#   DIR/usr/sbin/criu
#   DIR/usr/lib/x86_64-linux-gnu/lib*.so*   the downloaded libraries
# The libraries the host has are not in it: mkinitramfs.sh copies them
# from the host (ldd resolves criu against DIR's libraries first).
# Beside DIR, DIR.packages lists "NAME VERSION" of what was unpacked.
#
# The cache is ${SDFS_VM_CACHE:-/var/tmp/sdfs-vm-cache}/criu; a complete one
# is reused without asking apt (offline); --refresh (or SDFS_VM_REFRESH=1)
# resolves the newest packages again. Exits 1 with a reason on stderr when
# apt cannot provide criu.
#
# Needs: apt, dpkg.

set -euo pipefail

CACHE=${SDFS_VM_CACHE:-/var/tmp/sdfs-vm-cache}
REFRESH=${SDFS_VM_REFRESH:-0}

# shellcheck disable=SC2034 # read by debian-apt.sh
TOOL=fetch-criu
# shellcheck source=debian-apt.sh
. "$(dirname "${BASH_SOURCE[0]}")/debian-apt.sh"

# Is package $1 installed on the host (any architecture)?
host_has() {
	dpkg-query -W -f='${db:Status-Status}\n' "$1" 2>/dev/null | grep -qx installed
}

# Print the library packages $1 depends on (the first of each group of
# alternatives; virtual packages skipped).
lib_depends() {
	apt-cache depends "$1" 2>/dev/null | awk '
		$1 == "Depends:" || $1 == "|Depends:" {
			if (alt) { alt = ($1 == "|Depends:"); next }
			alt = ($1 == "|Depends:")
			if ($2 ~ /^lib/ && $2 !~ /^</) { sub(/:.*/, "", $2); print $2 }
		}'
}

# Print "NAME VERSION" of criu and each library package it needs that the
# host lacks, criu first.
resolve() {
	local -A seen=()
	local queue=(criu) p d v
	while ((${#queue[@]})); do
		p=${queue[0]}
		queue=("${queue[@]:1}")
		[[ -z ${seen[$p]:-} ]] || continue
		seen[$p]=1
		v=$(apt-cache policy "$p" | awk '$1 == "Candidate:" { print $2; exit }')
		[[ -n $v && $v != "(none)" ]] || die "apt has no candidate version of $p"
		printf '%s %s\n' "$p" "$v"
		while read -r d; do
			[[ -n $d && -z ${seen[$d]:-} ]] || continue
			host_has "$d" || queue+=("$d")
		done < <(lib_depends "$p")
	done
}

# Unpack the .debs of directory $1 into a usrmerged tree $2 that keeps
# only criu and the shared libraries.
unpack() {
	local dl=$1 out=$2 deb
	local raw=$dl/raw
	rm -rf "$raw" "$out"
	mkdir -p "$raw" "$out/usr/sbin" "$out/usr/lib/x86_64-linux-gnu"
	for deb in "$dl"/*.deb; do
		dpkg-deb -x "$deb" "$raw"
	done
	[[ -x $raw/usr/sbin/criu ]] || die "the criu package has no /usr/sbin/criu"
	cp -a "$raw/usr/sbin/criu" "$out/usr/sbin/"
	local d
	for d in "$raw/lib/x86_64-linux-gnu" "$raw/usr/lib/x86_64-linux-gnu"; do
		[[ -d $d ]] || continue
		find "$d" -maxdepth 1 -name 'lib*.so.*' \( -type f -o -type l \) \
			-exec cp -a -t "$out/usr/lib/x86_64-linux-gnu/" {} +
	done
	rm -rf "$raw"
}

main() {
	while (($#)); do
		case $1 in
		--refresh) REFRESH=1 ;;
		-h | --help) sed -n '2,/^$/s/^# \{0,1\}//p' "$0"; exit 0 ;;
		*) die "unknown argument '$1'" ;;
		esac
		shift
	done
	debian_cache_lock
	[[ $(dpkg --print-architecture) == amd64 ]] || die "the guests are amd64; this host is $(dpkg --print-architecture)"

	local link=$CACHE/criu/current
	if [[ -x $link/usr/sbin/criu && $REFRESH != 1 ]]; then
		readlink -f "$link"
		return
	fi
	host_apt criu
	local list
	list=$(resolve)
	local version dir dl
	version=$(awk 'NR == 1 { print $2 }' <<<"$list")
	dir=$CACHE/criu/criu_$version
	dl=$CACHE/criu/download
	rm -rf "$dl"
	mkdir -p "$dl"
	# apt drops privileges to _apt for downloads; let it write here.
	chown _apt "$dl" 2>/dev/null || true
	local pkgs=()
	while read -r p v; do pkgs+=("$p=$v"); done <<<"$list"
	log "downloading ${pkgs[*]}"
	(cd "$dl" && apt-get -q download "${pkgs[@]}" >&2) ||
		die "apt-get download ${pkgs[*]} failed"
	unpack "$dl" "$dir.tmp"
	rm -rf "$dir"
	mv "$dir.tmp" "$dir"
	printf '%s\n' "$list" >"$dir.packages"
	rm -rf "$dl"
	ln -sfn "${dir##*/}" "$link.new"
	mv -T "$link.new" "$link"
	log "criu $version in $dir"
	printf '%s\n' "$dir"
}

main "$@"
