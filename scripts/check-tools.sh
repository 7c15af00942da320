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
	qemu-system-aarch64 readelf realpath aarch64-linux-gnu-strip
	# sanitizers, fuzzing, memcheck, cross-compile
	clang valgrind aarch64-linux-gnu-gcc
	# test tooling (test counts, debugging, helper scripts)
	python3 gdb perl
	# the Debian package stage; the fresh-root stage
	dpkg-buildpackage dh dh_auto_configure lintian dpkg mmdebstrap chroot mountpoint tar
)
# Words of the scripts that happen to name installed programs but are not
# run on this machine: busybox applets of the VM guest's /init, variable
# names (top) and words of
# messages or package lists, and trixie's valgrind.bin (unpacked by
# tests/valgrind/fetch-valgrind.sh, not installed). Shell builtins are
# never looked up.
NOT_COMMANDS=(adduser as debconf dir file git init install-info ip ifconfig hostname poweroff kvm opt man
	pkgconf qemu-system-arm size strip top valgrind.bin write)
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

# The words of the scripts that might be programs (comments left out).
mapfile -t files < <(find meson.build scripts .ci tests sdfs mountd man debian -type f \
	\( -name '*.sh' -o -name meson.build -o -name rules -o -path 'scripts/*' -o -path '.ci/*' \) \
	-not -name '*.py' 2>/dev/null)
mapfile -t words < <(sed -e 's/#.*//' "${files[@]}" | grep -oE '\b[a-z][a-z0-9_.+-]*[a-z0-9]\b' | sort -u)

# Where each program is, and every path dpkg may know it by (usrmerge:
# /bin/x for /usr/bin/x and the other way round; symlinks resolved).
declare -A where=() listed=()
for t in "${TOOLS[@]}" "${NOT_COMMANDS[@]}"; do listed[$t]=1; done
paths=()
for w in "${TOOLS[@]}" "${words[@]}"; do
	[[ -n ${where[$w]:-} ]] && continue
	[[ -z ${listed[$w]:-} || " ${TOOLS[*]} " == *" $w "* ]] || continue
	[[ $(type -t "$w") == @(builtin|keyword) ]] && continue
	p=$(PATH=$SYSPATH type -P "$w") || continue
	where[$w]="$p $(readlink -f "$p")"
	for c in ${where[$w]}; do paths+=("$c" "${c#/usr}" "/usr$c"); done
done
# one dpkg look-up for all of them, and one for the base packages
declare -A owner_of=() base=([apt]=1)
while IFS= read -r line; do
	[[ $line == diversion* ]] && continue
	pkg=${line%%: *}
	pkg=${pkg%%,*}
	owner_of[${line#*: }]=${pkg%%:*}
done < <(dpkg-query -S -- "${paths[@]}" 2>/dev/null)
# Essential or Priority required; and apt, which deps.sh itself runs (in
# the archive it is Priority important, but no Debian system lacks it)
while read -r pkg ess prio; do
	[[ $ess == yes || $prio == required ]] && base[$pkg]=1
done < <(dpkg-query -W -f='${Package} ${Essential} ${Priority}\n')

owner() { # the package of program $1, or nothing
	local c
	for c in ${where[$1]}; do
		for c in "$c" "${c#/usr}" "/usr$c"; do
			[[ -n ${owner_of[$c]:-} ]] && { echo "${owner_of[$c]}"; return; }
		done
	done
}

bad=0
for t in "${TOOLS[@]}"; do
	if [[ -z ${where[$t]:-} ]]; then
		echo "check-tools: $t: not installed (scripts/deps.sh should install it)"
		bad=1
		continue
	fi
	pkg=$(owner "$t")
	if [[ -z $pkg ]]; then
		echo "check-tools: $t (${where[$t]%% *}): no package owns it"
		bad=1
	elif [[ -z ${provided[$pkg]:-} && -z ${base[$pkg]:-} ]]; then
		echo "check-tools: $t comes from $pkg, which scripts/deps.sh does not install"
		bad=1
	fi
done

# The scan: words of the scripts that name programs outside the base.
for w in "${words[@]}"; do
	[[ -n ${listed[$w]:-} || -z ${where[$w]:-} ]] && continue
	pkg=$(owner "$w")
	[[ -n $pkg && -n ${base[$pkg]:-} ]] && continue
	echo "check-tools: the scripts mention $w (from ${pkg:-no package}): add it to TOOLS in $0 (or to NOT_COMMANDS if it is not run here)"
	bad=1
done

if ((bad)); then
	exit 1
fi
echo "check-tools: ${#TOOLS[@]} programs, all from scripts/deps.sh's ${#PACKAGES[@]} packages or the base system"
