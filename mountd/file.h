/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* An open regular file of the tree (ops_file.c) and its content classes
 * (file_*.c). */
#pragma once

#include "req.h"

struct sdfs_file {
	struct sdfs_handle h; /* first: retired and freed through it */
	struct sdfs_node node;
	const struct sdfs_kind_info *info;
	struct sdfs_tracker *tracker;
	/* what open made (text, or a stored page): its length (the kernel
	 * is told, ops_file.c) */
	size_t len;
	/* the class's state, freed with priv_free */
	void *priv;
	void (*priv_free)(void *priv);
};

/* Serve [off, off+size) of a buffer of len bytes into buf. */
ssize_t sdfs_file_copy_out(char *buf, size_t size, off_t off, const char *src,
			   size_t len);

/* The largest read the kernel sends the daemon (libfuse 3.14 asks for 256
 * pages, the kernel's default fs.fuse.max_pages_limit): st_blksize of the
 * bulk files, last/image and last/pack, so that cp and tar read that much
 * at a time. */
#define SDFS_BULK_IO_SIZE (1u << 20)

/*
 * A read of a bulk file from f's process: with the caller's credentials,
 * fill(src, reader, off, buf, size) with a reader of the live process
 * (file_image.c). -ESRCH unless the pid is still the tracked process
 * before and after, so that nothing read from a reused pid is returned.
 */
struct sdfs_image_reader;
typedef ssize_t (*sdfs_bulk_fill_fn)(const void *src,
				     const struct sdfs_image_reader *rd,
				     uint64_t off, void *buf, size_t size);
ssize_t sdfs_bulk_read(fuse_req_t req, struct sdfs_file *f,
		       sdfs_bulk_fill_fn fill, const void *src, char *buf,
		       size_t size, off_t off);
