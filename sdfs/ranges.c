/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Dirty sets: sorted page runs tagged with their mapping, varint-packed. */
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
	s->nbytes = 0;
	s->nblocks = 0;
	s->nenc = 0;
	s->enc_end = 0;
	s->enc_vma = 0;
	s->has_pend = false;
	s->n = 0;
	s->nvmas = 0;
	s->pages = 0;
}

void sdfs_dirtyset_free(struct sdfs_dirtyset *s)
{
	sdfs_dirtyset_clear(s);
	free(s->bytes);
	free(s->blocks);
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

size_t sdfs_dirtyset_footprint(const struct sdfs_dirtyset *s)
{
	size_t b = s->bcap + s->blkcap * sizeof(*s->blocks) +
		   s->vcap * sizeof(*s->vmas);
	for (size_t i = 0; i < s->nvmas; i++)
		b += strlen(s->vmas[i].path) + 1;
	return b;
}

ssize_t sdfs_dirtyset_add_vma_info(struct sdfs_dirtyset *s,
				   const struct sdfs_vma_info *v)
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

ssize_t sdfs_dirtyset_add_vma(struct sdfs_dirtyset *s, const struct sdfs_vma *v)
{
	struct sdfs_vma_info vi = {.start = v->start,
				   .end = v->end,
				   .path = (char *)v->path};
	memcpy(vi.perms, v->perms, sizeof(vi.perms));
	return sdfs_dirtyset_add_vma_info(s, &vi);
}

/* ---- encoding ------------------------------------------------------------ */

static uint8_t *put_varint(uint8_t *p, uint64_t v)
{
	while (v >= 0x80) {
		*p++ = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	*p++ = (uint8_t)v;
	return p;
}

static const uint8_t *get_varint(const uint8_t *p, uint64_t *v)
{
	uint64_t r = 0;
	for (unsigned shift = 0;; shift += 7) {
		uint8_t b = *p++;
		r |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80))
			break;
	}
	*v = r;
	return p;
}

/* Move the pending run into the encoded part. */
static int flush_pend(struct sdfs_dirtyset *s)
{
	const size_t ps = sdfs_page_size();
	const struct sdfs_run *r = &s->pend;

	if (!s->has_pend)
		return 0;
	if (s->nenc % SDFS_BLOCK_RUNS == 0) {
		if (grow((void **)&s->blocks, &s->blkcap, s->nblocks + 1,
			 sizeof(*s->blocks)) < 0)
			return -ENOMEM;
		s->blocks[s->nblocks++] = (struct sdfs_run_block){
			.start = r->start, .off = s->nbytes, .vma = r->vma};
		s->enc_end = r->start;
		s->enc_vma = r->vma;
	}
	if (grow((void **)&s->bytes, &s->bcap, s->nbytes + 3 * 10, 1) < 0)
		return -ENOMEM;
	uint8_t *p = s->bytes + s->nbytes;
	p = put_varint(p, (r->start - s->enc_end) / ps);
	p = put_varint(p, (r->end - r->start) / ps);
	/* zigzag: mapping indices usually grow by 0 or 1, but may go back */
	int64_t dv = (int64_t)r->vma - (int64_t)s->enc_vma;
	p = put_varint(p, ((uint64_t)dv << 1) ^ (uint64_t)(dv >> 63));
	s->nbytes = (size_t)(p - s->bytes);
	s->enc_end = r->end;
	s->enc_vma = r->vma;
	s->nenc++;
	s->has_pend = false;
	return 0;
}

int sdfs_dirtyset_add(struct sdfs_dirtyset *s, uint32_t vma, uint64_t start,
		      uint64_t end)
{
	const size_t ps = sdfs_page_size();

	if (end <= start || vma >= s->nvmas || start % ps || end % ps)
		return -EINVAL;
	if (s->has_pend) {
		if (start < s->pend.end)
			return -EINVAL;
		if (start == s->pend.end && s->pend.vma == vma) {
			s->pend.end = end;
			s->pages += (end - start) / ps;
			return 0;
		}
		if (flush_pend(s) < 0)
			return -ENOMEM;
	}
	s->pend = (struct sdfs_run){.start = start, .end = end, .vma = vma};
	s->has_pend = true;
	s->n = s->nenc + 1;
	s->pages += (end - start) / ps;
	return 0;
}

/* ---- reading ------------------------------------------------------------- */

static void iter_at_block(const struct sdfs_dirtyset *s, size_t b,
			  struct sdfs_run_iter *it)
{
	it->s = s;
	it->i = b * SDFS_BLOCK_RUNS;
	if (b < s->nblocks) {
		it->pos = s->blocks[b].off;
		it->prev_end = s->blocks[b].start;
		it->vma = s->blocks[b].vma;
	} else {
		it->pos = s->nbytes;
		it->prev_end = s->enc_end;
		it->vma = s->enc_vma;
	}
}

void sdfs_dirtyset_iter(const struct sdfs_dirtyset *s, struct sdfs_run_iter *it)
{
	iter_at_block(s, 0, it);
}

bool sdfs_run_iter_next(struct sdfs_run_iter *it, struct sdfs_run *out)
{
	const struct sdfs_dirtyset *s = it->s;
	const size_t ps = sdfs_page_size();

	if (it->i < s->nenc) {
		if (it->i % SDFS_BLOCK_RUNS == 0) {
			/* a block's first run starts from the block's base */
			const struct sdfs_run_block *b =
				&s->blocks[it->i / SDFS_BLOCK_RUNS];
			it->pos = b->off;
			it->prev_end = b->start;
			it->vma = b->vma;
		}
		uint64_t gap, len, dvma;
		const uint8_t *p = s->bytes + it->pos;
		p = get_varint(p, &gap);
		p = get_varint(p, &len);
		p = get_varint(p, &dvma);
		it->pos = (size_t)(p - s->bytes);
		out->start = it->prev_end + gap * ps;
		out->end = out->start + len * ps;
		int64_t dv = (int64_t)(dvma >> 1) ^ -(int64_t)(dvma & 1);
		out->vma = (uint32_t)((int64_t)it->vma + dv);
		it->prev_end = out->end;
		it->vma = out->vma;
		it->i++;
		return true;
	}
	if (it->i == s->nenc && s->has_pend) {
		*out = s->pend;
		it->i++;
		return true;
	}
	return false;
}

void sdfs_dirtyset_seek(const struct sdfs_dirtyset *s, uint64_t addr,
			struct sdfs_run_iter *it)
{
	/* the last block starting at or before addr: the run wanted is in
	 * it, or is the first run of the next one */
	size_t lo = 0, hi = s->nblocks;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (s->blocks[mid].start <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	iter_at_block(s, lo ? lo - 1 : 0, it);
	for (;;) {
		struct sdfs_run_iter before = *it;
		struct sdfs_run r;
		if (!sdfs_run_iter_next(it, &r) || r.end > addr) {
			*it = before;
			return;
		}
	}
}

size_t sdfs_dirtyset_lower_bound(const struct sdfs_dirtyset *s, uint64_t addr)
{
	struct sdfs_run_iter it;
	sdfs_dirtyset_seek(s, addr, &it);
	return it.i;
}

bool sdfs_dirtyset_contains(const struct sdfs_dirtyset *s, uint64_t addr)
{
	struct sdfs_run_iter it;
	struct sdfs_run r;
	sdfs_dirtyset_seek(s, addr, &it);
	return sdfs_run_iter_next(&it, &r) && r.start <= addr;
}
