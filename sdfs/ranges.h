/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A dirty set: sorted, non-overlapping page runs, each tagged with the
 * mapping it lies in, so it can be rendered after the mapping is gone.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "proc.h"

struct sdfs_run {
	uint64_t start, end; /* byte addresses, page aligned, [start, end) */
	uint32_t vma; /* index into sdfs_dirtyset.vmas */
};

/* The mapping facts a dirty_ranges line needs. */
struct sdfs_vma_info {
	uint64_t start, end;
	char perms[5];
	char *path; /* owned, "" if anonymous */
};

struct sdfs_dirtyset {
	struct sdfs_run *runs;
	size_t n, cap;
	struct sdfs_vma_info *vmas;
	size_t nvmas, vcap;
	uint64_t pages; /* total pages over all runs */
};

void sdfs_dirtyset_init(struct sdfs_dirtyset *s);
void sdfs_dirtyset_free(struct sdfs_dirtyset *s);
void sdfs_dirtyset_clear(struct sdfs_dirtyset *s);

/* Append the mapping v; returns its index or -ENOMEM. Appending the same
 * mapping (same start) twice in a row returns the existing index. */
ssize_t sdfs_dirtyset_add_vma(struct sdfs_dirtyset *s, const struct sdfs_vma *v);

/*
 * Append [start, end) in mapping vma. Runs must arrive in ascending order;
 * a run adjacent to the previous one in the same mapping is merged.
 * Returns 0, -EINVAL on out-of-order input, -ENOMEM.
 */
int sdfs_dirtyset_add(struct sdfs_dirtyset *s, uint32_t vma, uint64_t start,
		      uint64_t end);

/* Whether the page at addr is in the set. */
bool sdfs_dirtyset_contains(const struct sdfs_dirtyset *s, uint64_t addr);

/* Index of the first run with end > addr (n if none). */
size_t sdfs_dirtyset_lower_bound(const struct sdfs_dirtyset *s, uint64_t addr);
