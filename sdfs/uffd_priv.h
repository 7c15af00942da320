/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Inside the uffd backend. Three files, no cycle:
 *   uffd_state.c  what the backend keeps per process, and its lifecycle
 *   uffd_clear.c  the clear, step by step (uses uffd_state.c)
 *   uffd.c        probe, attach, scan, clear's set-up (uses both)
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "backend.h"

/* A mapping, as far as telling it again at a later clear goes. */
struct uffd_vma_id {
	uint64_t start, end, offset, inode;
	unsigned dev_major, dev_minor;
};

/* A set of mappings (a small array: special mappings of one process). */
struct uffd_vma_list {
	struct uffd_vma_id *v;
	size_t n, cap;
};

struct uffd_state {
	int uffd;  /* -1: nothing set up (epoch 0, or after an exec) */
	int pm_fd; /* opened before the uffd was made: the same mm */
	/* never writable (the kernel refused to register them for lack of
	 * VM_MAYWRITE), seen at the last clear: clean from then on */
	struct uffd_vma_list clean;
	/* not registrable (EINVAL: [vdso] and other special mappings), as
	 * seen at the last clear */
	struct uffd_vma_list plain;
};

/* ---- uffd_state.c ---- */
struct uffd_state *sdfs_uffd_state_new(void);
void sdfs_uffd_state_free(struct uffd_state *st);
/* Close the uffd (the kernel unregisters everything in the target) and
 * the pagemap fd, forget the mappings: as after attach. */
void sdfs_uffd_teardown(struct uffd_state *st);
/* Whether the mm the uffd tracks still exists (not exec'd, not exited). */
bool sdfs_uffd_mm_alive(const struct uffd_state *st);
/* The tracked mm is gone: forget it (the process exited or exec'd). */
void sdfs_uffd_mm_gone(struct sdfs_target *t, struct uffd_state *st);
bool sdfs_uffd_vma_in(const struct uffd_vma_list *l, const struct sdfs_vma *v);
/* Add v to l: 0 or -ENOMEM. */
int sdfs_uffd_vma_add(struct uffd_vma_list *l, const struct sdfs_vma *v);
void sdfs_uffd_vma_list_free(struct uffd_vma_list *l);
/* UFFDIO_WRITEPROTECT [start, start + len): protect, or un-protect. */
int sdfs_uffd_wp_range(int uffd, uint64_t start, uint64_t len, bool protect);

/* ---- uffd_clear.c ---- */
/* Register, capture into out, re-protect, and take the own pages. */
int sdfs_uffd_do_clear(struct sdfs_target *t, struct uffd_state *st,
		       struct sdfs_capture *out);
