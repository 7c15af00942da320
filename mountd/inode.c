/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <string.h>

#include "inode.h"

#define PAGE_FLAG (1ULL << 63)
#define LAST_FLAG (1ULL << 62)
#define PID_SHIFT SDFS_PAGENO_BITS
#define PID_MASK ((1ULL << SDFS_PID_BITS) - 1)
#define PAGENO_MASK ((1ULL << SDFS_PAGENO_BITS) - 1)

uint64_t sdfs_ino_encode(const struct sdfs_node *n)
{
	if (n->kind == SDFS_K_ROOT)
		return SDFS_ROOT_INO;
	if (n->pid <= 0 || (uint64_t)n->pid > PID_MASK)
		return 0;
	if (n->kind == SDFS_K_PAGE || n->kind == SDFS_K_LAST_PAGE) {
		if (n->pageno > PAGENO_MASK)
			return 0;
		return PAGE_FLAG | (n->kind == SDFS_K_LAST_PAGE ? LAST_FLAG : 0) |
		       ((uint64_t)n->pid << PID_SHIFT) | n->pageno;
	}
	if (n->kind <= SDFS_K_ROOT || n->kind >= SDFS_K_PAGE)
		return 0;
	return ((uint64_t)n->kind << 32) | (uint64_t)n->pid;
}

int sdfs_ino_decode(uint64_t ino, struct sdfs_node *out)
{
	struct sdfs_node n = {0};

	if (ino == SDFS_ROOT_INO) {
		n.kind = SDFS_K_ROOT;
	} else if (ino & PAGE_FLAG) {
		n.kind = (ino & LAST_FLAG) ? SDFS_K_LAST_PAGE : SDFS_K_PAGE;
		n.pid = (pid_t)((ino >> PID_SHIFT) & PID_MASK);
		n.pageno = ino & PAGENO_MASK;
		if (n.pid <= 0)
			return -ENOENT;
	} else {
		uint64_t kind = ino >> 32;
		uint64_t pid = ino & 0xffffffffULL;
		if (kind <= SDFS_K_ROOT || kind >= SDFS_K_PAGE || pid == 0 ||
		    pid > PID_MASK)
			return -ENOENT;
		n.kind = (enum sdfs_kind)kind;
		n.pid = (pid_t)pid;
	}
	*out = n;
	return 0;
}
