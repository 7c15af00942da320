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
 *    on 6.12 such pages read WRITTEN once faulted in whatever we do (sdfs(5)
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
 *     nothing to us: the clear fails with ENOTSUP (sdfs(5) ERRORS).
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

#include <glib.h>

#include "compat.h"
#include "log.h"
#include "scan.h"
#include "uffd_priv.h"

#define HOLE_PASS_MAX (1ULL << 30) /* per mapping: 2 MiB of page tables */
#define HOLE_VEC 256

enum vma_kind {
	VMA_SKIP, /* untrackable, or never writable and seen before */
	VMA_REGISTERED,
	VMA_PLAIN,     /* not registrable, new: every present page counts */
	VMA_PLAIN_SEEN, /* not registrable, seen at the last clear: only
			 * pages written since (anonymous copies) count */
	VMA_NEW_CLEAN, /* never writable, seen now for the first time */
};

/* One clear in progress. */
struct clear {
	struct sdfs_target *t;
	struct uffd_state *st;
	struct sdfs_capture *out;
	struct sdfs_maps maps;
	enum vma_kind *kind; /* per mapping of maps */
	size_t captured; /* mappings whose capture may have protected pages */
};

/* 1. Register every mapping in write-protect mode (a no-op for those
 * registered already) and sort them by what the kernel said. */
static int register_mappings(struct clear *c)
{
	for (size_t i = 0; i < c->maps.n; i++) {
		const struct sdfs_vma *v = &c->maps.vmas[i];
		if (!sdfs_vma_trackable(v) || sdfs_uffd_vma_in(&c->st->clean, v)) {
			c->kind[i] = VMA_SKIP;
			continue;
		}
		struct uffdio_register reg = {
			.range = {v->start, v->end - v->start},
			.mode = UFFDIO_REGISTER_MODE_WP,
		};
		if (ioctl(c->st->uffd, UFFDIO_REGISTER, &reg) == 0) {
			c->kind[i] = VMA_REGISTERED;
			continue;
		}
		switch (errno) {
		case EBUSY:
			sdfs_log("uffd: pid %d: mapping %" PRIx64 "-%" PRIx64
				 " %s is registered with the process's own "
				 "userfaultfd: cannot track it",
				 (int)c->t->pid, v->start, v->end,
				 v->path[0] ? v->path : "(anonymous)");
			return -ENOTSUP;
		case EPERM: /* no VM_MAYWRITE: it can never be written */
			c->kind[i] = VMA_NEW_CLEAN;
			break;
		case ESRCH:
			return -ESRCH;
		default: /* EINVAL: not registrable; ENOMEM: gone meanwhile */
			c->kind[i] = sdfs_uffd_vma_in(&c->st->plain, v)
					     ? VMA_PLAIN_SEEN
					     : VMA_PLAIN;
			break;
		}
	}
	return 0;
}

/* 2. Capture, in address order: written pages, write-protected in the
 * same walk where the mapping is registered. */
static int capture(struct clear *c)
{
	for (size_t i = 0; i < c->maps.n; i++) {
		if (c->kind[i] == VMA_SKIP)
			continue;
		const struct sdfs_vma *v = &c->maps.vmas[i];
		struct sdfs_maps one = {.vmas = &c->maps.vmas[i], .n = 1};
		struct sdfs_scan_req req = {
			.maps = &one,
			.from = v->start,
			.to = v->end,
			.fn = sdfs_scan_collect_fn,
			.ctx = &c->out->dirty,
		};
		c->captured = i + 1;
		int r = sdfs_scan(c->st->pm_fd, &req,
				  c->kind[i] == VMA_PLAIN_SEEN ? SDFS_NEED_ANON
							       : SDFS_NEED_WRITTEN,
				  c->kind[i] == VMA_REGISTERED, false);
		if (r < 0)
			return r;
	}
	return 0;
}

struct unprotect {
	int uffd;
	int pm_fd;
};

/* A page present in a range just protected as a hole: un-protect it. */
static int unprotect_region(void *ctx, uint64_t start, uint64_t end,
			    uint64_t categories)
{
	struct unprotect *u = ctx;
	int r = sdfs_uffd_wp_range(u->uffd, start, end - start, false);
	return r == -ENOENT ? 0 : r;
}

/* A range the hole pass protected: un-protect what is present there now
 * (see the top: the race of uffd_wp_range()). Not SWAPPED: that is what
 * the markers just installed read as. (A page faulted in, written,
 * protected by the race and swapped out again within these
 * microseconds would be missed; reclaim does not take a page that
 * young.) */
static int recheck_hole(void *ctx, uint64_t start, uint64_t end,
			uint64_t categories)
{
	struct unprotect *u = ctx;
	struct sdfs_pm_query present = {.required = PAGE_IS_PRESENT,
					.returned = PAGE_IS_PRESENT};
	return sdfs_pagemap_walk(u->pm_fd, start, end, &present,
				 unprotect_region, u);
}

/* 3. File mappings: write-protect the holes, then un-protect whatever
 * became present in them meanwhile. */
static int protect_holes(struct clear *c)
{
	uint64_t budget = 4 * HOLE_PASS_MAX;
	struct unprotect u = {.uffd = c->st->uffd, .pm_fd = c->st->pm_fd};
	struct sdfs_pm_query holes = {
		.inverted = PAGE_IS_PRESENT | PAGE_IS_SWAPPED,
		.returned = PAGE_IS_WPALLOWED,
		.wp = true,
	};

	for (size_t i = 0; i < c->maps.n; i++) {
		const struct sdfs_vma *v = &c->maps.vmas[i];
		uint64_t len = v->end - v->start;
		if (c->kind[i] != VMA_REGISTERED || v->inode == 0 ||
		    len > HOLE_PASS_MAX || len > budget)
			continue;
		budget -= len;
		int r = sdfs_pagemap_walk(c->st->pm_fd, v->start, v->end,
					  &holes, recheck_hole, &u);
		if (r < 0)
			return r;
	}
	return 0;
}

/* 4. The own pages. Beside the capture and the hole pass: write
 * protection changes no page's presence, and a hole is a hole whether
 * the walk meets it before or after it became a marker (markers are not
 * pages: scan.c). The thread runs with the caller's credentials, which
 * it inherits from the thread that starts it. */
static int own_pages(struct clear *c)
{
	return sdfs_scan_into(c->st->pm_fd, &c->maps, SDFS_NEED_OWN,
			      &c->out->own);
}

struct own_job {
	struct clear *c;
	int r;
};

static gpointer own_thread(gpointer p)
{
	struct own_job *j = p;

	j->r = own_pages(j->c);
	return NULL;
}

/* Keep the never-writable and the unregistrable mappings of this clear
 * for the next one; forget those gone. */
static int remember_mappings(struct clear *c)
{
	struct uffd_vma_list clean = {0}, plain = {0};
	int r = 0;

	for (size_t i = 0; i < c->maps.n && r == 0; i++) {
		const struct sdfs_vma *v = &c->maps.vmas[i];
		if (c->kind[i] == VMA_NEW_CLEAN ||
		    (c->kind[i] == VMA_SKIP && sdfs_uffd_vma_in(&c->st->clean, v)))
			r = sdfs_uffd_vma_add(&clean, v);
		else if (c->kind[i] == VMA_PLAIN || c->kind[i] == VMA_PLAIN_SEEN)
			r = sdfs_uffd_vma_add(&plain, v);
	}
	if (r < 0) {
		sdfs_uffd_vma_list_free(&clean);
		sdfs_uffd_vma_list_free(&plain);
		return r;
	}
	sdfs_uffd_vma_list_free(&c->st->clean);
	sdfs_uffd_vma_list_free(&c->st->plain);
	c->st->clean = clean;
	c->st->plain = plain;
	return 0;
}

/* On failure: whatever the capture protected reads WRITTEN again. */
static void unprotect_captured(struct clear *c)
{
	for (size_t i = 0; i < c->captured; i++)
		if (c->kind[i] == VMA_REGISTERED)
			sdfs_uffd_wp_range(c->st->uffd, c->maps.vmas[i].start,
					   c->maps.vmas[i].end -
						   c->maps.vmas[i].start,
					   false);
}

int sdfs_uffd_do_clear(struct sdfs_target *t, struct uffd_state *st,
		       struct sdfs_capture *out)
{
	struct clear c = {.t = t, .st = st, .out = out};
	int r = sdfs_maps_read_text(t->pid, &c.maps, &out->maps,
				    &out->maps_len);
	if (r < 0)
		return r;
	c.kind = g_try_new0(enum vma_kind, c.maps.n ? c.maps.n : 1);
	r = c.kind ? 0 : -ENOMEM;
	if (r == 0)
		r = register_mappings(&c);
	/* the own-page walk is a second walk of the page tables: it runs
	 * beside the capture, on another CPU when there is one (it needs
	 * no order with it: see own_pages) */
	struct own_job job = {.c = &c};
	GThread *th = r == 0 ? g_thread_try_new("sdfs-own", own_thread, &job,
						NULL)
			     : NULL;
	if (r == 0)
		r = capture(&c);
	if (r == 0)
		r = protect_holes(&c);
	if (th) {
		g_thread_join(th);
		if (r == 0)
			r = job.r;
	} else if (r == 0) {
		r = own_pages(&c);
	}
	if (r == 0 && !sdfs_uffd_mm_alive(st)) {
		/* exec'd meanwhile: nothing of this is the new image's */
		sdfs_uffd_mm_gone(t, st);
		c.captured = 0;
		r = -EAGAIN;
	}
	if (r == 0)
		r = remember_mappings(&c);
	if (r < 0)
		unprotect_captured(&c);
	g_free(c.kind);
	sdfs_maps_free(&c.maps);
	return r;
}
