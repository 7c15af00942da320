/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Fuzz the inode number codec. FUSE hands the daemon inode numbers; any
 * number that decodes must encode back to itself, and any node that
 * encodes must decode back to itself.
 */
#include <errno.h>
#include <string.h>

#include "fuzz.h"
#include "inode.h"

static void check_decoded(uint64_t ino)
{
	struct sdfs_node n, before;

	memset(&n, 0x5a, sizeof(n));
	before = n;
	int r = sdfs_ino_decode(ino, &n);
	if (r < 0) {
		CHECK(r == -ENOENT);
		CHECK(!memcmp(&n, &before, sizeof(n)));
		return;
	}
	CHECK(r == 0);
	CHECK(ino != 0);
	CHECK(n.kind >= SDFS_K_ROOT && n.kind < SDFS_K_MAX);
	CHECK((n.kind == SDFS_K_ROOT) == (ino == SDFS_ROOT_INO));
	if (n.kind != SDFS_K_ROOT) {
		CHECK(n.pid > 0 && n.pid < (1 << SDFS_PID_BITS));
	}
	if (n.kind != SDFS_K_PAGE && n.kind != SDFS_K_LAST_PAGE)
		CHECK(n.pageno == 0);
	else
		CHECK(n.pageno < (1ULL << SDFS_PAGENO_BITS));
	CHECK(sdfs_ino_encode(&n) == ino);
	(void)sdfs_kind_is_dir(n.kind);
	(void)sdfs_kind_name(n.kind);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t b[8 + 4 + 4 + 8] = {0};
	memcpy(b, data, size < sizeof(b) ? size : sizeof(b));

	/* 1: the first 8 bytes as an inode number */
	uint64_t ino;
	memcpy(&ino, b, 8);
	check_decoded(ino);

	/* 2: the rest as a node */
	uint32_t kind, pid;
	uint64_t pageno;
	memcpy(&kind, b + 8, 4);
	memcpy(&pid, b + 12, 4);
	memcpy(&pageno, b + 16, 8);
	struct sdfs_node n = {.kind = (enum sdfs_kind)(kind % (SDFS_K_MAX + 2)),
			      .pid = (pid_t)pid,
			      .pageno = pageno};
	uint64_t e = sdfs_ino_encode(&n);
	bool page = n.kind == SDFS_K_PAGE || n.kind == SDFS_K_LAST_PAGE;
	bool want_ok = n.kind == SDFS_K_ROOT ||
		       (n.kind < SDFS_K_MAX && n.pid > 0 &&
			n.pid < (1 << SDFS_PID_BITS) &&
			(!page || n.pageno < (1ULL << SDFS_PAGENO_BITS)));
	CHECK((e != 0) == want_ok);
	if (e) {
		struct sdfs_node d;
		CHECK(sdfs_ino_decode(e, &d) == 0);
		CHECK(d.kind == n.kind);
		if (n.kind != SDFS_K_ROOT)
			CHECK(d.pid == n.pid);
		if (page)
			CHECK(d.pageno == n.pageno);
		check_decoded(e);
	}
	return 0;
}
