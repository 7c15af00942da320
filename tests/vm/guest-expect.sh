#!/bin/sh
# guest-expect.sh — runs inside the test VM: run a command and compare its
# standard output with the expected text, exactly.
#
#   guest-expect.sh EXPECTED COMMAND ARGS...
#
# EXPECTED holds the lines (newline-separated, no final newline). Exit 0 if
# the output is EXPECTED and the command exited 0, else 1 after showing
# both.
set -u

want=$1
shift
got=$("$@")
rc=$?
echo "$got"
if [ "$rc" -ne 0 ]; then
	echo "guest-expect: $* exited with $rc"
	exit 1
fi
if [ "$got" != "$want" ]; then
	echo "guest-expect: $* printed the above; expected:"
	echo "$want"
	exit 1
fi
echo "guest-expect: $*: as expected"
