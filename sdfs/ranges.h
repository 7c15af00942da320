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

/*
 * Runs are kept compact (a snapshot of a million scattered pages is a
 * million runs): each run is three varints -- the gap after the previous
 * run and the length, in pages, and the change of mapping index (zigzag,
 * it may go back) -- in
 * blocks of SDFS_BLOCK_RUNS runs whose first run is found by binary
 * search over the block table. About 4 bytes per run instead of 24. The
 * last run added stays unencoded (pend) so that adjacent pages merge.
 */
#define SDFS_BLOCK_RUNS 64

struct sdfs_run_block {
	uint64_t start; /* start of the block's first run */
	size_t off;	/* where its encoding starts in bytes */
	uint32_t vma;	/* mapping of its first run */
};

struct sdfs_dirtyset {
	uint8_t *bytes;
	size_t nbytes, bcap;
	struct sdfs_run_block *blocks;
	size_t nblocks, blkcap;
	size_t nenc;	     /* runs encoded in bytes */
	uint64_t enc_end;    /* end of the last encoded run */
	uint32_t enc_vma;    /* and its mapping */
	bool has_pend;
	struct sdfs_run pend; /* the last run, open for merging */
	size_t n;	      /* runs: nenc + has_pend */
	struct sdfs_vma_info *vmas;
	size_t nvmas, vcap;
	uint64_t pages; /* total pages over all runs */
};

/* A position in a dirty set; valid while the set is not changed. */
struct sdfs_run_iter {
	const struct sdfs_dirtyset *s;
	size_t i;	   /* index of the run next() returns */
	size_t pos;	   /* its encoding in s->bytes */
	uint64_t prev_end; /* end of the run before it */
	uint32_t vma;	   /* mapping of the run before it */
};

void sdfs_dirtyset_init(struct sdfs_dirtyset *s);
void sdfs_dirtyset_free(struct sdfs_dirtyset *s);
void sdfs_dirtyset_clear(struct sdfs_dirtyset *s);

/* Append the mapping v; returns its index or -ENOMEM. Appending the same
 * mapping (same start) twice in a row returns the existing index. */
ssize_t sdfs_dirtyset_add_vma(struct sdfs_dirtyset *s, const struct sdfs_vma *v);
ssize_t sdfs_dirtyset_add_vma_info(struct sdfs_dirtyset *s,
				   const struct sdfs_vma_info *v);

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

/* An iterator at the first run, or at the first run with end > addr. */
void sdfs_dirtyset_iter(const struct sdfs_dirtyset *s, struct sdfs_run_iter *it);
void sdfs_dirtyset_seek(const struct sdfs_dirtyset *s, uint64_t addr,
			struct sdfs_run_iter *it);
/* The run at it, and advance; false at the end. */
bool sdfs_run_iter_next(struct sdfs_run_iter *it, struct sdfs_run *out);

/*
 * Set operations (setops.c), into out (empty on entry), runs keeping
 * the mapping they had in their source; on failure (-ENOMEM) out is to
 * be discarded.
 *   union: the pages of a or b (where both hold a page, the mapping of
 *     the run that starts first: a and b describe the same maps);
 *   subtract: the pages of a that are not in b.
 */
int sdfs_dirtyset_union(struct sdfs_dirtyset *out, const struct sdfs_dirtyset *a,
			const struct sdfs_dirtyset *b);
int sdfs_dirtyset_subtract(struct sdfs_dirtyset *out,
			   const struct sdfs_dirtyset *a,
			   const struct sdfs_dirtyset *b);

typedef struct sdfs_dirtyset SdfsDirtyset;
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(SdfsDirtyset, sdfs_dirtyset_free)

/* Bytes of memory the set holds (for tests and benchmarks). */
size_t sdfs_dirtyset_footprint(const struct sdfs_dirtyset *s);
