#!/bin/bash
# criu-vm.sh — CRIU side by side with sdfs, in a Debian 6.1 guest
# (soft-dirty), as sdfs-bench's CRIU rows (f). See tests/bench/README.md.
#
#   tests/bench/criu-vm.sh [--build DIR] [--kernel 6.1|6.12] [--size SIZE]
#       [--dirty LIST] [--runs N] [--smp N] [--timeout S] [--quick]
#       [-- SDFS-BENCH OPTIONS...]
#
# Fetches Debian's criu and the libraries the host lacks
# (tests/vm/fetch-criu.sh), boots the kernel with nf_tables (criu dies
# initialising nftables without it) and runs, in the guest:
#   sdfs-bench --criu /usr/sbin/criu --criu-only --backend soft-dirty
#       --criu-size SIZE --dirty LIST --patterns rand --runs N --tmp /tmp
#       --nullfs nullfs --floor-files 2000 --apply sdfs-apply
# (the FUSE-floor rows of nullfs in the same guest: what one page file
# costs a FUSE file system that does nothing)
# Defaults: --build build-bench (configure it with --buildtype=release,
# as for sdfs-bench), --kernel 6.1, --size 256M, --dirty 1,10,
# --runs 3, --smp 1, --timeout 3000 (5 to 10 minutes under TCG, most of
# it the rsync rounds at 10 %); --quick is 32M, 1,10, 1 run (about a
# minute: the harness, not the numbers).
#
# One virtual CPU by default: under TCG on a shared host, a wake-up of
# the other virtual CPU waits for the host's scheduler, and every FUSE
# round trip (two such wake-ups) then measures the host's load rather
# than the guest (measured at host load 16: 71-82 ms per page file that
# the rsync recipe copies with 2 vCPUs, 5-23 ms with one). --smp 2
# measures it anyway.
#
# Exits with sdfs-bench's code: 0 when the table was printed (whatever the
# numbers), 77 (SKIP) with a reason when criu cannot be fetched or sdfs
# cannot mount in the guest, 1 on a failure.

set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TOP=$(cd "$HERE/../.." && pwd)

die() { printf 'criu-vm: error: %s\n' "$*" >&2; exit 1; }

main() {
	local build=$TOP/build-bench kernel=6.1 size=256M dirty=1,10 runs=3 timeout=3000 smp=1 floor=2000
	local extra=()
	while (($#)); do
		case $1 in
		--build) build=$2; shift ;;
		--kernel) kernel=$2; shift ;;
		--size) size=$2; shift ;;
		--dirty) dirty=$2; shift ;;
		--runs) runs=$2; shift ;;
		--smp) smp=$2; shift ;;
		--timeout) timeout=$2; shift ;;
		--quick) size=32M dirty=1,10 runs=1 floor=200 ;;
		-h | --help) sed -n '2,/^$/s/^# \{0,1\}//p' "$0"; exit 0 ;;
		--) shift; extra=("$@"); break ;;
		*) die "unknown argument '$1'" ;;
		esac
		shift
	done
	local f
	for f in mountd/sdfs tools/sdfs-apply tests/bench/sdfs-bench tests/bench/bigwork tests/bench/nullfs; do
		[[ -x $build/$f ]] || die "$build/$f is missing: build first (meson setup $build --buildtype=release && ninja -C $build)"
	done

	local criu
	if ! criu=$("$HERE/../vm/fetch-criu.sh") || [[ ! -x $criu/usr/sbin/criu ]]; then
		echo "SKIP: criu cannot be fetched from Debian's archive (see above)"
		exit 77
	fi
	# GNU cp: busybox's has no --sparse.
	local cp
	cp=$(command -v cp)
	[[ $(readlink -f "$cp") != */busybox ]] || die "GNU cp (coreutils) is needed on the host"

	exec "$HERE/../vm/vm-run.sh" --kernel "$kernel" --timeout "$timeout" --smp "$smp" \
		--module nf_tables \
		--add "$criu:/" \
		--add "$cp:/usr/local/bin/cp" \
		--add "$build/mountd/sdfs:/usr/local/bin/sdfs" \
		--add "$build/tools/sdfs-apply:/usr/local/bin/sdfs-apply" \
		--add "$build/tests/bench/sdfs-bench:/usr/local/bin/sdfs-bench" \
		--add "$build/tests/bench/bigwork:/usr/local/bin/bigwork" \
		--add "$build/tests/bench/nullfs:/usr/local/bin/nullfs" \
		-- /usr/local/bin/sdfs-bench --sdfs /usr/local/bin/sdfs \
		--bigwork /usr/local/bin/bigwork --backend soft-dirty \
		--apply /usr/local/bin/sdfs-apply \
		--nullfs /usr/local/bin/nullfs --floor-files "$floor" \
		--criu /usr/sbin/criu --criu-only --criu-size "$size" \
		--dirty "$dirty" --patterns rand --runs "$runs" --tmp /tmp -v \
		"${extra[@]}"
}

main "$@"
