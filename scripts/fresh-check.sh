#!/usr/bin/env bash
# fresh-check.sh — prove that scripts/deps.sh is complete: build a minimal
# bookworm root (mmdebstrap --variant=minbase: Essential packages and apt,
# nothing else) from this machine's own apt sources, copy this checkout
# into it, and inside it (chroot, /proc and /dev mounted) run
# scripts/deps.sh, the -Werror build and the unit suite. Prints the time of
# each step and the packages deps.sh installed. Run as root.
#
#   scripts/fresh-check.sh [--keep]     (--keep: leave the root in place)
#
# A stage of scripts/test-all.sh: measured on the 2-core CI machine with
# its near mirror, 70 s in all when idle (mmdebstrap 12 s, deps.sh 44 s
# for 365 packages, build 9 s, unit suite 2 s), 3.5-4.5 min under the load
# of other builds; the root takes 1.7 GB while it exists. With a slow
# mirror the download dominates.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
TOP=$PWD
KEEP=0
[[ ${1:-} == --keep ]] && KEEP=1
[[ $(id -u) == 0 ]] || { echo "fresh-check: run as root" >&2; exit 1; }
command -v mmdebstrap >/dev/null ||
	{ echo "fresh-check: mmdebstrap missing: run scripts/deps.sh" >&2; exit 1; }

# The machine's own apt sources, read now (deb822 or one-line style).
SOURCES=/etc/apt/sources.list.d/debian.sources
[[ -s $SOURCES ]] || SOURCES=/etc/apt/sources.list
[[ -s $SOURCES ]] || { echo "fresh-check: no apt sources on this machine" >&2; exit 1; }

step() { # NAME COMMAND...: run and time one step
	local name=$1 t0=$SECONDS
	shift
	printf '\n==== fresh-check: %s\n' "$name"
	"$@"
	printf '==== fresh-check: %s: %ds\n' "$name" $((SECONDS - t0))
	times+=("$(printf '%-34s %4ds' "$name" $((SECONDS - t0)))")
}
times=()

ROOT=
cleanup() {
	[[ -n $ROOT ]] || return 0
	local m
	for m in dev/pts dev proc; do
		mountpoint -q "$ROOT/$m" && umount "$ROOT/$m"
	done
	((KEEP)) && { echo "fresh-check: root kept in $ROOT"; return 0; }
	rm -rf --one-file-system "$ROOT"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

make_root() {
	ROOT=$(mktemp -d /var/tmp/sdfs-fresh.XXXXXX)
	# Options of the machine's apt that reach its archive (e.g. a snapshot
	# whose Release files are past Valid-Until) go into the root too.
	local f aptopts=()
	for f in /etc/apt/apt.conf.d/*; do
		grep -q '^Acquire::' "$f" 2>/dev/null && aptopts+=(--aptopt="$f")
	done
	mmdebstrap --quiet --variant=minbase --mode=root "${aptopts[@]}" \
		bookworm "$ROOT" "$SOURCES"
}

copy_tree() {
	mkdir -p "$ROOT/root/sdfs"
	# this checkout as it is, without its build trees and git metadata
	tar -C "$TOP" --exclude='./build*' --exclude=./.git -cf - . |
		tar -C "$ROOT/root/sdfs" -xf -
	cp /etc/resolv.conf "$ROOT/etc/resolv.conf"
	mount -t proc proc "$ROOT/proc"
	mount --bind /dev "$ROOT/dev"
	mount -t devpts -o newinstance devpts "$ROOT/dev/pts"
	chroot "$ROOT" dpkg-query -W -f='${Package}\n' | sort >"$ROOT/root/before"
}

in_root() { # COMMAND: run a bash command in /root/sdfs of the root
	chroot "$ROOT" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
		HOME=/root LC_ALL=C.UTF-8 TERM=dumb /bin/bash -c "cd /root/sdfs && $1"
}

step "mmdebstrap minbase bookworm" make_root
step "copy the checkout" copy_tree
step "scripts/deps.sh" in_root ./scripts/deps.sh
step "meson setup + ninja (-Werror)" in_root 'meson setup build -Dwerror=true >/dev/null && ninja -C build >/dev/null'
step "scripts/check-tools.sh" in_root ./scripts/check-tools.sh
step "meson test --suite unit" in_root 'meson test -C build --suite unit --print-errorlogs'

chroot "$ROOT" dpkg-query -W -f='${Package}\n' | sort >"$ROOT/root/after"
mapfile -t added < <(comm -13 "$ROOT/root/before" "$ROOT/root/after")
printf '\n==== fresh-check: packages\n'
echo "minbase root: $(wc -l <"$ROOT/root/before") packages; deps.sh added ${#added[@]}:"
echo "  asked for: $(in_root './scripts/deps.sh --list' | tr '\n' ' ')"
echo "  installed: ${added[*]}"
echo "  root size: $(du -sh --one-file-system "$ROOT" | cut -f1)"
printf '\n==== fresh-check: times\n'
printf '%s\n' "${times[@]}"
echo "fresh-check: ok"
