#!/bin/bash
# fetch-sysroot.sh — Debian bookworm's arm64 packages that sdfs builds
# against and that the arm64 guest runs, unpacked into a sysroot.
#
#   tests/vm/arm64/fetch-sysroot.sh [--refresh]
#
# Prints the sysroot directory on stdout; progress goes to stderr. The
# packages (list below) are resolved and downloaded with a private apt
# configuration for bookworm/arm64 (with bookworm-updates and
# bookworm-security, as the host has them) that reuses the machine's own
# Debian mirrors (tests/vm/debian-apt.sh, as the VM kernels are) and
# unpacked with dpkg-deb -x: nothing is installed on the host, and the
# host's apt state is never touched. The directory also holds `packages`
# ("NAME VERSION" per line), which is what the initramfs cache key hashes.
#
# bookworm-security matters for rsync: bookworm's own 3.2.7-1+deb12u5 and
# u6 carry a security fix (upstream 3.4.3's) whose receiver rejects the
# mode-0 entries --delete-missing-args sends for names that are gone
# ("invalid file mode 00", exit 2, nothing copied): the snapshot recipe
# then fails in every round in which a page listed in last/changes was
# freed. bookworm-security's 3.5.0 has the fix (upstream 3.4.4).
#
# The cache lives in ${SDFS_VM_CACHE:-/var/tmp/sdfs-vm-cache}/cross-arm64:
# sysroot is a link to the current KEY directory (KEY from the package
# names and versions), the newest two are kept. A complete
# sysroot is reused without asking apt anything; --refresh (or
# SDFS_VM_REFRESH=1) resolves the newest versions again.
#
# Needs: apt, dpkg, flock (util-linux), debian-archive-keyring.

set -euo pipefail

CACHE=${SDFS_VM_CACHE:-/var/tmp/sdfs-vm-cache}
REFRESH=${SDFS_VM_REFRESH:-0}

# shellcheck disable=SC2034 # read by debian-apt.sh
TOOL=fetch-sysroot
# shellcheck source=SCRIPTDIR/../debian-apt.sh
. "$(dirname "${BASH_SOURCE[0]}")/../debian-apt.sh"

# What the cross build links against (the -dev packages: headers, .pc
# files, .so links) and what the guest runs: the C library, busybox and
# dash, fusermount3 and mount.fuse3, util-linux mount/umount, rsync, GNU cp, and
# every shared library those need. A library missing here is reported by
# mkinitramfs.sh with its soname.
PACKAGES=(
	# the cross build: glib, libfuse3 (pcre2: glib-2.0.pc requires it)
	libglib2.0-dev libglib2.0-0 libpcre2-dev libpcre2-8-0
	libfuse3-dev libfuse3-3
	# the C library and libgcc_s (glibc loads it for pthread_cancel)
	libc6 libgcc-s1
	# the guest's base: busybox for the applets, dash as /bin/sh
	busybox-static dash
	# fusermount3, mount.fuse3; util-linux mount and umount
	fuse3 mount libmount1 libblkid1 libselinux1
	# rsync (the snapshot tests) and its libraries
	rsync libacl1 libpopt0 liblz4-1 libzstd1 libxxhash0 libssl3 zlib1g
	# GNU cp (the last/image tests copy with --sparse=always)
	coreutils libattr1 libgmp10
)

# The private apt configuration: suite, architecture, the suites added to
# it (debian-apt.sh's private_apt). Part of the cache key.
SUITES=(bookworm arm64 bookworm-updates bookworm-security)

# Rewrite the absolute symlinks under ROOT as relative ones, so that they
# resolve inside ROOT on the host (cp -L, the linker's -rpath-link).
relativize_links() {
	local root=$1 link target
	while IFS= read -r -d '' link; do
		target=$(readlink "$link")
		ln -sfn "$(realpath -m --relative-to="$(dirname "$link")" "$root$target")" "$link"
	done < <(find "$root" -type l -lname '/*' -print0)
}

main() {
	while (($#)); do
		case $1 in
		--refresh) REFRESH=1 ;;
		-h | --help) sed -n '2,/^$/s/^# \{0,1\}//p' "$0"; exit 0 ;;
		*) die "unknown argument $1" ;;
		esac
		shift
	done
	debian_cache_lock

	local key top=$CACHE/cross-arm64
	local link=$top/sysroot
	mkdir -p "$top"
	key=$(printf '%s\n' "${PACKAGES[@]}" "suites: ${SUITES[*]}" | sha256sum | cut -c1-16)
	if [[ $REFRESH != 1 && -e $link/packages && $(readlink "$link") == arm64-$key-* ]]; then
		readlink -f "$link"
		return
	fi

	private_apt "${SUITES[@]}"
	local p v pins=() lines=()
	for p in "${PACKAGES[@]}"; do
		v=$(apt-cache "${APT_OPTS[@]}" policy "$p" | awk '$1 == "Candidate:" { print $2; exit }')
		[[ -n $v && $v != "(none)" ]] || die "bookworm/arm64 (${SUITES[*]:2}) has no package $p"
		pins+=("$p=$v")
		lines+=("$p $v")
	done
	local vkey dir
	vkey=$(printf '%s\n' "${lines[@]}" | sha256sum | cut -c1-16)
	dir=$top/arm64-$key-$vkey
	if [[ ! -e $dir/packages ]]; then
		local dl=$top/download deb
		rm -rf "$dl" "$dir.tmp"
		mkdir -p "$dl" "$dir.tmp"
		chown _apt "$dl" 2>/dev/null || true
		log "downloading ${#pins[@]} bookworm/arm64 packages"
		(cd "$dl" && apt-get "${APT_OPTS[@]}" -q download "${pins[@]}" >&2) ||
			die "apt-get download of the arm64 packages failed"
		for deb in "$dl"/*.deb; do
			dpkg-deb -x "$deb" "$dir.tmp"
		done
		relativize_links "$dir.tmp"
		printf '%s\n' "${lines[@]}" >"$dir.tmp/packages"
		rm -rf "$dl" "$dir"
		mv "$dir.tmp" "$dir"
		log "sysroot $dir: $(du -sm "$dir" | cut -f1) MB"
	fi
	touch "$dir"
	ln -sfn "${dir##*/}" "$link.new"
	mv -T "$link.new" "$link"
	# Keep the newest two sysroots.
	find "$top" -mindepth 1 -maxdepth 1 -type d -name 'arm64-*' \
		! -name '*.tmp' -printf '%T@ %p\n' | sort -rn | tail -n +3 |
		cut -d' ' -f2- | xargs -r rm -rf
	printf '%s\n' "$dir"
}

main "$@"
