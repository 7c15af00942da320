/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "render.h"

/* 16 lowercase hex digits, zero-padded. */
static char *put_hex16(char *p, uint64_t v)
{
	static const char digits[] = "0123456789abcdef";

	for (int i = 15; i >= 0; i--) {
		p[i] = digits[v & 0xf];
		v >>= 4;
	}
	return p + 16;
}

static char *put_dec(char *p, uint64_t v)
{
	char tmp[20];
	int n = 0;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n)
		*p++ = tmp[--n];
	return p;
}

static size_t dec_len(uint64_t v)
{
	size_t n = 1;
	while (v >= 10) {
		v /= 10;
		n++;
	}
	return n;
}

static size_t perms_len(const char *perms)
{
	size_t n = 0;
	while (n < 4 && perms[n])
		n++;
	return n;
}

/*
 * One line, "START-END PAGES PERMS[ PATH]\n". Formatted by hand: this is
 * the hot loop of dirty_ranges, and printf's machinery cost more than the
 * kernel's page walk (tests/bench).
 */
size_t sdfs_format_range(char *out, uint64_t start, uint64_t end,
			 const char *perms, const char *path, size_t path_len)
{
	char *p = out;

	p = put_hex16(p, start);
	*p++ = '-';
	p = put_hex16(p, end);
	*p++ = ' ';
	p = put_dec(p, (end - start) / sdfs_page_size());
	*p++ = ' ';
	for (int i = 0; i < 4 && perms[i]; i++)
		*p++ = perms[i];
	if (path_len) {
		*p++ = ' ';
		memcpy(p, path, path_len);
		p += path_len;
	}
	*p++ = '\n';
	return (size_t)(p - out);
}

size_t sdfs_range_line_len(uint64_t start, uint64_t end, const char *perms,
			   size_t path_len)
{
	return 16 + 1 + 16 + 1 + dec_len((end - start) / sdfs_page_size()) +
	       1 + perms_len(perms) + (path_len ? 1 + path_len : 0) + 1;
}

void sdfs_render_range(struct sdfs_text *out, uint64_t start, uint64_t end,
		       const char *perms, const char *path)
{
	char line[SDFS_RANGE_LINE_MAX];
	size_t pl = path ? strlen(path) : 0;

	if (!pl) {
		sdfs_text_append_len(out, line,
				     sdfs_format_range(line, start, end, perms,
						       NULL, 0));
		return;
	}
	/* the line up to the path, then the path and the newline */
	size_t n = sdfs_format_range(line, start, end, perms, "", 0);
	line[n - 1] = ' ';
	sdfs_text_append_len(out, line, n);
	sdfs_text_append_len(out, path, pl);
	sdfs_text_append_len(out, "\n", 1);
}

void sdfs_render_dirtyset(struct sdfs_text *out, const struct sdfs_dirtyset *s)
{
	struct sdfs_run_iter it;
	struct sdfs_run r;

	sdfs_dirtyset_iter(s, &it);
	while (sdfs_run_iter_next(&it, &r)) {
		const struct sdfs_vma_info *v = &s->vmas[r.vma];
		sdfs_render_range(out, r.start, r.end, v->perms, v->path);
	}
}

void sdfs_render_status(struct sdfs_text *out, const struct sdfs_tracker_info *i,
			uint64_t dirty_pages)
{
	sdfs_text_printf(out, "pid: %d\n", (int)i->pid);
	sdfs_text_printf(out, "backend: %s\n", i->backend);
	sdfs_text_printf(out, "epoch: %" PRIu64 "\n", i->epoch);
	if (i->cleared_at.tv_sec || i->cleared_at.tv_nsec)
		sdfs_text_printf(out, "cleared_at: %lld.%09ld\n",
				       (long long)i->cleared_at.tv_sec,
				       (long)i->cleared_at.tv_nsec);
	else
		sdfs_text_append(out, "cleared_at: 0\n");
	sdfs_text_printf(out, "frozen_us: %" PRIu64 "\n", i->frozen_us);
	sdfs_text_printf(out, "dirty_pages: %" PRIu64 "\n", dirty_pages);
	sdfs_text_printf(out, "last_pages: %" PRIu64 "\n", i->last_pages);
}
