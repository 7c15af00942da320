#!/usr/bin/env bash
# The README's first command: install what is needed, build, and run the
# demo (scripts/demo-run.sh) on this kernel -- or, where this kernel has
# no usable backend, inside a Debian 6.1 kernel under qemu (tests/vm).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

./scripts/deps.sh
[[ -d build ]] || meson setup build >/dev/null
ninja -C build >/dev/null

SDFS=build/mountd/sdfs
WRITER=build/tests/demo/sdfs-demo-writer
probe=$("$SDFS" --probe)
if grep -q '^auto: none' <<<"$probe"; then
	echo "sdfs: this kernel ($(uname -r)) has no usable backend:"
	sed 's/^/    /' <<<"$probe"
	echo "Running the demo inside Debian bookworm's 6.1 kernel (soft-dirty) under qemu instead"
	echo "(emulated: an 8 MiB writer instead of 64 MiB; the first run downloads the kernel)."
	exec tests/vm/vm-run.sh --kernel 6.1 \
		--add "$SDFS:/opt/sdfs/sdfs" --add "$WRITER:/opt/sdfs/sdfs-demo-writer" \
		--add scripts/demo-run.sh:/opt/sdfs/demo-run.sh \
		-- sh /opt/sdfs/demo-run.sh /opt/sdfs/sdfs /opt/sdfs/sdfs-demo-writer 8
fi
exec sh scripts/demo-run.sh "$SDFS" "$WRITER"
