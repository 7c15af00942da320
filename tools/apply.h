/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* sdfs-apply: writing into BASE, shared by its modes (apply_io.c). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#define CHUNK (4u << 20) /* bytes per read: FUSE splits it further */

struct stats {
	uint64_t extents, written, zero_punched, dropped, dropped_bytes;
};

extern const char *prog;
/* Where the messages of fail() and of apply_pack() go: stderr unless
 * apply_msgs is set (the fuzz target). */
extern FILE *apply_msgs;
FILE *msgs(void);

/* Report "PROG: WHAT NAME: strerror(err)" and return -err. */
int fail(int err, const char *what, const char *name);

/* pwrite all of buf at off: 0 or -errno. */
int write_all(int fd, const char *buf, size_t len, uint64_t off);

/* Up to len bytes at off into buf, fewer only at the end of the file:
 * the count, or -errno. */
ssize_t read_at(int fd, char *buf, size_t len, uint64_t off);

/* Make [off, off + len) of fd read as zeros, without changing its size:
 * a hole where the file system can punch one, written zeros elsewhere. */
int zero_range(int fd, uint64_t off, uint64_t len);

/* Write buf (len bytes at off) into BASE: runs of non-zero blocks of blk
 * bytes are written, runs of zero blocks punched. 0 or -errno. */
int put(int fd, const char *buf, size_t len, uint64_t off, size_t blk,
	struct stats *st);

/* BASE, opened for writing (created if missing), and the block size in
 * which zeros are looked for (what a punch can free): the fd, or -1
 * (reported). */
int open_base(const char *oname, size_t *blk);

/* -p: apply the pack stream read from in (named pname) onto BASE: *out,
 * or if *out < 0, oname opened with open_base() once the header has been
 * checked (into *out, for the caller to close). 0, or -errno (reported). */
int apply_pack(const char *pname, int in, int *out, const char *oname,
	       bool verbose, struct stats *st);
