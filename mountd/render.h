/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The text of dirty_ranges and status (sdfs(5): dirty_ranges, status). */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "proc.h"
#include "ranges.h"
#include "text.h"
#include "tracker.h"

/* Bytes of a dirty_ranges line without its path. */
#define SDFS_RANGE_LINE_MAX (16 + 1 + 16 + 1 + 20 + 1 + 4 + 1 + 1)

/* Format one line "START-END PAGES PERMS[ PATH]\n" into out, which has
 * room for SDFS_RANGE_LINE_MAX + path_len bytes; returns its length. */
size_t sdfs_format_range(char *out, uint64_t start, uint64_t end,
			 const char *perms, const char *path, size_t path_len);
/* The length sdfs_format_range gives, without formatting. */
size_t sdfs_range_line_len(uint64_t start, uint64_t end, const char *perms,
			   size_t path_len);

/* Append one dirty_ranges line: "START-END PAGES PERMS[ PATH]\n". */
void sdfs_render_range(struct sdfs_text *out, uint64_t start, uint64_t end,
		       const char *perms, const char *path);

/* Append every line of a dirty set. */
void sdfs_render_dirtyset(struct sdfs_text *out, const struct sdfs_dirtyset *s);

/* The status text. */
void sdfs_render_status(struct sdfs_text *out, const struct sdfs_tracker_info *i,
			uint64_t dirty_pages);

