#!/bin/bash
# vm-arm64.sh — cross-build sdfs for arm64 and run one command in the arm64
# guest with the programs it needs.
#
#   tests/vm/arm64/vm-arm64.sh --build-dir DIR [--prog TARGET[:GUESTPATH]]...
#       [vm-run.sh arguments] -- COMMAND ARGS...
#
# Builds each TARGET (a path in the arm64 build directory DIR, e.g.
# mountd/sdfs) with cross-build.sh, then runs vm-run.sh --arch arm64
# --kernel 6.12 with every TARGET added at GUESTPATH (default
# /usr/local/bin/ and the target's file name) and the remaining arguments.
# Its exit code is vm-run.sh's. A failed cross build fails the test.

set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

die() { printf 'vm-arm64: error: %s\n' "$*" >&2; exit 1; }

main() {
	local dir="" progs=() targets=() adds=() p target guest
	while (($#)); do
		case $1 in
		--build-dir) dir=$2; shift ;;
		--prog) progs+=("$2"); shift ;;
		-h | --help) sed -n '2,/^$/s/^# \{0,1\}//p' "$0"; exit 0 ;;
		*) break ;;
		esac
		shift
	done
	[[ -n $dir ]] || die "--build-dir DIR is required"
	for p in "${progs[@]}"; do
		target=${p%%:*}
		guest=/usr/local/bin/${target##*/}
		[[ $p != *:* ]] || guest=${p#*:}
		targets+=("$target")
		adds+=(--add "$dir/$target:$guest")
	done
	local t0=$SECONDS
	"$HERE/cross-build.sh" "$dir" "${targets[@]}" || exit 1
	printf 'vm-arm64: cross build of %d programs: %ds\n' "${#targets[@]}" $((SECONDS - t0)) >&2
	exec "$HERE/../vm-run.sh" --arch arm64 --kernel 6.12 "${adds[@]}" "$@"
}

main "$@"
