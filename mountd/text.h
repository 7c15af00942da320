/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A growable text buffer that reports running out of memory instead of
 * aborting (GLib's allocators abort): the daemon answers ENOMEM and lives.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

struct sdfs_text {
	char *str; /* always NUL-terminated */
	size_t len, cap;
	bool failed; /* an append did not fit in memory: the text is cut */
};

/* NULL when even that fails. */
struct sdfs_text *sdfs_text_new(void);
void sdfs_text_free(struct sdfs_text *t);
/* Free t but hand out its string (g_free it). */
char *sdfs_text_steal(struct sdfs_text *t);
void sdfs_text_truncate(struct sdfs_text *t, size_t len);
void sdfs_text_append(struct sdfs_text *t, const char *s);
void sdfs_text_append_len(struct sdfs_text *t, const char *s, size_t n);
void sdfs_text_printf(struct sdfs_text *t, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
