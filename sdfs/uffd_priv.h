/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Internals of the uffd backend shared by uffd.c and uffd_clear.c. */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

#include "backend.h"
#include "compat.h"

/* A mapping the kernel would not register for lack of VM_MAYWRITE. */
struct clean_vma {
	uint64_t start, end, offset, inode;
	unsigned dev_major, dev_minor;
};

struct uffd_state {
	int uffd;      /* -1: nothing set up (epoch 0, or after an exec) */
	int pm_fd;     /* opened before the uffd was made: the same mm */
	GArray *clean; /* struct clean_vma */
	/* mappings the kernel would not register (EINVAL: [vdso] and other
	 * special mappings), as seen at the last clear (struct clean_vma) */
	GArray *plain;
};

/* UFFDIO_WRITEPROTECT [start, start + len): protect, or un-protect. */
int sdfs_uffd_wp_range(int uffd, uint64_t start, uint64_t len, bool protect);
/* One PAGEMAP_SCAN call for written pages (present or swapped, not the
 * zero page) in [start, end); wp: PM_SCAN_WP_MATCHING. n regions, or
 * -errno. */
long sdfs_uffd_scan_written(int pm, uint64_t start, uint64_t end, bool wp,
			    struct page_region *v, size_t n);
bool sdfs_uffd_is_clean(const struct uffd_state *st, const struct sdfs_vma *v);
bool sdfs_uffd_is_plain(const struct uffd_state *st, const struct sdfs_vma *v);
/* Whether the mm the uffd tracks still exists (not exec'd, not exited). */
bool sdfs_uffd_mm_alive(const struct uffd_state *st);
/* The tracked mm is gone: forget it (the process exited or exec'd). */
void sdfs_uffd_mm_gone(struct sdfs_target *t, struct uffd_state *st);
/* Register, capture into out, re-protect, and take the own pages
 * (uffd_clear.c). */
int sdfs_uffd_do_clear(struct sdfs_target *t, struct uffd_state *st,
		       struct sdfs_capture *out);
