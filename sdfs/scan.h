/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* pagemap -> runs of pages: batched pread of pagemap, or PAGEMAP_SCAN. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "backend.h"

/* What a page must be, beyond present or swapped and not the zero page. */
enum sdfs_scan_need {
	SDFS_NEED_NOTHING, /* epoch 0: every present or swapped page */
	SDFS_NEED_SOFT_DIRTY, /* bit 55 / PAGE_IS_SOFT_DIRTY */
	SDFS_NEED_WRITTEN, /* PAGE_IS_WRITTEN (uffd-wp async) */
	/* an anonymous page (not PAGE_IS_FILE / pagemap bit 61): in a special
	 * mapping such as [vdso], a page becomes anonymous only when it is
	 * written (copy on write) */
	SDFS_NEED_ANON,
	/*
	 * Own pages (sdfs(5)): present or swapped, except the zero page and,
	 * in a private mapping, pages that are not the process's own copy
	 * (a file's page, pagemap bit 61 / PAGE_IS_FILE).
	 */
	SDFS_NEED_OWN,
};

/*
 * Whether a pagemap entry is a page that holds data: present, or really
 * swapped out -- not a uffd-wp or guard marker, which pagemap shows as a
 * swap entry too (swap type 31, the offset saying which marker; readers without CAP_SYS_ADMIN
 * see no type: a marker then is an entry with the uffd-wp bit in a shared
 * mapping, which never holds swap entries, or on a system without swap).
 */
bool sdfs_pagemap_is_page(uint64_t entry, bool shared);

/* Open /proc/PID/pagemap with the calling thread's credentials. */
int sdfs_pagemap_open(pid_t pid);

/*
 * A walk of PAGEMAP_SCAN: which pages match (the category masks of
 * struct pm_scan_arg: every bit of `required` set, every bit of
 * `inverted` clear, and one of `anyof` set or one of `anyof_clear`
 * clear) and which categories the regions carry (`returned`). wp:
 * PM_SCAN_WP_MATCHING, write-protect what matches in the same walk.
 */
struct sdfs_pm_query {
	uint64_t required, inverted, anyof, anyof_clear, returned;
	bool wp;
};

/* Called for each matching region, in address order; non-zero stops the
 * walk (and is returned by it). */
typedef int (*sdfs_region_fn)(void *ctx, uint64_t start, uint64_t end,
			      uint64_t categories);

/*
 * Walk [start, end) of pagemap_fd with PAGEMAP_SCAN: every call of the
 * ioctl goes through here (it also tells valgrind what the kernel
 * wrote). Resumes where the kernel stopped when its vector fills. 0,
 * fn's non-zero value, or -errno (-ENOTTY: no PAGEMAP_SCAN here).
 */
int sdfs_pagemap_walk(int pagemap_fd, uint64_t start, uint64_t end,
		      const struct sdfs_pm_query *q, sdfs_region_fn fn,
		      void *ctx);

/* Whether this kernel has PAGEMAP_SCAN, and whether it knows
 * PAGE_IS_SOFT_DIRTY (6.8+). Probed once, by trying. */
bool sdfs_have_pagemap_scan(void);
bool sdfs_have_scan_soft_dirty(void);

/*
 * Walk the trackable mappings of req->maps within [req->from, req->to)
 * and call req->fn for each run of pages that satisfy need. Uses
 * PAGEMAP_SCAN where the kernel has it for need (unless force_pread),
 * else batched pread of pagemap_fd.
 * wp_matching: with SDFS_NEED_WRITTEN, write-protect the reported pages
 * in the same walk (PM_SCAN_WP_MATCHING). Returns 0, the positive stop
 * value of req->fn, or -errno.
 */
int sdfs_scan(int pagemap_fd, const struct sdfs_scan_req *req,
	      enum sdfs_scan_need need, bool wp_matching, bool force_pread);

/* Collect the runs of a scan into a dirty set (a ready sdfs_run_fn). */
/* sdfs_scan of every trackable mapping of maps into the dirty set out. */
int sdfs_scan_into(int pagemap_fd, const struct sdfs_maps *maps,
		   enum sdfs_scan_need need, struct sdfs_dirtyset *out);

int sdfs_scan_collect_fn(void *dirtyset, const struct sdfs_vma *vma,
			 uint64_t start, uint64_t end);
