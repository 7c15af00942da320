#!/usr/bin/env bash
# Install what sdfs needs to build, run its demo and all its tests on
# Debian bookworm. Run as root. Quiet unless something fails.
# `deps.sh --list` prints the package list (scripts/check-tools.sh reads it).
set -euo pipefail

PACKAGES=(
	# build
	gcc meson ninja-build pkg-config libfuse3-dev libglib2.0-dev
	# run: fusermount3 and mount.fuse3
	fuse3
	# the demo and the snapshot tests; the exactness test's references and
	# real interpreters as targets (tests/exact)
	rsync gdb python3 perl
	# VM suites: Debian kernels under qemu with a busybox initramfs
	qemu-system-x86 busybox-static cpio xz-utils zstd gzip dash mount util-linux
	debian-archive-keyring libc6-dev
	# the arm64 guest: sdfs cross-built (arm64 libraries are fetched into a
	# sysroot by tests/vm/arm64/fetch-sysroot.sh, never installed); the
	# arm64 C library headers (bits/wordsize.h) for the cross compiler
	qemu-system-arm gcc-aarch64-linux-gnu libc6-dev-arm64-cross binutils
	# fuzzing (libFuzzer), sanitizers, leak checks
	clang libclang-rt-14-dev valgrind
	# the Debian package (dpkg-buildpackage, dh with meson, lintian)
	build-essential dpkg-dev debhelper lintian
	# scripts/fresh-check.sh: a minimal bookworm root to run deps.sh in
	mmdebstrap
)

if [[ ${1:-} == --list ]]; then
	printf '%s\n' "${PACKAGES[@]}"
	exit 0
fi

missing=()
for p in "${PACKAGES[@]}"; do
	dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' ||
		missing+=("$p")
done
if ((${#missing[@]})); then
	if [[ $(id -u) -ne 0 ]]; then
		echo "deps: missing packages: ${missing[*]} (run as root to install them)" >&2
		exit 1
	fi
	echo "deps: installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
