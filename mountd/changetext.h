/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The text of last/changes, made as it is read: the name of every page
 * of two disjoint sets (what a clear captured, and what it found
 * dropped), one 16-digit address and a newline per page, ascending.
 * Memory use does not depend on the number of pages.
 */
#pragma once

#include <stddef.h>
#include <sys/types.h>

#include "ranges.h"

#define SDFS_CHANGE_LINE 17 /* 16 hex digits and a newline */

/* Where the merged walk of the two sets stands. */
struct sdfs_changewalk {
	struct sdfs_run_iter it[2];
	struct sdfs_run r[2]; /* current run of each, start advanced */
	bool has[2];
	size_t line; /* index of the page at which the walk stands */
};

struct sdfs_changetext {
	const struct sdfs_dirtyset *set[2]; /* not owned; must outlive this */
	size_t len; /* bytes of the whole text */
	struct sdfs_changewalk w;
};

void sdfs_changetext_init(struct sdfs_changetext *t,
			  const struct sdfs_dirtyset *a,
			  const struct sdfs_dirtyset *b);

/* Copy up to size bytes of the text at off into buf; returns the count
 * (0 at or past the end). Reads in order are served without rescanning. */
size_t sdfs_changetext_read(struct sdfs_changetext *t, char *buf, size_t size,
			    size_t off);
