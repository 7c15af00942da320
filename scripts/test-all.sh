#!/usr/bin/env bash
# The README's second command: install what is needed, build with
# warnings as errors, and run every test suite:
#   0. every program the scripts and suites run comes from a package
#      scripts/deps.sh installs (scripts/check-tools.sh), and deps.sh,
#      the build and the unit suite in a minimal bookworm root made with
#      mmdebstrap (scripts/fresh-check.sh);
#   1. unit, uffd, integration (host kernel), vm (Debian 6.1 and 6.12
#      kernels under qemu), fuzz replay -- in a -Werror build;
#   2. unit, uffd, integration, security, fault and stress tests under
#      ASan+UBSan (daemon and tests instrumented);
#   3. valgrind memcheck: the integration suite with the daemon under
#      memcheck (trixie's valgrind, see tests/valgrind/fetch-valgrind.sh),
#      and the unit programs and parser corpora;
#   4. libFuzzer smoke runs (clang);
#   5. arm64: the whole tree cross-built (-Werror) against Debian's arm64
#      glib and libfuse3, and the vm tests of the arm64 guest (suite arm64:
#      the probe, syscall injection, the integration suite and kill -9
#      with the uffd backend under Debian's 6.12 arm64 kernel);
#   6. the Debian package: built, lintian, installed, mounted once with
#      mount -t fuse.sdfs, removed (scripts/deb-check.sh).
# Ends with one line "sdfs: N passed, N failed, N skipped" (TAP subtests
# of every suite, counted from meson's logs). Run as root.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
TOP=$PWD
export LC_ALL=C.UTF-8

./scripts/deps.sh
printf '==== scripts/deps.sh: ok (%ds)\n' "$SECONDS"

failed_stages=()
logs=()
stage() {
	local name=$1
	shift
	printf '\n==== %s\n' "$name"
	local t0=$SECONDS
	if "$@"; then
		printf '==== %s: ok (%ds)\n' "$name" $((SECONDS - t0))
	else
		printf '==== %s: FAILED (%ds)\n' "$name" $((SECONDS - t0))
		failed_stages+=("$name")
	fi
}

setup() { # DIR ARGS...: a fresh build directory
	local dir=$1
	shift
	rm -rf "$dir"
	meson setup "$dir" -Dwerror="${WERROR:-true}" "$@" >"$dir.setup.log" 2>&1 ||
		{ cat "$dir.setup.log"; return 1; }
	ninja -C "$dir" >"$dir.build.log" 2>&1 || { cat "$dir.build.log"; return 1; }
}

mtest() { # DIR SUITES... (-NAME: leave suite NAME out)
	local dir=$1
	shift
	local args=()
	for s in "$@"; do
		if [[ $s == -* ]]; then args+=(--no-suite "${s#-}"); else args+=(--suite "$s"); fi
	done
	# a log of its own: a later run in the same build directory (the
	# arm64 stage) would overwrite testlog.json before it is counted
	local base
	base=testlog-$(IFS=-; echo "${*#-}")
	logs+=("$dir/meson-logs/$base.json")
	meson test -C "$dir" --print-errorlogs --logbase "$base" "${args[@]}"
}

mtest_names() { # DIR LOGBASE TEST NAMES... (meson ANDs names with --suite)
	local dir=$1 base=$2
	shift 2
	logs+=("$dir/meson-logs/$base.json")
	meson test -C "$dir" --print-errorlogs --logbase "$base" "$@"
}

main_build() {
	# the arm64 guest's vm tests have their own stage (the last)
	setup build-ci && mtest build-ci unit uffd integration stress vm bench-smoke -arm64
}

asan_build() {
	setup build-asan -Db_sanitize=address,undefined -Db_lundef=false &&
		ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
		UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
			mtest build-asan unit uffd &&
		ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
		UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
			mtest_names build-asan asan-integration integration &&
		ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 \
		UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
			mtest_names build-asan asan-security security &&
		ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
		UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
			mtest_names build-asan asan-stress faulttest stress
}
# security runs without LeakSanitizer: its agents are forked children of
# the test that exit with the test's allocations still live.

valgrind_daemon() {
	# the daemon under memcheck through the whole integration suite; a
	# daemon that exits with memory errors or definite/indirect leaks
	# (--error-exitcode) fails the test that mounted it
	local vg
	vg=$(tests/valgrind/fetch-valgrind.sh) || return 1
	logs+=("build-ci/meson-logs/valgrind-daemon.json")
	SDFS_DAEMON_WRAPPER="$vg --error-exitcode=99 --leak-check=full --show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite,indirect" \
		meson test -C build-ci --print-errorlogs --logbase valgrind-daemon \
		--timeout-multiplier 10 integration
}

valgrind_run() {
	# memcheck over the engine's and the daemon's pure code (dirty sets,
	# inode encoding, rendering, every parser through the fuzz corpora).
	# Not test-proc, whose self-checks read the process's own maps,
	# which valgrind changes ([stack]).
	local tests=(test-ranges test-setops test-inode test-render test-changetext)
	local t
	for t in $(meson test -C build-ci --list 2>/dev/null | sed -n 's|^sdfs:unit / \(replay-.*\)$|\1|p'); do
		tests+=("$t")
	done
	meson test -C build-ci --print-errorlogs --logbase valgrind \
		--timeout-multiplier 4 \
		--wrapper "valgrind --quiet --leak-check=full --show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite,indirect --error-exitcode=99" \
		"${tests[@]}"
	local rc=$?
	# meson names the log after the wrapper too
	logs+=("build-ci/meson-logs/valgrind-valgrind.json")
	return $rc
}

fuzz_smoke() {
	# warnings are judged by the gcc -Werror build above; clang is here
	# for libFuzzer (it warns about g_autofree-only variables)
	CC=clang WERROR=false setup build-fuzz -Dfuzz=true -Db_sanitize=address,undefined -Db_lundef=false &&
		mtest build-fuzz fuzz-smoke
}

cross_aarch64() {
	# A stage of its own, so that its cost (arm64 is emulated: TCG) and
	# a cross toolchain or sysroot problem show on their own line. The
	# arm64 tests cross-build what the guest runs into this directory;
	# building everything first proves the whole tree (unit tests, bench)
	# builds for arm64 too.
	local t0=$SECONDS
	tests/vm/arm64/cross-build.sh build-ci/tests/vm/arm64 || return 1
	echo "arm64 cross build (the whole tree, -Werror): $((SECONDS - t0))s"
	mtest build-ci arm64
}

stage "tools: every program comes from a package deps.sh installs" ./scripts/check-tools.sh
stage "fresh bookworm root: deps.sh, build, unit suite" ./scripts/fresh-check.sh
stage "build + unit, uffd, integration, vm suites (-Werror)" main_build
stage "ASan+UBSan: unit, uffd, integration, security, fault, stress" asan_build
stage "valgrind memcheck: the daemon through the integration suite" valgrind_daemon
stage "valgrind memcheck: unit programs and parser corpora" valgrind_run
stage "libFuzzer smoke" fuzz_smoke
stage "arm64: cross build, tests in an arm64 guest" cross_aarch64
stage "Debian package: build, lintian, install, mount, remove" ./scripts/deb-check.sh

python3 "$TOP/scripts/count-tests.py" "${logs[@]}"
printf 'test-all: %ds in all (deps.sh included)\n' "$SECONDS"
if ((${#failed_stages[@]})); then
	printf 'failed stages: %s\n' "${failed_stages[*]}"
	exit 1
fi
