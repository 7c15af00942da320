/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The uffd backend's clear (see uffd.c for the whole picture).
 *
 * === A clear, and why no write is lost ===
 *
 * 1. Register every mapping in WP mode (a no-op for those already
 *    registered). Registering changes no PTE: a page that was never
 *    write-protected still reads PAGE_IS_WRITTEN.
 * 2. Capture, mapping by mapping, with PM_SCAN_WP_MATCHING: the kernel
 *    reports each written page and write-protects it under the same page
 *    table lock. A write before that moment is in the capture; a write
 *    after it takes an async WP fault, which clears the bit again, and is
 *    reported in the next epoch. Mappings that could not be registered
 *    are captured by a plain scan: all their present pages read WRITTEN.
 * 3. File-backed mappings only (anonymous holes read as the zero page,
 *    which is never reported): write-protect the *holes*, so that a later
 *    read fault maps the page protected instead of looking like a write.
 *    This is a second WP_MATCHING walk whose categories select only
 *    entries that are neither present nor swapped, so a page that became
 *    present meanwhile is left alone. One path of the kernel is not
 *    exact: a hole without any page table goes through uffd_wp_range(),
 *    which write-protects whatever is there by the time it takes the
 *    page table lock: a page faulted in and written in that instant would
 *    lose its WRITTEN bit. So every range the pass reported as a hole is
 *    scanned again right after, and whatever is present there now is
 *    un-protected (UFFDIO_WRITEPROTECT mode 0: it reads WRITTEN again and
 *    is reported in the new epoch). Un-protecting can only add to the
 *    dirty set, never lose a write.
 *    On 6.18 this keeps read faults of file pages after a clear clean;
 *    on 6.12 such pages read WRITTEN once faulted in whatever we do (SPEC
 *    allows that over-report there). Very large file mappings (over
 *    HOLE_PASS_MAX) are not given this pass: it would allocate page
 *    tables for all of them; their pages first read after a clear are
 *    over-reported.
 * If anything fails after step 2 began, every page of the mappings
 * captured so far is un-protected before the error is returned: the
 * caller discards the capture, and the pages will read WRITTEN again in
 * the unchanged epoch. Over-report, never loss.
 *
 * Mappings the kernel refuses to register:
 *   EPERM: no VM_MAYWRITE (a shared mapping of a file opened read-only).
 *     The process can never write them. They count as dirty in the epoch
 *     in which they are first seen (like any new mapping, and like
 *     soft-dirty's VM_SOFTDIRTY) and clean afterwards, while the mapping
 *     is the same (start, end, offset, inode).
 *   EINVAL: not registrable (e.g. VM_DROPPABLE). Always reported dirty.
 *   EBUSY: registered with the process's own userfaultfd. Its bits mean
 *     nothing to us: the clear fails with ENOTSUP (SPEC §3.5).
 *
 * The first clear (and the first after an exec) is the same sequence on
 * a fresh userfaultfd: nothing is registered yet, no PTE carries a
 * write-protect bit, so step 2 reports every present or swapped page
 * (exactly the epoch-0 set) and protects it. Proof that a write W to
 * page P at time t is never lost, by where P is when the capture walk
 * takes P's page table lock at time c:
 *   - P registered, t < c: P's PTE has no WP bit (never protected, or
 *     the async fault of W cleared it): reported in this capture.
 *   - P registered, t > c: P was protected at c; W faults, the kernel
 *     clears the bit: WRITTEN in the new epoch, reported by its scans and
 *     by the next capture.
 *   - P not present at c (hole): W populates it afterwards with no WP
 *     bit (anonymous), or a marker turns into a written PTE (file):
 *     WRITTEN in the new epoch. The step-3 race is covered above.
 *   - P's mapping not registered at c (appeared after our maps read,
 *     mremap'd, or refused with EINVAL): its present pages read WRITTEN
 *     until a later clear registers and captures them: W is reported in
 *     this or a later epoch.
 *   - P in a never-writable (EPERM) mapping: no W can exist.
 * Writes through other mm users (process_vm_writev, /proc/PID/mem, GUP
 * by drivers) fault through the same PTEs and are covered alike.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>

#include "log.h"
#include "scan.h"
#include "uffd_priv.h"

#define HOLE_PASS_MAX (1ULL << 30) /* per mapping: 2 MiB of page tables */
#define HOLE_VEC 256

int sdfs_uffd_wp_range(int uffd, uint64_t start, uint64_t len, bool protect)
{
	struct uffdio_writeprotect wp = {
		.range = {start, len},
		.mode = protect ? UFFDIO_WRITEPROTECT_MODE_WP : 0,
	};
	return ioctl(uffd, UFFDIO_WRITEPROTECT, &wp) < 0 ? -errno : 0;
}

static bool vma_in(const GArray *list, const struct sdfs_vma *v)
{
	for (guint i = 0; list && i < list->len; i++) {
		const struct clean_vma *c =
			&g_array_index(list, struct clean_vma, i);
		if (c->start == v->start && c->end == v->end &&
		    c->offset == v->offset && c->inode == v->inode &&
		    c->dev_major == v->dev_major &&
		    c->dev_minor == v->dev_minor)
			return true;
	}
	return false;
}

bool sdfs_uffd_is_clean(const struct uffd_state *st, const struct sdfs_vma *v)
{
	return vma_in(st->clean, v);
}

bool sdfs_uffd_is_plain(const struct uffd_state *st, const struct sdfs_vma *v)
{
	return vma_in(st->plain, v);
}

static void vma_remember(GArray *list, const struct sdfs_vma *v)
{
	struct clean_vma c = {v->start,	 v->end,       v->offset,
			      v->inode,	 v->dev_major, v->dev_minor};
	g_array_append_val(list, c);
}

enum vma_kind {
	VMA_SKIP, /* untrackable, or never writable and seen before */
	VMA_REGISTERED,
	VMA_PLAIN,     /* not registrable, new: every present page counts */
	VMA_PLAIN_SEEN, /* not registrable, seen at the last clear: only
			 * pages written since (anonymous copies) count */
	VMA_NEW_CLEAN, /* never writable, seen now for the first time */
};

/* Un-protect the file holes that got a page meanwhile (see the top). */
static int hole_pass(struct uffd_state *st, const struct sdfs_vma *v)
{
	struct page_region hv[HOLE_VEC], pv[HOLE_VEC];
	struct pm_scan_arg a = {
		.size = sizeof(a),
		.flags = PM_SCAN_WP_MATCHING,
		.start = v->start,
		.end = v->end,
		.vec = (uintptr_t)hv,
		.vec_len = HOLE_VEC,
		.category_inverted = PAGE_IS_PRESENT | PAGE_IS_SWAPPED,
		.category_mask = PAGE_IS_PRESENT | PAGE_IS_SWAPPED,
		.return_mask = PAGE_IS_WPALLOWED,
	};

	while (a.start < v->end) {
		long n = sdfs_pagemap_scan(st->pm_fd, &a);
		if (n < 0)
			return (int)n;
		for (long i = 0; i < n; i++) {
			/*
			 * Present now: maybe protected in the race. Take every
			 * present page, not only the protected ones: the
			 * written ones are dirty anyway. Not SWAPPED: that
			 * is what the markers just installed read as. (A page
			 * faulted in, written, protected by the race and
			 * swapped out again within these microseconds would
			 * be missed; reclaim does not take a page that young.)
			 */
			struct pm_scan_arg b = {
				.size = sizeof(b),
				.start = hv[i].start,
				.end = hv[i].end,
				.vec = (uintptr_t)pv,
				.vec_len = HOLE_VEC,
				.category_mask = PAGE_IS_PRESENT,
				.return_mask = PAGE_IS_PRESENT,
			};
			while (b.start < hv[i].end) {
				long m = sdfs_pagemap_scan(st->pm_fd, &b);
				if (m < 0)
					return (int)m;
				for (long j = 0; j < m; j++) {
					int r = sdfs_uffd_wp_range(
						st->uffd, pv[j].start,
						pv[j].end - pv[j].start, false);
					if (r < 0 && r != -ENOENT)
						return r;
				}
				if (b.walk_end <= b.start)
					break;
				b.start = b.walk_end;
			}
		}
		if (a.walk_end <= a.start)
			break;
		a.start = a.walk_end;
	}
	return 0;
}

int sdfs_uffd_do_clear(struct sdfs_target *t, struct uffd_state *st,
		       struct sdfs_capture *out)
{
	struct sdfs_maps maps = {0};
	g_autofree enum vma_kind *kind = NULL;
	size_t captured = 0; /* vmas whose capture may have protected pages */
	uint64_t hole_budget = 4 * HOLE_PASS_MAX;
	int r;

	r = sdfs_maps_read_text(t->pid, &maps, &out->maps, &out->maps_len);
	if (r < 0)
		return r;
	kind = g_new0(enum vma_kind, maps.n ? maps.n : 1);

	/* 1. register */
	for (size_t i = 0; i < maps.n; i++) {
		const struct sdfs_vma *v = &maps.vmas[i];
		if (!sdfs_vma_trackable(v) || sdfs_uffd_is_clean(st, v)) {
			kind[i] = VMA_SKIP;
			continue;
		}
		struct uffdio_register reg = {
			.range = {v->start, v->end - v->start},
			.mode = UFFDIO_REGISTER_MODE_WP,
		};
		if (ioctl(st->uffd, UFFDIO_REGISTER, &reg) == 0) {
			kind[i] = VMA_REGISTERED;
			continue;
		}
		switch (errno) {
		case EBUSY:
			sdfs_log("uffd: pid %d: mapping %" PRIx64 "-%" PRIx64
				 " %s is registered with the process's own "
				 "userfaultfd: cannot track it",
				 (int)t->pid, v->start, v->end,
				 v->path[0] ? v->path : "(anonymous)");
			r = -ENOTSUP;
			goto out;
		case EPERM: /* no VM_MAYWRITE: it can never be written */
			kind[i] = VMA_NEW_CLEAN;
			break;
		case ESRCH:
			r = -ESRCH;
			goto out;
		default: /* EINVAL: not registrable; ENOMEM: gone meanwhile */
			kind[i] = sdfs_uffd_is_plain(st, v) ? VMA_PLAIN_SEEN
							    : VMA_PLAIN;
			break;
		}
	}

	/* 2. capture, in address order */
	for (size_t i = 0; i < maps.n; i++) {
		if (kind[i] == VMA_SKIP)
			continue;
		struct sdfs_maps one = {.vmas = &maps.vmas[i], .n = 1};
		struct sdfs_scan_req req = {
			.maps = &one,
			.from = maps.vmas[i].start,
			.to = maps.vmas[i].end,
			.fn = sdfs_scan_collect_fn,
			.ctx = &out->dirty,
		};
		captured = i + 1;
		r = sdfs_scan(st->pm_fd, &req,
			      kind[i] == VMA_PLAIN_SEEN ? SDFS_NEED_ANON
							: SDFS_NEED_WRITTEN,
			      kind[i] == VMA_REGISTERED, false);
		if (r < 0)
			goto out;
	}

	/* 3. protect the holes of file mappings */
	for (size_t i = 0; i < maps.n; i++) {
		const struct sdfs_vma *v = &maps.vmas[i];
		uint64_t len = v->end - v->start;
		if (kind[i] != VMA_REGISTERED || v->inode == 0 ||
		    len > HOLE_PASS_MAX || len > hole_budget)
			continue;
		hole_budget -= len;
		r = hole_pass(st, v);
		if (r < 0)
			goto out;
	}

	/* 4. the own pages, now that the holes' markers are in place (they
	 * are not pages: scan.c) */
	struct sdfs_scan_req own = {
		.maps = &maps,
		.from = 0,
		.to = UINT64_MAX,
		.fn = sdfs_scan_collect_fn,
		.ctx = &out->own,
	};
	r = sdfs_scan(st->pm_fd, &own, SDFS_NEED_OWN, false, false);
	if (r < 0)
		goto out;

	if (!sdfs_uffd_mm_alive(st)) {
		sdfs_uffd_mm_gone(t, st);
		r = -EAGAIN;
		captured = 0;
		goto out;
	}

	/* remember the never-writable mappings; forget those gone */
	GArray *clean = g_array_new(false, false, sizeof(struct clean_vma));
	GArray *plain = g_array_new(false, false, sizeof(struct clean_vma));
	for (size_t i = 0; i < maps.n; i++) {
		const struct sdfs_vma *v = &maps.vmas[i];
		if (kind[i] == VMA_NEW_CLEAN ||
		    (kind[i] == VMA_SKIP && sdfs_uffd_is_clean(st, v)))
			vma_remember(clean, v);
		else if (kind[i] == VMA_PLAIN || kind[i] == VMA_PLAIN_SEEN)
			vma_remember(plain, v);
	}
	g_array_free(st->clean, true);
	st->clean = clean;
	if (st->plain)
		g_array_free(st->plain, true);
	st->plain = plain;
	r = 0;
out:
	if (r < 0) {
		/* whatever the capture protected reads WRITTEN again */
		for (size_t i = 0; i < captured; i++)
			if (kind[i] == VMA_REGISTERED)
				sdfs_uffd_wp_range(st->uffd, maps.vmas[i].start,
						   maps.vmas[i].end -
							   maps.vmas[i].start,
						   false);
	}
	sdfs_maps_free(&maps);
	return r;
}
