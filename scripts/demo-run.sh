#!/bin/sh
# The demo itself (POSIX sh: it also runs in the VM's busybox):
#   mount sdfs, start a writer, clear, let it write, show dirty_ranges and
#   status, take an rsync snapshot with last/changes, show its size, unmount.
# usage: demo-run.sh SDFS_BINARY WRITER_BINARY [MIB]
set -eu
SDFS=$1
WRITER=$2
MIB=${3:-64}
MNT=$(mktemp -d /tmp/sdfs-demo-mnt.XXXXXX)
SNAP=$(mktemp -d /tmp/sdfs-demo-snap.XXXXXX)
OUT=$(mktemp /tmp/sdfs-demo-out.XXXXXX)
DPID= WPID=

cleanup() {
	if grep -q " $MNT fuse" /proc/mounts; then
		fusermount3 -u "$MNT" 2>/dev/null || umount "$MNT" 2>/dev/null || true
	fi
	[ -n "$WPID" ] && kill "$WPID" 2>/dev/null
	[ -n "$DPID" ] && wait "$DPID" 2>/dev/null
	rm -rf "$MNT" "$SNAP" "$OUT"
}
trap cleanup EXIT INT TERM

step() { printf '\n$ %s\n' "$*"; }

step "$SDFS --probe"
"$SDFS" --probe
step "$SDFS -f $MNT &"
"$SDFS" -f "$MNT" &
DPID=$!
i=0
until grep -q " $MNT fuse.sdfs " /proc/mounts; do
	i=$((i + 1))
	if [ $i -gt 100 ] || ! kill -0 "$DPID" 2>/dev/null; then
		echo "demo: sdfs did not mount" >&2
		exit 1
	fi
	sleep 0.1
done

step "$WRITER $MIB 8 100 &      # $MIB MiB, writes 8 pages every 100 ms"
"$WRITER" "$MIB" 8 100 >"$OUT" &
WPID=$!
until [ -s "$OUT" ]; do sleep 0.05; done
read -r PID ADDR SIZE <"$OUT"
echo "writer: pid $PID, buffer at $ADDR, $SIZE bytes"
D=$MNT/$PID

L=$D/last
round() { # one round of the snapshot recipe into $SNAP
	rsync -a --ignore-times --files-from="$L/changes" --delete-missing-args \
		"$L/pages/" "$SNAP/"
}

step "echo 1 > $D/clear           # epoch 0 -> 1: captures every page"
echo 1 >"$D/clear"
step "rsync -a --ignore-times --files-from=$L/changes --delete-missing-args $L/pages/ $SNAP/   # round 0: a full copy"
round
echo "$(ls "$SNAP" | wc -l) pages, $(du -sk "$SNAP" | cut -f1) KiB"

step "sleep 1; cat $D/dirty_ranges"
sleep 1
cat "$D/dirty_ranges"
step "cat $D/status"
cat "$D/status"

step "echo 1 > $D/clear; rsync ... $SNAP/   # round 1: incremental"
echo 1 >"$D/clear"
echo "to copy or delete: $(wc -l <"$L/changes") pages"
round
step "cat $L/dirty_ranges   # written in round 1"
cat "$L/dirty_ranges"
step "cat $L/dropped_ranges   # gone since round 0 (with round 0's copies of file pages)"
cat "$L/dropped_ranges"
cp "$L/maps" "$SNAP.maps"
echo "snapshot: $(ls "$SNAP" | wc -l) pages, $(du -sk "$SNAP" | cut -f1) KiB in $SNAP (mappings: $SNAP.maps)"

step "fusermount3 -u $MNT"
kill "$WPID"
WPID=
fusermount3 -u "$MNT" || umount "$MNT"
wait "$DPID"
DPID=
echo "demo: done"
