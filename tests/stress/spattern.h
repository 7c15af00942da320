/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The word pattern of sdfs_stress_target (which writes it) and the stress
 * tests (which check it). Word w of page idx written at generation gen
 * (>= 1) by the target with tag `tag` holds
 *
 *     (gen << 32) | spat_mix(tag, idx, gen, w)
 *
 * so every 8-byte word can be checked on its own: a torn read (a page
 * read while the target rewrites it) shows words of two generations, each
 * valid; a zero word, garbage, a word of another page, of another process
 * (another tag) or at another offset never matches.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

static inline uint32_t spat_mix(uint32_t tag, uint64_t idx, uint32_t gen,
				uint64_t w)
{
	uint64_t x = ((uint64_t)tag << 32 | gen) ^ (idx * 0x9e3779b97f4a7c15ULL) ^
		     (w * 0xc2b2ae3d27d4eb4fULL);
	x ^= x >> 31;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 29;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 32;
	return (uint32_t)x;
}

static inline uint64_t spat_word(uint32_t tag, uint64_t idx, uint32_t gen,
				 uint64_t w)
{
	return (uint64_t)gen << 32 | spat_mix(tag, idx, gen, w);
}

static inline void spat_fill(uint64_t *page, size_t ps, uint32_t tag,
			     uint64_t idx, uint32_t gen)
{
	volatile uint64_t *p = page;
	for (size_t w = 0; w < ps / 8; w++)
		p[w] = spat_word(tag, idx, gen, w);
}

/*
 * Check a page: every word valid for (tag, idx) at some generation >= 1.
 * Returns -1 if all words are valid, else the index of the first bad word.
 * *gen_out (optional): the generation of word 0.
 */
static inline long spat_check(const uint64_t *page, size_t ps, uint32_t tag,
			      uint64_t idx, uint32_t *gen_out)
{
	for (size_t w = 0; w < ps / 8; w++) {
		uint32_t gen = (uint32_t)(page[w] >> 32);
		if (gen == 0 || (uint32_t)page[w] != spat_mix(tag, idx, gen, w))
			return (long)w;
		if (w == 0 && gen_out)
			*gen_out = gen;
	}
	return -1;
}

/* Check a page against one exact generation: -1 or the first bad word. */
static inline long spat_check_gen(const uint64_t *page, size_t ps,
				  uint32_t tag, uint64_t idx, uint32_t gen)
{
	for (size_t w = 0; w < ps / 8; w++)
		if (page[w] != spat_word(tag, idx, gen, w))
			return (long)w;
	return -1;
}
