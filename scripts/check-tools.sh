#!/usr/bin/env bash
# check-tools.sh — every external program the scripts and test suites run
# comes from a package scripts/deps.sh installs (or from a package every
# Debian system has: Essential, Priority required, apt), so the README's
# commands work on a bare bookworm. dpkg/apt database look-ups only (~1 s).
#
# TOOLS below is the list of programs, checked with `dpkg -S`. To keep the
# list honest, the words of every shell script and meson.build (comments
# left out) that name an installed program are checked too: one that comes
# from neither the base nor deps.sh's packages and is not in TOOLS or
# NOT_COMMANDS fails the check. Programs the C tests run by name (rsync,
# fusermount3, sh) are in TOOLS by hand.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

TOOLS=(
	# build
	meson ninja gcc cc pkg-config
	# mounts (tests, demo, VM guests)
	fusermount3 mount.fuse3 mount.fuse mount umount rsync sh
	# VM suite: tests/vm/*.sh
	qemu-system-x86_64 busybox dash cpio gzip xz zstd apt-get apt-cache dpkg-deb flock ldd
	# sanitizers, fuzzing, memcheck, cross-compile
	clang valgrind aarch64-linux-gnu-gcc
	# test tooling (test counts, debugging, helper scripts)
	python3 gdb perl
	# the Debian package stage; the fresh-root stage
	dpkg-buildpackage dh dh_auto_configure lintian dpkg mmdebstrap chroot mountpoint tar
)
# Words of the scripts that happen to name installed programs but are not
# run on this machine: busybox applets of the VM guest's /init, words of
# messages, and trixie's valgrind.bin (unpacked by
# tests/valgrind/fetch-valgrind.sh, not installed). Shell builtins are
# never looked up.
NOT_COMMANDS=(as dir file git init ip ifconfig hostname poweroff kvm opt man size valgrind.bin)
# Programs are looked up where Debian's packages put them (not in
# /usr/local or a user's shims).
SYSPATH=/usr/sbin:/usr/bin:/sbin:/bin

mapfile -t PACKAGES < <(./scripts/deps.sh --list)
# deps.sh's packages and everything they depend on
declare -A provided=()
while read -r p; do
	provided[${p%%:*}]=1
done < <(apt-cache depends --recurse --installed --no-recommends --no-suggests \
	--no-conflicts --no-breaks --no-replaces --no-enhances "${PACKAGES[@]}" 2>/dev/null |
	grep -v -e '^ ' -e '^<')

# The package owning program $1 (empty if none); usrmerge means dpkg may
# know /bin/x for /usr/bin/x and the other way round.
owner() {
	local p c pkg
	p=$(PATH=$SYSPATH type -P "$1") || return 1
	for c in "$p" "$(readlink -f "$p")"; do
		for c in "$c" "${c#/usr}" "/usr$c"; do
			pkg=$(dpkg -S "$c" 2>/dev/null | grep -v '^diversion' | head -n 1) || continue
			[[ -n $pkg ]] && { printf '%s\n' "${pkg%%:*}" | cut -d, -f1; return 0; }
		done
	done
	echo
}

# Essential or Priority required; and apt, which deps.sh itself runs (in
# the archive it is Priority important, but no Debian system lacks it)
is_base() {
	[[ $1 == apt ]] && return 0
	[[ $(dpkg-query -W -f='${Essential} ${Priority}' "$1" 2>/dev/null) =~ ^yes|required$ ]]
}

bad=0
declare -A listed=()
for t in "${TOOLS[@]}" "${NOT_COMMANDS[@]}"; do listed[$t]=1; done
for t in "${TOOLS[@]}"; do
	if ! PATH=$SYSPATH type -P "$t" >/dev/null; then
		echo "check-tools: $t: not installed (scripts/deps.sh should install it)"
		bad=1
		continue
	fi
	pkg=$(owner "$t")
	pkg=${pkg%%:*}
	if [[ -z $pkg ]]; then
		echo "check-tools: $t ($(PATH=$SYSPATH type -P "$t")): no package owns it"
		bad=1
	elif [[ -z ${provided[$pkg]:-} ]] && ! is_base "$pkg"; then
		echo "check-tools: $t comes from $pkg, which scripts/deps.sh does not install"
		bad=1
	fi
done

# The scan: words of the scripts that name programs outside the base.
mapfile -t files < <(find meson.build scripts .ci tests sdfs mountd man debian -type f \
	\( -name '*.sh' -o -name meson.build -o -name rules -o -path 'scripts/*' -o -path '.ci/*' \) \
	-not -name '*.py' 2>/dev/null)
while read -r w; do
	[[ -n ${listed[$w]:-} ]] && continue
	[[ $(type -t "$w") == @(builtin|keyword) ]] && continue
	PATH=$SYSPATH type -P "$w" >/dev/null || continue
	pkg=$(owner "$w")
	pkg=${pkg%%:*}
	[[ -n $pkg ]] && is_base "$pkg" && continue
	echo "check-tools: the scripts mention $w (from ${pkg:-no package}): add it to TOOLS in $0 (or to NOT_COMMANDS if it is not run here)"
	bad=1
done < <(sed -e 's/#.*//' "${files[@]}" | grep -oE '\b[a-z][a-z0-9_.+-]*[a-z0-9]\b' | sort -u)

if ((bad)); then
	exit 1
fi
echo "check-tools: ${#TOOLS[@]} programs, all from scripts/deps.sh's ${#PACKAGES[@]} packages or the base system"
