/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Union and difference of dirty sets (ranges.h). */
#include <errno.h>
#include <stdlib.h>

#include "ranges.h"

/* A source set walked run by run, with its mappings' indices in out. */
struct src {
	const struct sdfs_dirtyset *s;
	struct sdfs_run_iter it;
	struct sdfs_run r; /* current run, maybe trimmed at its start */
	bool has;
	ssize_t *map; /* s->vmas[i] is out->vmas[map[i]]; -1: not yet */
};

static int src_init(struct src *x, const struct sdfs_dirtyset *s)
{
	x->s = s;
	x->map = malloc((s->nvmas ? s->nvmas : 1) * sizeof(*x->map));
	if (!x->map)
		return -ENOMEM;
	for (size_t i = 0; i < s->nvmas; i++)
		x->map[i] = -1;
	sdfs_dirtyset_iter(s, &x->it);
	x->has = sdfs_run_iter_next(&x->it, &x->r);
	return 0;
}

static void src_next(struct src *x)
{
	x->has = sdfs_run_iter_next(&x->it, &x->r);
}

/* Drop the pages of x below pos. */
static void src_skip_to(struct src *x, uint64_t pos)
{
	while (x->has && x->r.end <= pos)
		src_next(x);
	if (x->has && x->r.start < pos)
		x->r.start = pos;
}

/* Append [start, end) of x's current mapping to out. */
static int emit(struct sdfs_dirtyset *out, struct src *x, uint64_t start,
		uint64_t end)
{
	uint32_t v = x->r.vma;

	if (x->map[v] < 0) {
		x->map[v] = sdfs_dirtyset_add_vma_info(out, &x->s->vmas[v]);
		if (x->map[v] < 0)
			return (int)x->map[v];
	}
	return sdfs_dirtyset_add(out, (uint32_t)x->map[v], start, end);
}

int sdfs_dirtyset_union(struct sdfs_dirtyset *out, const struct sdfs_dirtyset *a,
			const struct sdfs_dirtyset *b)
{
	struct src x = {0}, y = {0};
	int r = src_init(&x, a);

	if (r == 0)
		r = src_init(&y, b);
	while (r == 0 && (x.has || y.has)) {
		/* the run that starts first goes whole; the other loses the
		 * pages it shares with it */
		struct src *first = !y.has || (x.has && x.r.start <= y.r.start)
					    ? &x
					    : &y;
		struct src *other = first == &x ? &y : &x;
		uint64_t end = first->r.end;
		r = emit(out, first, first->r.start, end);
		src_next(first);
		src_skip_to(other, end);
	}
	free(x.map);
	free(y.map);
	return r;
}

int sdfs_dirtyset_subtract(struct sdfs_dirtyset *out,
			   const struct sdfs_dirtyset *a,
			   const struct sdfs_dirtyset *b)
{
	struct src x = {0}, y = {0};
	int r = src_init(&x, a);

	if (r == 0)
		r = src_init(&y, b);
	for (; r == 0 && x.has; src_next(&x)) {
		uint64_t pos = x.r.start;
		while (r == 0 && pos < x.r.end) {
			src_skip_to(&y, pos);
			if (!y.has || y.r.start >= x.r.end) {
				r = emit(out, &x, pos, x.r.end);
				break;
			}
			if (y.r.start > pos)
				r = emit(out, &x, pos, y.r.start);
			pos = y.r.end < x.r.end ? y.r.end : x.r.end;
		}
	}
	free(x.map);
	free(y.map);
	return r;
}
