/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The files of an sdfs mount, read and checked (files.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "files.h"
#include "pattern.h"
#include "proc.h"

char *read_text(const char *path, gsize *lenp)
{
	char *out = NULL;
	int r = tl_read_text(path, 8192, &out, lenp);
	if (r < 0)
		errno = -r;
	return out;
}

GPtrArray *list_dir(const char *path)
{
	DIR *d = opendir(path);
	if (!d)
		return NULL;
	GPtrArray *a = g_ptr_array_new_with_free_func(g_free);
	struct dirent *de;
	errno = 0;
	while ((de = readdir(d))) {
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			g_ptr_array_add(a, g_strdup(de->d_name));
		errno = 0;
	}
	int e = errno;
	closedir(d);
	if (e) {
		g_ptr_array_free(a, TRUE);
		errno = e;
		return NULL;
	}
	return a;
}

guint64 read_epoch(const Mount *m, pid_t pid)
{
	g_autofree char *p = mnt_path(m, pid, "clear");
	g_autofree char *t = read_text(p, NULL);
	g_assert_nonnull(t);
	g_assert_true(g_str_has_suffix(t, "\n"));
	char *end;
	guint64 v = g_ascii_strtoull(t, &end, 10);
	g_assert_cmpstr(end, ==, "\n");
	g_assert_true(g_ascii_isdigit(t[0]));
	return v;
}

guint64 do_clear(const Mount *m, pid_t pid)
{
	g_autofree char *p = mnt_path(m, pid, "clear");
	int r = tl_write_text(p, "1\n", 2);
	if (r < 0)
		g_error("clear %s: %s", p, g_strerror(-r));
	return read_epoch(m, pid);
}

GHashTable *read_status(const Mount *m, pid_t pid)
{
	g_autofree char *p = mnt_path(m, pid, "status");
	g_autofree char *t = read_text(p, NULL);
	if (!t)
		g_error("read %s: %s", p, g_strerror(errno));
	g_assert_true(g_str_has_suffix(t, "\n"));
	GHashTable *h =
		g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	g_auto(GStrv) lines = g_strsplit(t, "\n", -1);
	for (char **l = lines; *l && **l; l++) {
		char *c = strstr(*l, ": ");
		if (!c)
			g_error("status line without ': ': '%s'", *l);
		g_hash_table_insert(h, g_strndup(*l, c - *l), g_strdup(c + 2));
	}
	return h;
}

/* ---- dirty_ranges ---- */

GArray *ranges_parse(const char *text)
{
	g_autofree char *err = NULL;
	g_assert_nonnull(text);
	GArray *a = tl_ranges_parse(text, tl_ps, &err);
	if (!a)
		g_error("%s", err);
	return a;
}

void ranges_check_maps(GArray *r, pid_t pid)
{
	g_autoptr(GArray) maps = maps_read(pid);
	g_assert_nonnull(maps);
	const Range *prev_vma = NULL;
	for (guint i = 0; i < r->len; i++) {
		const Range *x = &g_array_index(r, Range, i);
		const Range *v = NULL;
		for (guint j = 0; j < maps->len; j++) {
			const Range *m = &g_array_index(maps, Range, j);
			if (x->start >= m->start && x->start < m->end) {
				v = m;
				break;
			}
		}
		if (!v)
			g_error("range %" G_GINT64_MODIFIER
				"x-... not inside any mapping of %d",
				x->start, (int)pid);
		if (x->end > v->end)
			g_error("range %016" G_GINT64_MODIFIER
				"x-%016" G_GINT64_MODIFIER
				"x crosses the end of mapping "
				"%" G_GINT64_MODIFIER "x-%" G_GINT64_MODIFIER
				"x",
				x->start, x->end, v->start, v->end);
		g_assert_cmpstr(x->perms, ==, v->perms);
		g_assert_cmpstr(x->path, ==, v->path);
		g_assert_true(strcmp(x->path, "[vvar]") &&
			      strcmp(x->path, "[vvar_vclock]") &&
			      strcmp(x->path, "[vsyscall]"));
		if (i > 0 && prev_vma == v) {
			const Range *p = &g_array_index(r, Range, i - 1);
			if (p->end == x->start)
				g_error("adjacent runs in one mapping not "
					"merged at %016" G_GINT64_MODIFIER "x",
					x->start);
		}
		prev_vma = v;
	}
}

char *ranges_text_in(const char *text, guint64 start, guint64 end)
{
	GString *s = g_string_new(NULL);
	g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
	for (char **l = lines; *l && **l; l++) {
		guint64 a = g_ascii_strtoull(*l, NULL, 16);
		guint64 b = g_ascii_strtoull(*l + 17, NULL, 16);
		if (a < end && b > start)
			g_string_append_printf(s, "%s\n", *l);
	}
	return g_string_free(s, FALSE);
}

char *ranges_read_in(const Mount *m, pid_t pid, const char *file, guint64 start,
		     guint64 end)
{
	g_autofree char *p = mnt_path(m, pid, file);
	g_autofree char *t = read_text(p, NULL);
	if (!t)
		g_error("read %s: %s", p, g_strerror(errno));
	g_autoptr(GArray) r = ranges_parse(t);
	/* dropped pages are of mappings at the clear before, maybe gone */
	if (!g_str_has_suffix(file, "dropped_ranges"))
		ranges_check_maps(r, pid);
	return ranges_text_in(t, start, end);
}

char *rline(guint64 start, guint64 npages, const char *perms, const char *path)
{
	return g_strdup_printf("%016" G_GINT64_MODIFIER
			       "x-%016" G_GINT64_MODIFIER
			       "x %" G_GINT64_MODIFIER "u %s%s%s\n",
			       start, start + npages * tl_ps, npages, perms,
			       path && *path ? " " : "", path ? path : "");
}

guint64 ranges_count(GArray *r)
{
	guint64 n = 0;
	for (guint i = 0; i < r->len; i++)
		n += g_array_index(r, Range, i).pages;
	return n;
}

GArray *ranges_pages(GArray *r)
{
	GArray *a = g_array_new(FALSE, FALSE, sizeof(guint64));
	for (guint i = 0; i < r->len; i++) {
		const Range *x = &g_array_index(r, Range, i);
		for (guint64 p = x->start; p < x->end; p += tl_ps)
			g_array_append_val(a, p);
	}
	return a;
}

/* ---- pages ---- */

int read_page_fd(int fd, void *buf)
{
	ssize_t n = pread(fd, buf, tl_ps, 0);
	if (n < 0)
		return -errno;
	return n == (ssize_t)tl_ps ? 0 : -EIO;
}

int read_page(const char *path, void *buf)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int r = read_page_fd(fd, buf);
	close(fd);
	return r;
}

void assert_pattern(const guint8 *buf, unsigned byte, guint64 idx)
{
	long i = pat_check(buf, tl_ps, byte, idx);
	if (i >= 0)
		g_error("page %" G_GINT64_MODIFIER
			"u byte %ld: got 0x%02x, want 0x%02x "
			"(pattern byte %u)",
			idx, i, buf[i], pat_byte(byte, idx, (size_t)i), byte);
}
