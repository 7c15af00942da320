/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Reading and checking the files of an sdfs mount (sdfs(5)): whole texts,
 * directories, clear and its epoch, status, dirty_ranges and page files.
 * Those that return no errno assert (g_error) on what they cannot read.
 */
#pragma once

#include <glib.h>
#include <sys/types.h>

#include "mount.h"
#include "testlib.h"

/* Whole file by read(2) until EOF; NULL with errno set on failure. */
char *read_text(const char *path, gsize *len);
/* Directory entries except . and .., in readdir order; NULL + errno. */
GPtrArray *list_dir(const char *path);

/* Write "1\n" to clear; assert success; return the epoch read back. */
guint64 do_clear(const Mount *m, pid_t pid);
guint64 read_epoch(const Mount *m, pid_t pid);
/* Parse status into a table key -> value. */
GHashTable *read_status(const Mount *m, pid_t pid);

/* One line of dirty_ranges. */
typedef TlRange Range;

/* Parse and validate the syntax of dirty_ranges text (asserts). */
GArray *ranges_parse(const char *text);
/* Check each range against /proc/PID/maps (the target must be idle). */
void ranges_check_maps(GArray *r, pid_t pid);
/* The lines of `text` whose range intersects [start, end), joined. */
char *ranges_text_in(const char *text, guint64 start, guint64 end);
/* Read MNT/PID/FILE, validate it (against the maps unless it is
 * last/dropped_ranges), return the lines within [start,end). */
char *ranges_read_in(const Mount *m, pid_t pid, const char *file, guint64 start,
		     guint64 end);
/* One expected line: START-END PAGES PERMS[ PATH]\n */
char *rline(guint64 start, guint64 npages, const char *perms, const char *path);
/* Sum of PAGES. */
guint64 ranges_count(GArray *r);
/* Every page address of the ranges, ascending. */
GArray *ranges_pages(GArray *r);

/* Read a page (tl_ps bytes at offset 0): 0, -errno, or -EIO for a short
 * read. */
int read_page(const char *path, void *buf);
int read_page_fd(int fd, void *buf);
/* Assert buf holds the byte pattern (pattern.h) for (byte, idx). */
void assert_pattern(const guint8 *buf, unsigned byte, guint64 idx);
