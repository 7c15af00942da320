/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <string.h>

#include "changetext.h"

static void walk_start(struct sdfs_changetext *t)
{
	struct sdfs_changewalk *w = &t->w;

	for (int i = 0; i < 2; i++) {
		sdfs_dirtyset_iter(t->set[i], &w->it[i]);
		w->has[i] = sdfs_run_iter_next(&w->it[i], &w->r[i]);
	}
	w->line = 0;
}

void sdfs_changetext_init(struct sdfs_changetext *t,
			  const struct sdfs_dirtyset *a,
			  const struct sdfs_dirtyset *b)
{
	memset(t, 0, sizeof(*t));
	t->set[0] = a;
	t->set[1] = b;
	t->len = (a->pages + b->pages) * SDFS_CHANGE_LINE;
	walk_start(t);
}

/* The set whose next page comes first, or -1 at the end. */
static int walk_first(const struct sdfs_changewalk *w)
{
	if (!w->has[0] && !w->has[1])
		return -1;
	if (!w->has[1] || (w->has[0] && w->r[0].start < w->r[1].start))
		return 0;
	return 1;
}

/* Step over n pages (the sets are disjoint: a run of one set is taken
 * up to where the other's next run begins). */
static void walk_skip(struct sdfs_changewalk *w, size_t n)
{
	const size_t ps = sdfs_page_size();

	while (n) {
		int i = walk_first(w);
		if (i < 0)
			return;
		uint64_t stop = w->r[i].end;
		if (w->has[!i] && w->r[!i].start < stop)
			stop = w->r[!i].start;
		size_t k = (size_t)((stop - w->r[i].start) / ps);
		if (k > n)
			k = n;
		w->r[i].start += k * ps;
		w->line += k;
		n -= k;
		if (w->r[i].start >= w->r[i].end)
			w->has[i] = sdfs_run_iter_next(&w->it[i], &w->r[i]);
	}
}

static void put_name(char *p, uint64_t addr)
{
	static const char digits[] = "0123456789abcdef";

	for (int i = 15; i >= 0; i--) {
		p[i] = digits[addr & 0xf];
		addr >>= 4;
	}
	p[16] = '\n';
}

size_t sdfs_changetext_read(struct sdfs_changetext *t, char *buf, size_t size,
			    size_t off)
{
	struct sdfs_changewalk *w = &t->w;
	size_t done = 0;

	if (off >= t->len)
		return 0;
	size_t line = off / SDFS_CHANGE_LINE;
	if (line < w->line)
		walk_start(t);
	walk_skip(w, line - w->line);
	size_t skip = off % SDFS_CHANGE_LINE;
	while (done < size) {
		int i = walk_first(w);
		if (i < 0)
			break;
		char l[SDFS_CHANGE_LINE];
		put_name(l, w->r[i].start);
		size_t n = SDFS_CHANGE_LINE - skip;
		if (n > size - done)
			n = size - done;
		memcpy(buf + done, l + skip, n);
		done += n;
		if (skip + n < SDFS_CHANGE_LINE)
			break; /* the rest of this line is for the next read */
		skip = 0;
		walk_skip(w, 1);
	}
	return done;
}
