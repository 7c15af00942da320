/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The soft-dirty backend: the kernel sets bit 55 of a page's pagemap
 * entry when the page is written; writing "4" to /proc/PID/clear_refs
 * clears the bits of the whole process. Capture and clear happen with
 * every thread stopped, so a racing write lands either before the
 * capture (seen now) or after the clear (seen next epoch).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <glib.h>

#include "cleanup.h"
#include "backend.h"
#include "compat.h"
#include "freeze.h"
#include "log.h"
#include "scan.h"

static int write_clear_refs(pid_t pid)
{
	sdfs_autofd int fd = sdfs_proc_open(pid, "clear_refs", O_WRONLY);

	if (fd < 0)
		return fd;
	return write(fd, "4", 1) == 1 ? 0 : -errno;
}

static int self_bit55(int fd, const volatile char *p, bool *set)
{
	uint64_t e;
	off_t off = (off_t)((uintptr_t)p / sdfs_page_size() * 8);

	if (pread(fd, &e, sizeof(e), off) != sizeof(e))
		return -errno;
	*set = (e & PM_SOFT_DIRTY) != 0;
	return 0;
}

/* Write, clear, read bit 55 (must be clear), write, read (must be set). */
static int sd_probe(char *reason, size_t len)
{
	size_t ps = sdfs_page_size();
	int err = 0;
	bool set = false;

	int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(reason, len, "cannot open /proc/self/pagemap: %s",
			 strerror(errno));
		return -errno;
	}
	volatile char *p = mmap(NULL, ps, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		close(fd);
		snprintf(reason, len, "mmap: %s", strerror(errno));
		return -ENOMEM;
	}
	p[0] = 1;
	err = write_clear_refs(0);
	if (err < 0) {
		snprintf(reason, len, "cannot write /proc/self/clear_refs: %s",
			 strerror(-err));
		goto out;
	}
	err = self_bit55(fd, p, &set);
	if (err < 0) {
		snprintf(reason, len, "cannot read pagemap: %s", strerror(-err));
		goto out;
	}
	if (set) {
		snprintf(reason, len,
			 "clear_refs did not clear bit 55 of a written page");
		err = -ENOTSUP;
		goto out;
	}
	p[0] = 2;
	err = self_bit55(fd, p, &set);
	if (err < 0) {
		snprintf(reason, len, "cannot read pagemap: %s", strerror(-err));
		goto out;
	}
	if (!set) {
		snprintf(reason, len,
			 "CONFIG_MEM_SOFT_DIRTY not set: bit 55 stays clear after a write");
		err = -ENOTSUP;
		goto out;
	}
	snprintf(reason, len, "bit 55 of pagemap, %s",
		 sdfs_have_scan_soft_dirty() ? "PAGEMAP_SCAN" : "pread scan");
out:
	munmap((void *)p, ps);
	close(fd);
	return err;
}

static int sd_attach(struct sdfs_target *t)
{
	t->priv = NULL;
	return 0;
}

static void sd_detach(struct sdfs_target *t)
{
}

static enum sdfs_scan_need sd_need(const struct sdfs_target *t)
{
	/* epoch 0: every present page, whatever the bits say (sdfs(5)) */
	return t->epoch == 0 ? SDFS_NEED_NOTHING : SDFS_NEED_SOFT_DIRTY;
}

static int sd_scan(struct sdfs_target *t, const struct sdfs_scan_req *req)
{
	sdfs_autofd int fd = sdfs_pagemap_open(t->pid);

	if (fd < 0)
		return fd;
	return sdfs_scan(fd, req, sd_need(t), false, false);
}

static uint64_t mono_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000ULL + (uint64_t)ts.tv_nsec / 1000;
}

/* Capture the dirty set into out and clear the bits; the process is
 * stopped (or nofreeze) around this. maps: the mappings read for it. */
static int capture_and_clear(struct sdfs_target *t, struct sdfs_capture *out,
			     struct sdfs_maps *maps)
{
	int r = sdfs_maps_read_text(t->pid, maps, &out->maps, &out->maps_len);
	if (r < 0)
		return r;
	sdfs_autofd int fd = sdfs_pagemap_open(t->pid);
	if (fd < 0)
		return fd;
	r = sdfs_scan_into(fd, maps, sd_need(t), &out->dirty);
	if (r < 0)
		return r;
	return write_clear_refs(t->pid);
}

/*
 * The own pages, once the process runs again: outside the freeze, so that
 * it costs no stopped time. What changes meanwhile is seen by the next
 * clear: a page written after the thaw is dirty in the new epoch, one
 * dropped before this walk is dropped now (the capture has its content if
 * it was written), one dropped after it is dropped next time.
 */
static int own_pages(struct sdfs_target *t, struct sdfs_capture *out,
		     const struct sdfs_maps *maps)
{
	sdfs_autofd int fd = sdfs_pagemap_open(t->pid);
	if (fd < 0)
		return fd;
	return sdfs_scan_into(fd, maps, SDFS_NEED_OWN, &out->own);
}

static int sd_clear(struct sdfs_target *t, struct sdfs_capture *out,
		    struct sdfs_clear_stats *st)
{
	g_auto(SdfsMaps) maps = {0};
	struct sdfs_freeze f;
	int r;

	st->frozen_us = 0;
	if (t->nofreeze) {
		r = capture_and_clear(t, out, &maps);
	} else {
		uint64_t t0 = mono_us();
		r = sdfs_freeze(t->pid, &f);
		if (r == -EALREADY) {
			/* stopped under a debugger: it cannot run, so no
			 * write can race; nothing of ours to undo */
			r = capture_and_clear(t, out, &maps);
		} else if (r < 0) {
			sdfs_log("pid %d: cannot stop the process for a "
				 "clear: %s",
				 (int)t->pid, strerror(-r));
			return r;
		} else {
			r = capture_and_clear(t, out, &maps);
			sdfs_thaw(&f);
			st->frozen_us = mono_us() - t0;
		}
	}
	/* the bits are cleared: what fails now is not the clear's failure
	 * (the capture must be published: tracker.c) */
	if (r == 0)
		out->own_err = own_pages(t, out, &maps);
	return r;
}

const struct sdfs_backend sdfs_backend_softdirty = {
	.name = "soft-dirty",
	.probe = sd_probe,
	.attach = sd_attach,
	.detach = sd_detach,
	.scan = sd_scan,
	.clear = sd_clear,
};
