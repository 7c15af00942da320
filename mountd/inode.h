/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Inode numbers encode what a node is, so lookups need no table:
 *
 *   1                         the root
 *   bit 63 clear: kind << 32 | pid          PID directories and their files
 *   bit 63 set:   1 | last << 62 | pid << 40 | page number
 *                                            pages/ADDR and last/pages/ADDR
 *
 * PIDs are below 2^22 (PID_MAX_LIMIT); page numbers below 2^40 cover
 * 2^52 bytes of address space with 4 KiB pages. The FUSE generation
 * number carries the process start time, so a reused PID is a new inode.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define SDFS_ROOT_INO 1

enum sdfs_kind {
	SDFS_K_ROOT = 0,
	SDFS_K_PIDDIR = 1,
	SDFS_K_CLEAR,
	SDFS_K_DIRTY,
	SDFS_K_PAGES,
	SDFS_K_LAST,
	SDFS_K_STATUS,
	SDFS_K_LAST_DIRTY,
	SDFS_K_LAST_DROPPED,
	SDFS_K_LAST_CHANGES,
	SDFS_K_LAST_MAPS,
	SDFS_K_LAST_PAGES,
	SDFS_K_LAST_IMAGE,
	SDFS_K_LAST_PACK,
	/* page kinds last: their numbers use bit 63 */
	SDFS_K_PAGE, /* pages/ADDR */
	SDFS_K_LAST_PAGE, /* last/pages/ADDR */
	SDFS_K_MAX,
};

#define SDFS_PID_BITS 22
#define SDFS_PAGENO_BITS 40

struct sdfs_node {
	enum sdfs_kind kind;
	pid_t pid;
	uint64_t pageno; /* SDFS_K_PAGE / SDFS_K_LAST_PAGE only */
};

/* 0 if n cannot be encoded (pid or page number out of range). */
uint64_t sdfs_ino_encode(const struct sdfs_node *n);
/* -ENOENT for numbers no node has. */
int sdfs_ino_decode(uint64_t ino, struct sdfs_node *out);

/* From the node table (nodes.c): the node kind of a name inside a
 * directory of kind parent, or -ENOENT (for the fixed names of PID
 * directories and last/). */
int sdfs_kind_child(enum sdfs_kind parent, const char *name);
const char *sdfs_kind_name(enum sdfs_kind k);
bool sdfs_kind_is_dir(enum sdfs_kind k);
