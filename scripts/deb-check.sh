#!/usr/bin/env bash
# deb-check.sh — the Debian package: build it (dpkg-buildpackage -us -uc -b
# in a copy of this checkout under /tmp), run lintian on it (errors fail),
# install it (dpkg -i, apt-get install -f for its dependencies), mount sdfs
# once with `mount -t fuse.sdfs` from the installed /usr/bin/sdfs against a
# sleeping process (status, clear, status), unmount, and remove the package
# (dpkg -r) so the machine is as before. Run as root.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
TOP=$PWD

die() { echo "deb-check: $*" >&2; exit 1; }
[[ $(id -u) == 0 ]] || die "run as root"
# mount.fuse3 looks in /usr/local/bin before /usr/bin
[[ ! -e /usr/local/bin/sdfs ]] ||
	die "/usr/local/bin/sdfs (meson install?) would be mounted instead of the package's; remove it first"
! dpkg-query -W -f='${Status}' sdfs 2>/dev/null | grep -q 'ok installed' ||
	die "the sdfs package is already installed; this check installs and removes it"

WORK=$(mktemp -d /tmp/sdfs-deb.XXXXXX)
MNT=$WORK/mnt
SLEEPER=
INSTALLED=0
cleanup() {
	mountpoint -q "$MNT" && umount "$MNT"
	[[ -n $SLEEPER ]] && kill "$SLEEPER" 2>/dev/null
	((INSTALLED)) && dpkg -r sdfs >/dev/null
	rm -rf "$WORK"
	return 0
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

# build, from a copy: dpkg-buildpackage writes into the tree and its parent
mkdir "$WORK/sdfs"
tar -C "$TOP" --exclude='./build*' --exclude=./.git -cf - . | tar -C "$WORK/sdfs" -xf -
(cd "$WORK/sdfs" && dpkg-buildpackage -us -uc -b) >"$WORK/build.log" 2>&1 ||
	{ tail -n 40 "$WORK/build.log"; die "dpkg-buildpackage failed"; }
deb=$(echo "$WORK"/sdfs_*_"$(dpkg --print-architecture)".deb)
[[ -f $deb ]] || die "no .deb was built"
echo "deb-check: built ${deb##*/} ($(stat -c %s "$deb") bytes)"
lintian --fail-on error --pedantic "$WORK"/sdfs_*.changes 2>&1 |
	grep -v 'running with root privileges' || true
lintian --fail-on error "$WORK"/sdfs_*.changes >/dev/null 2>&1 || die "lintian reports errors"

# install
INSTALLED=1
dpkg -i "$deb" >/dev/null 2>&1 ||
	DEBIAN_FRONTEND=noninteractive apt-get install -f -y -qq >/dev/null
dpkg-query -W -f='${Status}' sdfs | grep -q 'ok installed' || die "dpkg -i failed"
for f in /usr/bin/sdfs /usr/share/man/man5/sdfs.5.gz /usr/share/man/man8/sdfs.8.gz; do
	dpkg -L sdfs | grep -qx "$f" || die "the package lacks $f"
done

# mount from the installed binary, against a sleeping process
mkdir "$MNT"
sleep 600 &
SLEEPER=$!
mount -t fuse.sdfs sdfs "$MNT"
daemon=
for p in /proc/[0-9]*; do
	[[ $({ tr '\0' ' ' <"$p/cmdline"; } 2>/dev/null) == *" $MNT"* ]] || continue
	[[ $(readlink "$p/exe" 2>/dev/null) == /usr/bin/sdfs ]] && daemon=${p#/proc/}
done
[[ -n $daemon ]] || die "no /usr/bin/sdfs process serves $MNT"
status=$(cat "$MNT/$SLEEPER/status")
echo "$status" | sed 's/^/deb-check:   /'
grep -qx "pid: $SLEEPER" <<<"$status" || die "status does not name pid $SLEEPER"
grep -qx 'epoch: 0' <<<"$status" || die "a new target is not at epoch 0"
echo 1 >"$MNT/$SLEEPER/clear"
grep -qx 'epoch: 1' "$MNT/$SLEEPER/status" || die "the clear did not start epoch 1"
umount "$MNT"
echo "deb-check: mount -t fuse.sdfs from /usr/bin/sdfs (pid $daemon): status, clear, umount: ok"

# remove
dpkg -r sdfs >/dev/null
INSTALLED=0
[[ ! -e /usr/bin/sdfs ]] || die "/usr/bin/sdfs is still there after dpkg -r"
echo "deb-check: package removed"
