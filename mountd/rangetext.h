/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The text of dirty_ranges made on demand from a dirty set: a million
 * scattered dirty pages are ~45 MB of text but ~4 MB of dirty set, so the
 * text is never held whole. Its length is computed at open (st_size of an
 * open file, and the last byte sendfile needs); reads render the lines
 * they cover from a cursor, so sequential reads cost one pass in all.
 */
#pragma once

#include <stddef.h>

#include "ranges.h"

struct sdfs_rangetext {
	const struct sdfs_dirtyset *set; /* not owned; must outlive this */
	size_t len;			 /* bytes of the whole text */
	size_t *path_len;		 /* strlen of each mapping's path */
	/* cursor: the line at line_off (line_len bytes in line), the run
	 * iterator just past it */
	struct sdfs_run_iter it;
	size_t line_off;
	char *line;
	size_t line_len, line_cap;
};

/* 0, or -ENOMEM. */
int sdfs_rangetext_init(struct sdfs_rangetext *t, const struct sdfs_dirtyset *s);
void sdfs_rangetext_free(struct sdfs_rangetext *t);

/* Copy up to size bytes of the text at off into buf; returns the count
 * (0 at or past the end), or -ENOMEM. Not thread-safe: one cursor. */
ssize_t sdfs_rangetext_read(struct sdfs_rangetext *t, char *buf, size_t size,
			    size_t off);
