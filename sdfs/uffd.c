/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The uffd backend: write tracking with userfaultfd write-protection in
 * async mode (UFFD_FEATURE_WP_ASYNC, 6.7+) read and re-armed with
 * PAGEMAP_SCAN.
 *
 * The userfaultfd must belong to the target's address space, so the
 * target is made to create it (inject.c), sdfs takes a copy
 * (pidfd_getfd) and the target's copy is closed. Everything after that
 * acts from outside on the copy. Faults are resolved by the kernel
 * (WP_ASYNC): no fault of the target ever waits for sdfs, and when sdfs
 * exits the last reference closes and the kernel unregisters every
 * mapping and drops every write-protect bit: the target runs on.
 *
 * Epoch 0 needs nothing: every present or swapped page is dirty. The
 * userfaultfd is made at the first clear (and again after an exec).
 *
 * The clear itself, and why it loses no write: uffd_clear.c.
 *
 * Mappings that appear between clears (mmap, mremap target, brk growth
 * of an unregistered area) are not registered: their present pages read
 * WRITTEN, so they count as dirty until the next clear registers them.
 * mremap without UFFD_EVENT_REMAP and fork drop the registration and the
 * bits: moved pages read WRITTEN.
 *
 * exec: the pagemap fd opened with the userfaultfd stays bound to the
 * old mm. Measured on 6.18: PAGEMAP_SCAN on it then succeeds and reports
 * *nothing* (no error), pread() returns 0, UFFDIO_REGISTER gives ENOMEM
 * and UFFDIO_WRITEPROTECT ESRCH, while the pidfd says the process lives.
 * So liveness of the mm is checked with a one-entry pread before and
 * after every scan and clear. After an exec every present page of the
 * new image is dirty (plain scan) until the next clear attaches anew.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <glib.h>

#include "cleanup.h"
#include "backend.h"
#include "compat.h"
#include "inject.h"
#include "log.h"
#include "scan.h"
#include "uffd_priv.h"

#ifndef UFFD_USER_MODE_ONLY
#define UFFD_USER_MODE_ONLY 1
#endif

/* ---- probe: what this kernel offers (once) ---------------------------- */

static pthread_once_t probe_once = PTHREAD_ONCE_INIT;
static int probe_err;
static char probe_reason[160];
static uint64_t probe_features; /* what to ask for in UFFDIO_API */

/*
 * A userfaultfd of the daemon's own, to probe the kernel. Through
 * /dev/userfaultfd (5.11+) when the syscall is missing here: the kernel
 * may have it while the daemon cannot call it (a syscall filter, or
 * valgrind, which does not know it); the target makes its own by the
 * syscall in any case.
 */
static int make_uffd(void)
{
	const int flags = O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY;
	int fd = (int)syscall(SYS_userfaultfd, flags);
	if (fd >= 0 || errno != ENOSYS)
		return fd;
	int dev = open("/dev/userfaultfd", O_RDWR | O_CLOEXEC);
	if (dev < 0) {
		errno = ENOSYS;
		return -1;
	}
	fd = ioctl(dev, USERFAULTFD_IOC_NEW, flags);
	int err = errno;
	close(dev);
	errno = err;
	return fd;
}

/* The probe's results: regions of written pages. */
struct found {
	struct page_region *v;
	size_t n, max;
};

static int found_region(void *ctx, uint64_t start, uint64_t end,
			uint64_t categories)
{
	struct found *f = ctx;

	if (f->n == f->max)
		return -ENOSPC;
	f->v[f->n++] = (struct page_region){start, end, categories};
	return 0;
}

/* Written pages (present or swapped, not the zero page) in [start, end)
 * into v[0..n); wp: PM_SCAN_WP_MATCHING. The count, or -errno. */
static long scan_written(int pm, uint64_t start, uint64_t end, bool wp,
			 struct page_region *v, size_t n)
{
	struct sdfs_pm_query q = {
		.required = PAGE_IS_WRITTEN,
		.inverted = PAGE_IS_PFNZERO,
		.anyof = PAGE_IS_PRESENT | PAGE_IS_SWAPPED,
		.returned = PAGE_IS_WRITTEN,
		.wp = wp,
	};
	struct found f = {.v = v, .max = n};
	int r = sdfs_pagemap_walk(pm, start, end, &q, found_region, &f);
	return r < 0 ? r : (long)f.n;
}

/* Try the whole mechanism on our own memory. */
static void probe_kernel(void)
{
	size_t ps = sdfs_page_size();
	struct uffdio_api api = {.api = UFFD_API};
	struct page_region v[4];
	char *m = MAP_FAILED;
	int fd = -1, pm = -1;

	probe_err = -ENOTSUP;
	fd = make_uffd();
	if (fd < 0) {
		snprintf(probe_reason, sizeof(probe_reason),
			 "userfaultfd(): %s", g_strerror(errno));
		goto out;
	}
	if (ioctl(fd, UFFDIO_API, &api) < 0) {
		snprintf(probe_reason, sizeof(probe_reason), "UFFDIO_API: %s",
			 g_strerror(errno));
		goto out;
	}
	close(fd);
	const uint64_t need =
		UFFD_FEATURE_WP_ASYNC | UFFD_FEATURE_WP_UNPOPULATED;
	if (!(api.features & UFFD_FEATURE_WP_ASYNC)) {
		snprintf(probe_reason, sizeof(probe_reason),
			 "UFFD_FEATURE_WP_ASYNC not offered by this kernel");
		fd = -1;
		goto out;
	}
	if (!(api.features & UFFD_FEATURE_WP_UNPOPULATED)) {
		snprintf(probe_reason, sizeof(probe_reason),
			 "UFFD_FEATURE_WP_UNPOPULATED not offered by this "
			 "kernel");
		fd = -1;
		goto out;
	}
	probe_features =
		need | (api.features & UFFD_FEATURE_WP_HUGETLBFS_SHMEM);

	/* a second one, with the features (UFFDIO_API works once) */
	fd = make_uffd();
	api = (struct uffdio_api){.api = UFFD_API, .features = probe_features};
	if (fd < 0 || ioctl(fd, UFFDIO_API, &api) < 0) {
		snprintf(probe_reason, sizeof(probe_reason),
			 "UFFDIO_API with WP_ASYNC: %s", g_strerror(errno));
		goto out;
	}
	m = mmap(NULL, 4 * ps, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	pm = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	if (m == MAP_FAILED || pm < 0) {
		snprintf(probe_reason, sizeof(probe_reason), "setup: %s",
			 g_strerror(errno));
		goto out;
	}
	m[0] = 1;
	m[2 * ps] = 1;
	struct uffdio_register reg = {.range = {(uintptr_t)m, 4 * ps},
				      .mode = UFFDIO_REGISTER_MODE_WP};
	if (ioctl(fd, UFFDIO_REGISTER, &reg) < 0) {
		snprintf(probe_reason, sizeof(probe_reason),
			 "UFFDIO_REGISTER (WP): %s", g_strerror(errno));
		goto out;
	}
	uint64_t s = (uintptr_t)m, e = s + 4 * ps;
	long n = scan_written(pm, s, e, true, v, 4);
	if (n < 0) {
		snprintf(probe_reason, sizeof(probe_reason), "PAGEMAP_SCAN: %s",
			 n == -ENOTTY ? "not supported by this kernel (6.7+)"
				      : g_strerror((int)-n));
		goto out;
	}
	long n2 = scan_written(pm, s, e, false, v + 2, 2);
	m[ps] = 1;
	long n3 = scan_written(pm, s, e, false, v + 3, 1);
	if (n != 2 || v[0].start != s || v[1].start != s + 2 * ps || n2 != 0 ||
	    n3 != 1 || v[3].start != s + ps || v[3].end != s + 2 * ps) {
		snprintf(probe_reason, sizeof(probe_reason),
			 "write-protect tracking gave wrong results "
			 "(%ld/%ld/%ld)",
			 n, n2, n3);
		goto out;
	}
	probe_err = 0;
	snprintf(probe_reason, sizeof(probe_reason),
		 "userfaultfd WP_ASYNC + PAGEMAP_SCAN");
out:
	if (fd >= 0)
		close(fd); /* unregisters */
	if (m != MAP_FAILED)
		munmap(m, 4 * ps);
	if (pm >= 0)
		close(pm);
}

static int uffd_probe(char *reason, size_t len)
{
	pthread_once(&probe_once, probe_kernel);
	snprintf(reason, len, "%s", probe_reason);
	return probe_err;
}

/* ---- per-target state ------------------------------------------------- */

static int uffd_attach(struct sdfs_target *t)
{
	/* epoch 0 needs nothing from the target: defer to the first clear */
	t->priv = sdfs_uffd_state_new();
	return t->priv ? 0 : -ENOMEM;
}

static void uffd_detach(struct sdfs_target *t)
{
	sdfs_uffd_state_free(t->priv);
	t->priv = NULL;
}

/* Every present page: epoch 0, or a new image after exec. */
static int scan_all(struct sdfs_target *t, const struct sdfs_scan_req *req)
{
	sdfs_autofd int fd = sdfs_pagemap_open(t->pid);

	if (fd < 0)
		return fd;
	return sdfs_scan(fd, req, SDFS_NEED_NOTHING, false, false);
}

static int uffd_scan(struct sdfs_target *t, const struct sdfs_scan_req *req)
{
	struct uffd_state *st = t->priv;

	if (st->uffd >= 0 && !sdfs_uffd_mm_alive(st))
		sdfs_uffd_mm_gone(t, st);
	if (t->epoch == 0 || st->uffd < 0)
		return scan_all(t, req);

	/*
	 * Per mapping: never-writable ones are clean after the epoch they
	 * appeared in; unregistrable ones seen at the last clear count their
	 * copied-on-write (anonymous) pages; the rest their written pages.
	 * Consecutive mappings of one kind go in one scan, so runs still
	 * come in address order.
	 */
	const struct sdfs_maps *all = req->maps;
	int r = 0;
	size_t i = 0;
	while (i < all->n && r == 0) {
		const struct sdfs_vma *v = &all->vmas[i];
		if (sdfs_uffd_vma_in(&st->clean, v)) {
			i++;
			continue;
		}
		bool plain = sdfs_uffd_vma_in(&st->plain, v);
		size_t j = i + 1;
		while (j < all->n && !sdfs_uffd_vma_in(&st->clean, &all->vmas[j]) &&
		       sdfs_uffd_vma_in(&st->plain, &all->vmas[j]) == plain)
			j++;
		struct sdfs_maps group = {.vmas = &all->vmas[i], .n = j - i};
		struct sdfs_scan_req r2 = *req;
		r2.maps = &group;
		r = sdfs_scan(st->pm_fd, &r2,
			      plain ? SDFS_NEED_ANON : SDFS_NEED_WRITTEN, false,
			      false);
		i = j;
	}
	if (r >= 0 && !sdfs_uffd_mm_alive(st)) {
		/* exec'd during the scan: what was reported is of the old
		 * image; ask again (the next scan sees the new one) */
		sdfs_uffd_mm_gone(t, st);
		return -EAGAIN;
	}
	return r;
}

/* ---- clear ------------------------------------------------------------ */

static int errno_for_inject(int r)
{
	switch (r) {
	case -ESRCH:
	case -EBUSY: /* traced by a debugger: transient, say so */
	case -EAGAIN:
	case -ENOMEM:
	case -EMFILE: /* sdfs itself is out of file descriptors */
	case -ENFILE:
		return r;
	case -EPERM:
	case -EACCES:
		return -EACCES;
	default: /* seccomp, compat task, cannot be stopped, uffd refused */
		return -ENOTSUP;
	}
}

/* Make the target's userfaultfd and negotiate WP_ASYNC. */
static int setup(struct sdfs_target *t, struct uffd_state *st)
{
	char why[160] = "";
	long sys = 0;
	const long args[6] = {O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY};

	pthread_once(&probe_once, probe_kernel);
	if (probe_err < 0) {
		sdfs_log("uffd: pid %d: %s", (int)t->pid, probe_reason);
		return -ENOTSUP;
	}
	/* first the pagemap fd: should an exec come between the two, the
	 * pagemap fd is the one on the dead mm, and that is detected */
	st->pm_fd = sdfs_pagemap_open(t->pid);
	if (st->pm_fd < 0) {
		int r = st->pm_fd;
		st->pm_fd = -1;
		return r;
	}
	int fd = sdfs_inject_take_fd(t->pid, t->pidfd, SYS_userfaultfd, args,
				     &sys, why, sizeof(why));
	if (fd < 0) {
		if (fd != -ESRCH)
			sdfs_log("uffd: pid %d: cannot create its userfaultfd: "
				 "%s",
				 (int)t->pid, why[0] ? why : g_strerror(-fd));
		sdfs_uffd_teardown(st);
		return fd == -ECANCELED ? -ENOTSUP : errno_for_inject(fd);
	}
	st->uffd = fd;
	struct uffdio_api api = {.api = UFFD_API, .features = probe_features};
	if (ioctl(fd, UFFDIO_API, &api) < 0) {
		sdfs_log("uffd: pid %d: UFFDIO_API: %s", (int)t->pid,
			 g_strerror(errno));
		sdfs_uffd_teardown(st);
		return -ENOTSUP;
	}
	return 0;
}

static int uffd_clear(struct sdfs_target *t, struct sdfs_capture *out,
		      struct sdfs_clear_stats *stats)
{
	struct uffd_state *st = t->priv;
	int r = -EAGAIN;

	if (stats)
		stats->frozen_us = 0; /* never stopped (the guarantee of sdfs(5) holds) */
	for (int attempt = 0; attempt < 3 && r == -EAGAIN; attempt++) {
		if (st->uffd >= 0 && !sdfs_uffd_mm_alive(st))
			sdfs_uffd_mm_gone(t, st);
		if (st->uffd < 0) {
			r = setup(t, st);
			if (r < 0)
				return r;
		}
		sdfs_dirtyset_clear(&out->dirty);
		sdfs_dirtyset_clear(&out->own);
		g_free(out->maps);
		out->maps = NULL;
		r = sdfs_uffd_do_clear(t, st, out);
		if (r < 0 && r != -EAGAIN && t->epoch == 0) {
			/* leave the target as we found it */
			sdfs_uffd_teardown(st);
		}
	}
	return r;
}

const struct sdfs_backend sdfs_backend_uffd = {
	.name = "uffd",
	.probe = uffd_probe,
	.attach = uffd_attach,
	.detach = uffd_detach,
	.scan = uffd_scan,
	.clear = uffd_clear,
};
