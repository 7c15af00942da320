/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The page pattern shared by sdfs_workload (which writes it) and sdfs_itest
 * (which checks it): byte `off` of page `idx` of a region written with
 * `write NAME idx byte` holds sdfs_pattern(byte, idx, off). It changes with
 * every argument, so a page read at the wrong address or offset, a stale
 * page, or a zero page never matches.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

static inline uint8_t sdfs_pattern(unsigned byte, uint64_t idx, size_t off)
{
	return (uint8_t)(byte + idx * 37u + off * 7u + (off >> 8) + 1u);
}

static inline void sdfs_pattern_fill(uint8_t *page, size_t pagesize,
				     unsigned byte, uint64_t idx)
{
	for (size_t i = 0; i < pagesize; i++)
		page[i] = sdfs_pattern(byte, idx, i);
}
