#!/bin/bash
# cross-build.sh — build sdfs for arm64 with meson and Debian's cross
# toolchain.
#
#   tests/vm/arm64/cross-build.sh BUILDDIR [TARGET...]
#
# Fetches the arm64 sysroot (fetch-sysroot.sh: glib, libfuse3 and what the
# guest runs, from Debian's archive, never installed), configures BUILDDIR
# with the cross file cross.ini (warnings are errors, as in every build of
# this project) and runs ninja for TARGETs (paths in the build directory,
# e.g. mountd/sdfs tests/integration/sdfs_itest), or for everything without
# any. An existing BUILDDIR is reused (ninja only), unless the sysroot has
# changed since it was configured. Quiet unless something fails; the
# compiler's output is in BUILDDIR/cross-build.log.
#
# Environment: SDFS_CROSS_MESON_ARGS, more `meson setup` arguments (split
# on spaces), and what fetch-sysroot.sh reads (SDFS_VM_CACHE).
#
# Needs: gcc-aarch64-linux-gnu, libc6-dev-arm64-cross, meson, ninja-build,
# pkg-config.

set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SRC=$(cd "$HERE/../../.." && pwd)

die() { printf 'cross-build: error: %s\n' "$*" >&2; exit 1; }

main() {
	case ${1:-} in
	'' | -*) sed -n '2,/^$/s/^# \{0,1\}//p' "$0"; [[ ${1:-} == -h || ${1:-} == --help ]]; exit ;;
	esac
	local dir=$1
	shift
	command -v aarch64-linux-gnu-gcc >/dev/null ||
		die "aarch64-linux-gnu-gcc not found: apt-get install gcc-aarch64-linux-gnu libc6-dev-arm64-cross"
	[[ -e /usr/aarch64-linux-gnu/include/stdio.h ]] ||
		die "the arm64 C library headers are missing: apt-get install libc6-dev-arm64-cross"

	local sysroot
	sysroot=$("$HERE/fetch-sysroot.sh") || die "the arm64 sysroot could not be fetched (see above)"

	mkdir -p "$dir"
	dir=$(cd "$dir" && pwd)
	# Tests that share a build directory build it one at a time.
	exec 8>"$dir/.cross-build.lock"
	flock 8

	# The sysroot's path, for cross.ini (a constant of an earlier cross file).
	local ini=$dir/sysroot.ini want
	want=$(printf "# written by tests/vm/arm64/cross-build.sh\n[constants]\nsysroot = '%s'\n" "$sysroot")
	# Configured against another sysroot, or half configured: start again.
	if [[ ! -e $dir/build.ninja || $(cat "$ini" 2>/dev/null) != "$want" ]]; then
		find "$dir" -mindepth 1 -maxdepth 1 ! -name .cross-build.lock -exec rm -rf {} +
	fi
	local log=$dir/cross-build.log
	if [[ ! -e $dir/build.ninja ]]; then
		printf '%s\n' "$want" >"$ini"
		# shellcheck disable=SC2086 # a word list on purpose
		if ! meson setup "$dir" "$SRC" --cross-file "$ini" --cross-file "$HERE/cross.ini" \
			-Dwerror=true ${SDFS_CROSS_MESON_ARGS:-} >"$log" 2>&1; then
			cat "$log" >&2
			rm -f "$dir/build.ninja"  # start again next time
			die "meson setup of the arm64 build failed"
		fi
	fi
	if ! ninja -C "$dir" "$@" >"$log" 2>&1; then
		cat "$log" >&2
		die "the arm64 build failed"
	fi
}

main "$@"
