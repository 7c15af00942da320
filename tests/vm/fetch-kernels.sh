#!/bin/bash
# fetch-kernels.sh — fetch and unpack the Debian kernels the VM tests boot.
#
#   tests/vm/fetch-kernels.sh [--refresh] [--with-modules M1,M2...] [LABEL...]
#
# LABEL is one of:
#   6.1         bookworm's cloud kernel (amd64), resolved with the machine's
#               own apt configuration
#   6.12        bookworm-backports' cloud kernel (amd64), resolved with a
#               private apt configuration (see private_apt below)
#   6.12-arm64  bookworm-backports' cloud kernel for arm64 (exploration only)
# Default: 6.1 6.12.
#
# For each label it prints one line "LABEL DIR" on stdout; progress goes to
# stderr. With --with-modules the line goes on with the module files
# (paths relative to DIR/root, decompressed) that loading those modules
# needs, dependencies first, leaving out what modules.load already loads:
# "LABEL DIR kernel/lib/libcrc32c.ko ... kernel/net/netfilter/nf_tables.ko".
# DIR holds:
#   vmlinuz        the kernel image
#   config         the kernel's build configuration
#   release        its `uname -r`
#   fuse           "builtin" or "module"
#   modules.load   modules to insmod in this order, paths relative to DIR/root
#   root/          the package contents (dpkg-deb -x), modules decompressed
#   package        "NAME VERSION" of the .deb it came from
#
# The cache lives in ${SDFS_VM_CACHE:-/var/tmp/sdfs-vm-cache}. A label whose
# directory is complete is reused without asking apt anything, so the tests
# run offline once the cache is filled; --refresh (or SDFS_VM_REFRESH=1)
# resolves the newest package again. Kernels are never installed on the host.
#
# Needs: apt, dpkg, xz-utils and zstd (only if the modules are compressed),
# flock (util-linux), debian-archive-keyring.

set -euo pipefail

CACHE=${SDFS_VM_CACHE:-/var/tmp/sdfs-vm-cache}
REFRESH=${SDFS_VM_REFRESH:-0}

TOOL=fetch-kernels
# shellcheck source=debian-apt.sh
. "$(dirname "${BASH_SOURCE[0]}")/debian-apt.sh"

# Print the kernel image package that metapackage $1 depends on.
resolve_meta() {
	local meta=$1 pkg
	pkg=$(apt-cache "${APT_OPTS[@]}" depends "$meta" 2>/dev/null |
		awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9]/ { print $2; exit }')
	[[ -n $pkg ]] || die "cannot resolve $meta to a linux-image package (apt-cache depends $meta found none)"
	printf '%s\n' "$pkg"
}

# --- unpacking ---------------------------------------------------------------

# Decompress a .ko.xz / .ko.zst / .ko.gz in place (busybox insmod in the
# guest wants a plain .ko, and the kernel may lack in-kernel decompression).
decompress_module() {
	local f=$1
	case $f in
	*.ko.xz)
		command -v xz >/dev/null || die "xz is needed to decompress $f: apt-get install xz-utils"
		xz -d -f "$f" ;;
	*.ko.zst)
		command -v zstd >/dev/null || die "zstd is needed to decompress $f: apt-get install zstd"
		zstd -q -d --rm -f "$f" ;;
	*.ko.gz) gzip -d -f "$f" ;;
	esac
}

# Print the path (relative to ROOT) of module NAME, decompressed.
find_module() {
	local root=$1 name=$2 f alt
	alt=${name//_/-}
	f=$(cd "$root" && find lib usr/lib -path '*/kernel/*' \
		\( -name "$name.ko*" -o -name "$alt.ko*" \) 2>/dev/null | head -n 1)
	[[ -n $f ]] || return 1
	decompress_module "$root/$f"
	printf '%s\n' "${f%.ko*}.ko"
}

# The depends= entry of a module's .modinfo, read without modinfo(8).
module_depends() {
	tr '\0' '\n' <"$1" | sed -n 's/^depends=//p' | head -n 1 | tr ',' ' '
}

# Print NAME's module path and those of everything it depends on,
# dependencies first, each once.
module_closure() {
	local root=$1 name=$2 path dep
	path=$(find_module "$root" "$name") || die "module $name not found in the kernel package"
	for dep in $(module_depends "$root/$path"); do
		module_closure "$root" "$dep"
	done
	printf '%s\n' "$path"
}

# Unpack DEB into DIR and lay out the files described at the top.
unpack_kernel() {
	local deb=$1 dir=$2
	local release config
	rm -rf "$dir.tmp"
	mkdir -p "$dir.tmp/root"
	dpkg-deb -x "$deb" "$dir.tmp/root"
	printf '%s %s\n' "$(dpkg-deb -f "$deb" Package)" "$(dpkg-deb -f "$deb" Version)" >"$dir.tmp/package"
	config=$(find "$dir.tmp/root/boot" -name 'config-*' | head -n 1)
	[[ -n $config ]] || die "$deb has no /boot/config-*"
	release=${config##*/config-}
	printf '%s\n' "$release" >"$dir.tmp/release"
	ln -s "root/boot/config-$release" "$dir.tmp/config"
	local image
	image=$(find "$dir.tmp/root/boot" -name "vmlinu[xz]-$release" | head -n 1)
	[[ -n $image ]] || die "$deb has no /boot/vmlinuz-$release"
	ln -s "root/boot/${image##*/}" "$dir.tmp/vmlinuz"

	# FUSE: built in, or a module plus whatever it depends on.
	: >"$dir.tmp/modules.load"
	if grep -q '^CONFIG_FUSE_FS=y' "$config"; then
		echo builtin >"$dir.tmp/fuse"
	elif grep -q '^CONFIG_FUSE_FS=m' "$config"; then
		echo module >"$dir.tmp/fuse"
		module_closure "$dir.tmp/root" fuse | awk '!seen[$0]++' >"$dir.tmp/modules.load"
	else
		die "$release has no FUSE (CONFIG_FUSE_FS unset)"
	fi
	rm -rf "$dir"
	mv "$dir.tmp" "$dir"
}

# --- one label ---------------------------------------------------------------

# Print the candidate version of package $1.
candidate() {
	apt-cache "${APT_OPTS[@]}" policy "$1" | awk '$1 == "Candidate:" { print $2; exit }'
}

# Download package $1 version $2 and unpack it into $3. Returns non-zero
# (after saying why) when apt cannot download it.
download_kernel() {
	local pkg=$1 version=$2 dir=$3
	local dl=$CACHE/download deb
	rm -rf "$dl"
	mkdir -p "$dl"
	# apt drops privileges to _apt for downloads; let it write here.
	chown _apt "$dl" 2>/dev/null || true
	log "downloading $pkg $version"
	if ! (cd "$dl" && apt-get "${APT_OPTS[@]}" -q download "$pkg=$version" >&2); then
		log "apt-get download $pkg=$version failed"
		return 1
	fi
	deb=$(find "$dl" -name '*.deb' | head -n 1)
	[[ -n $deb ]] || die "apt-get download $pkg left no .deb"
	log "unpacking $pkg into $dir"
	unpack_kernel "$deb" "$dir"
	rm -rf "$dl"
}

fetch_label() {
	local label=$1 meta suite arch
	case $label in
	6.1) meta=linux-image-cloud-amd64 suite='' arch=amd64 ;;
	6.12) meta=linux-image-cloud-amd64 suite=bookworm-backports arch=amd64 ;;
	6.12-arm64) meta=linux-image-cloud-arm64 suite=bookworm-backports arch=arm64 ;;
	*) die "unknown kernel '$label' (known: 6.1 6.12 6.12-arm64)" ;;
	esac

	if [[ -e $CACHE/$label/vmlinuz && $REFRESH != 1 ]]; then
		print_label "$label" "$(readlink -f "$CACHE/$label")"
		return
	fi

	if [[ -n $suite ]]; then
		private_apt "$suite" "$arch"
	else
		host_apt "$meta"
	fi
	local pkg version dir try
	for try in 1 2; do
		pkg=$(resolve_meta "$meta")
		# The bookworm kernel must really be a 6.1 and backports' a 6.12:
		# a silently different kernel would make the test names lie.
		case $label in
		6.1) [[ $pkg == linux-image-6.1.* ]] || die "$meta resolved to $pkg, not a 6.1 kernel" ;;
		6.12*) [[ $pkg == linux-image-6.12.* ]] || die "$meta (bookworm-backports) resolved to $pkg, not a 6.12 kernel" ;;
		esac
		version=$(candidate "$pkg")
		[[ -n $version ]] || die "apt has no candidate version of $pkg"
		dir=$CACHE/kernels/${pkg}_$version
		if [[ -e $dir/vmlinuz ]] || download_kernel "$pkg" "$version" "$dir"; then
			break
		fi
		# Stale lists name a package the archive has dropped since: fetch
		# them again once.
		((try == 1)) || die "cannot download the $label kernel ($pkg $version)"
		log "refreshing the package lists and trying again"
		if [[ -n $suite ]]; then
			rm -f "$CACHE/apt-$suite-$arch/updated"
			private_apt "$suite" "$arch"
		else
			apt-get -q update >&2 || die "apt-get update failed"
		fi
	done
	ln -sfn "kernels/${dir##*/}" "$CACHE/$label.new"
	mv -T "$CACHE/$label.new" "$CACHE/$label"
	log "$label: $(cat "$dir/package"), release $(cat "$dir/release"), fuse $(cat "$dir/fuse")"
	print_label "$label" "$dir"
}

# The output line of one label: "LABEL DIR" and the files of the
# --with-modules modules (with their dependencies, each once, none that
# modules.load has).
print_label() {
	local label=$1 dir=$2 m list builtin
	local mods=()
	builtin=$dir/root/lib/modules/$(cat "$dir/release")/modules.builtin
	for m in "${WITH_MODULES[@]}"; do
		# built into the kernel: nothing to load
		if [[ -r $builtin ]] && grep -qE "/(${m}|${m//_/-})\.ko\$" "$builtin"; then
			continue
		fi
		list=$(module_closure "$dir/root" "$m") || exit 1
		while IFS= read -r m; do mods+=("$m"); done <<<"$list"
	done
	printf '%s %s' "$label" "$dir"
	if ((${#mods[@]})); then
		# (an empty modules.load, FUSE built in, is no awk NR == FNR file)
		printf '%s\n' "${mods[@]}" | { grep -vxF -f "$dir/modules.load" || true; } |
			awk '!seen[$0]++ { printf " %s", $0 }'
	fi
	printf '\n'
}

main() {
	local labels=()
	WITH_MODULES=()
	while (($#)); do
		case $1 in
		--refresh) REFRESH=1 ;;
		--with-modules)
			[[ $# -ge 2 && $2 =~ ^[A-Za-z0-9_,-]+$ ]] || die "--with-modules wants NAME,NAME..."
			IFS=, read -r -a WITH_MODULES <<<"$2"
			shift ;;
		-h | --help) sed -n '2,/^$/s/^# \{0,1\}//p' "$0"; exit 0 ;;
		-*) die "unknown option $1" ;;
		*) labels+=("$1") ;;
		esac
		shift
	done
	((${#labels[@]})) || labels=(6.1 6.12)

	debian_cache_lock

	local label
	for label in "${labels[@]}"; do
		fetch_label "$label"
	done
}

main "$@"
