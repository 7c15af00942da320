/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The page patterns of the test targets, shared by the programs that write
 * them (sdfs_workload, sdfs_sectarget, sdfs_stress_target) and the tests
 * that check pages read through sdfs against them. Plain C: the target
 * programs link nothing but libc.
 *
 * The byte pattern (sdfs_workload `write NAME IDX BYTE`, `fill`,
 * `scribble`; sdfs_sectarget `page BYTE`): byte `off` of page `idx`
 * written with `byte` holds pat_byte(byte, idx, off). It changes with
 * every argument, so a page read at the wrong address or offset, a stale
 * page, or a zero page never matches.
 *
 * The word pattern (sdfs_stress_target): word w of page idx written at
 * generation gen (>= 1) by the target with tag `tag` holds
 *
 *     (gen << 32) | wpat_mix(tag, idx, gen, w)
 *
 * so every 8-byte word can be checked on its own: a torn read (a page
 * read while the target rewrites it) shows words of two generations, each
 * valid; a zero word, garbage, a word of another page, of another process
 * (another tag) or at another offset never matches.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* ---- the byte pattern ---- */

static inline uint8_t pat_byte(unsigned byte, uint64_t idx, size_t off)
{
	return (uint8_t)(byte + idx * 37u + off * 7u + (off >> 8) + 1u);
}

static inline void pat_fill(uint8_t *page, size_t pagesize, unsigned byte,
			    uint64_t idx)
{
	for (size_t i = 0; i < pagesize; i++)
		page[i] = pat_byte(byte, idx, i);
}

/* -1 if page holds the pattern (byte, idx), else the first bad offset. */
static inline long pat_check(const uint8_t *page, size_t pagesize,
			     unsigned byte, uint64_t idx)
{
	for (size_t i = 0; i < pagesize; i++)
		if (page[i] != pat_byte(byte, idx, i))
			return (long)i;
	return -1;
}

/* ---- the word pattern ---- */

static inline uint32_t wpat_mix(uint32_t tag, uint64_t idx, uint32_t gen,
				uint64_t w)
{
	uint64_t x = ((uint64_t)tag << 32 | gen) ^
		     (idx * 0x9e3779b97f4a7c15ULL) ^
		     (w * 0xc2b2ae3d27d4eb4fULL);
	x ^= x >> 31;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 29;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 32;
	return (uint32_t)x;
}

static inline uint64_t wpat_word(uint32_t tag, uint64_t idx, uint32_t gen,
				 uint64_t w)
{
	return (uint64_t)gen << 32 | wpat_mix(tag, idx, gen, w);
}

static inline void wpat_fill(uint64_t *page, size_t ps, uint32_t tag,
			     uint64_t idx, uint32_t gen)
{
	volatile uint64_t *p = page;
	for (size_t w = 0; w < ps / 8; w++)
		p[w] = wpat_word(tag, idx, gen, w);
}

/*
 * Check a page: every word valid for (tag, idx) at some generation >= 1.
 * Returns -1 if all words are valid, else the index of the first bad word.
 * *gen_out (optional): the generation of word 0.
 */
static inline long wpat_check(const uint64_t *page, size_t ps, uint32_t tag,
			      uint64_t idx, uint32_t *gen_out)
{
	for (size_t w = 0; w < ps / 8; w++) {
		uint32_t gen = (uint32_t)(page[w] >> 32);
		if (gen == 0 || (uint32_t)page[w] != wpat_mix(tag, idx, gen, w))
			return (long)w;
		if (w == 0 && gen_out)
			*gen_out = gen;
	}
	return -1;
}

/* Check a page against one exact generation: -1 or the first bad word. */
static inline long wpat_check_gen(const uint64_t *page, size_t ps, uint32_t tag,
				  uint64_t idx, uint32_t gen)
{
	for (size_t w = 0; w < ps / 8; w++)
		if (page[w] != wpat_word(tag, idx, gen, w))
			return (long)w;
	return -1;
}
