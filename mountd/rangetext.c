/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "rangetext.h"
#include "render.h"

int sdfs_rangetext_init(struct sdfs_rangetext *t, const struct sdfs_dirtyset *s)
{
	struct sdfs_run_iter it;
	struct sdfs_run r;

	memset(t, 0, sizeof(*t));
	t->set = s;
	if (s->nvmas) {
		t->path_len = calloc(s->nvmas, sizeof(*t->path_len));
		if (!t->path_len)
			return -ENOMEM;
	}
	for (size_t i = 0; i < s->nvmas; i++)
		t->path_len[i] = strlen(s->vmas[i].path);
	sdfs_dirtyset_iter(s, &it);
	while (sdfs_run_iter_next(&it, &r)) {
		const struct sdfs_vma_info *v = &s->vmas[r.vma];
		t->len += sdfs_range_line_len(r.start, r.end, v->perms,
					      t->path_len[r.vma]);
	}
	sdfs_dirtyset_iter(s, &t->it);
	return 0;
}

void sdfs_rangetext_free(struct sdfs_rangetext *t)
{
	free(t->path_len);
	free(t->line);
	memset(t, 0, sizeof(*t));
}

/* Render the next line into t->line; false at the end. */
static int next_line(struct sdfs_rangetext *t)
{
	struct sdfs_run r;

	t->line_off += t->line_len;
	t->line_len = 0;
	if (!sdfs_run_iter_next(&t->it, &r))
		return 0;
	const struct sdfs_vma_info *v = &t->set->vmas[r.vma];
	size_t need = SDFS_RANGE_LINE_MAX + t->path_len[r.vma];
	if (need > t->line_cap) {
		char *nl = realloc(t->line, need);
		if (!nl)
			return -ENOMEM;
		t->line = nl;
		t->line_cap = need;
	}
	t->line_len = sdfs_format_range(t->line, r.start, r.end, v->perms,
					v->path, t->path_len[r.vma]);
	return 1;
}

ssize_t sdfs_rangetext_read(struct sdfs_rangetext *t, char *buf, size_t size,
			    size_t off)
{
	size_t done = 0;

	if (off >= t->len)
		return 0;
	if (size > t->len - off)
		size = t->len - off;
	/* behind the cursor: start over (a reader going back, or two
	 * readers of one open file at different places) */
	if (off < t->line_off) {
		sdfs_dirtyset_iter(t->set, &t->it);
		t->line_off = 0;
		t->line_len = 0;
	}
	while (done < size) {
		size_t pos = off + done;
		if (pos >= t->line_off + t->line_len) {
			int r = next_line(t);
			if (r < 0)
				return r;
			if (r == 0)
				break; /* cannot happen: len counts every line */
			continue;
		}
		size_t in = pos - t->line_off;
		size_t n = t->line_len - in;
		if (n > size - done)
			n = size - done;
		memcpy(buf + done, t->line + in, n);
		done += n;
	}
	return (ssize_t)done;
}
