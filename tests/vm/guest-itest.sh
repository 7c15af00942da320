#!/bin/sh
# guest-itest.sh — runs inside the test VM (/bin/sh is dash, the other
# tools busybox; see mkinitramfs.sh).
#
#   guest-itest.sh "BACKENDS" [SDFS_ITEST_ARGS...]
#
# SDFS_GUEST_PROG names another GTest program to run instead of sdfs_itest
# (sdfs_faulttest for the soft-dirty-only fault cases).
#
# First checks with sdprobe that this kernel has every backend in BACKENDS
# (space-separated: soft-dirty, uffd): the integration suite skips cases
# whose backend is missing, and on these kernels a missing backend is a
# harness or kernel-package problem that must fail the test, not pass it
# quietly. Then runs sdfs_itest with TAP output. Binaries are looked up in
# PATH (vm-run.sh puts them in /usr/local/bin).
set -u

need=$1
shift
# shellcheck disable=SC2086 # BACKENDS is a word list
if ! sdprobe $need; then
	echo "guest-itest: this kernel ($(uname -r)) lacks a backend the test needs ($need)"
	exit 1
fi
exec "${SDFS_GUEST_PROG:-sdfs_itest}" --tap "$@"
