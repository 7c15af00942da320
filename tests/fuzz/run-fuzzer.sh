#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Run one libFuzzer target for a short while (meson suite fuzz-smoke).
#
#   run-fuzzer.sh FUZZER SEED_DIR ARTIFACT_DIR [libFuzzer options...]
#
# New inputs go to a scratch directory that is removed afterwards, so the
# seed corpus in the source tree is never written to. A crash, leak or
# invariant failure leaves its reproducer in ARTIFACT_DIR and fails.
set -eu
fuzzer=$1 seeds=$2 artifacts=$3
shift 3
mkdir -p "$artifacts"
scratch=$(mktemp -d "${TMPDIR:-/tmp}/sdfs-fuzz.XXXXXX")
trap 'rm -rf "$scratch"' EXIT INT TERM
name=$(basename "$fuzzer")
# libFuzzer's own exit code for a finding is 77, which meson takes for
# SKIP: a finding must fail the test
"$fuzzer" -artifact_prefix="$artifacts/$name-" -print_final_stats=1 \
	-error_exitcode=1 \
	"$@" "$scratch" "$seeds"
