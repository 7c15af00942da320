/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Dirty sets: sorted page runs tagged with their mapping. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ranges.h"

void sdfs_dirtyset_init(struct sdfs_dirtyset *s)
{
	memset(s, 0, sizeof(*s));
}

void sdfs_dirtyset_clear(struct sdfs_dirtyset *s)
{
	for (size_t i = 0; i < s->nvmas; i++)
		free(s->vmas[i].path);
	s->n = 0;
	s->nvmas = 0;
	s->pages = 0;
}

void sdfs_dirtyset_free(struct sdfs_dirtyset *s)
{
	sdfs_dirtyset_clear(s);
	free(s->runs);
	free(s->vmas);
	sdfs_dirtyset_init(s);
}

static int grow(void **v, size_t *cap, size_t need, size_t elem)
{
	if (need <= *cap)
		return 0;
	size_t ncap = *cap ? *cap * 2 : 16;
	while (ncap < need)
		ncap *= 2;
	void *nv = reallocarray(*v, ncap, elem);
	if (!nv)
		return -ENOMEM;
	*v = nv;
	*cap = ncap;
	return 0;
}

ssize_t sdfs_dirtyset_add_vma(struct sdfs_dirtyset *s, const struct sdfs_vma *v)
{
	if (s->nvmas && s->vmas[s->nvmas - 1].start == v->start &&
	    s->vmas[s->nvmas - 1].end == v->end)
		return (ssize_t)(s->nvmas - 1);
	if (grow((void **)&s->vmas, &s->vcap, s->nvmas + 1, sizeof(*s->vmas)) < 0)
		return -ENOMEM;
	struct sdfs_vma_info *vi = &s->vmas[s->nvmas];
	vi->path = strdup(v->path ? v->path : "");
	if (!vi->path)
		return -ENOMEM;
	vi->start = v->start;
	vi->end = v->end;
	memcpy(vi->perms, v->perms, sizeof(vi->perms));
	return (ssize_t)s->nvmas++;
}

int sdfs_dirtyset_add(struct sdfs_dirtyset *s, uint32_t vma, uint64_t start,
		      uint64_t end)
{
	if (end <= start || vma >= s->nvmas)
		return -EINVAL;
	if (s->n) {
		struct sdfs_run *last = &s->runs[s->n - 1];
		if (start < last->end)
			return -EINVAL;
		if (start == last->end && last->vma == vma) {
			last->end = end;
			s->pages += (end - start) / sdfs_page_size();
			return 0;
		}
	}
	if (grow((void **)&s->runs, &s->cap, s->n + 1, sizeof(*s->runs)) < 0)
		return -ENOMEM;
	s->runs[s->n++] = (struct sdfs_run){.start = start, .end = end, .vma = vma};
	s->pages += (end - start) / sdfs_page_size();
	return 0;
}

size_t sdfs_dirtyset_lower_bound(const struct sdfs_dirtyset *s, uint64_t addr)
{
	size_t lo = 0, hi = s->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (s->runs[mid].end <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

bool sdfs_dirtyset_contains(const struct sdfs_dirtyset *s, uint64_t addr)
{
	size_t i = sdfs_dirtyset_lower_bound(s, addr);
	return i < s->n && s->runs[i].start <= addr;
}
