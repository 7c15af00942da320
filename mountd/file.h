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
