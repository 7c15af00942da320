#!/bin/bash
# vm-run-test.sh — regression test of vm-run.sh's waiting (TAP): it must
# return as soon as the guest's command has finished or the guest died,
# never by its --timeout. Each case boots KERNEL with --timeout 500 and
# checks the exit code and that vm-run.sh returned within 60 s (measured
# here): a bound that only a hang crosses (a boot takes about 10 s under
# TCG), not a speed requirement.
#
#   tests/vm/vm-run-test.sh KERNEL
#
#   1. the command exits 3 at once: vm-run.sh returns 3
#   2. the same with qemu -no-shutdown (the guest powers off but qemu
#      stays): vm-run.sh kills qemu and returns 3
#   3. the guest kernel panics (sysrq c) before the command can report:
#      vm-run.sh returns 1
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
KERNEL=${1:?usage: vm-run-test.sh KERNEL}
BOUND=60

echo "1..3"
n=0
check() { # DESCRIPTION EXPECTED-RC [ENV=VALUE...] -- COMMAND...
	local what=$1 want=$2
	shift 2
	local envs=()
	while [[ $1 != -- ]]; do envs+=("$1"); shift; done
	shift
	n=$((n + 1))
	local t0=$SECONDS rc=0
	env "${envs[@]}" "$HERE/vm-run.sh" --kernel "$KERNEL" --no-tools --timeout 500 \
		-- "$@" 2>&1 | sed 's/^/# /'
	rc=${PIPESTATUS[0]}
	local took=$((SECONDS - t0))
	if ((rc == want && took < BOUND)); then
		echo "ok $n - $what: exit $rc after ${took}s"
	else
		echo "not ok $n - $what: exit $rc (want $want) after ${took}s (bound ${BOUND}s)"
	fi
}

check "command exits 3" 3 -- sh -c 'exit 3'
check "command exits 3, qemu -no-shutdown" 3 SDFS_VM_QEMU_ARGS=-no-shutdown -- sh -c 'exit 3'
check "guest panics" 1 -- sh -c 'echo c >/proc/sysrq-trigger; sleep 600'
