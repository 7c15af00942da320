/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The interface every write-tracking backend implements. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "proc.h"
#include "ranges.h"

/*
 * Called for each run of dirty pages, in ascending order, never crossing
 * a mapping; vma is the mapping the run lies in. Return 0 to go on, a
 * positive value to stop the scan (the scan then returns that value), or
 * -errno to abort. Called with vma NULL when a scan starts over (the
 * process exec'd during it: sdfs_tracker_scan): forget the runs given so
 * far.
 */
typedef int (*sdfs_run_fn)(void *ctx, const struct sdfs_vma *vma,
			   uint64_t start, uint64_t end);

struct sdfs_scan_req {
	const struct sdfs_maps *maps; /* trackable mappings only matter */
	uint64_t from, to; /* scan [from, to); page aligned */
	sdfs_run_fn fn;
	void *ctx;
};

/* What a backend knows of the process it tracks. Owned by the tracker. */
struct sdfs_target {
	pid_t pid;
	int pidfd;
	uint64_t starttime;
	uint64_t epoch; /* 0 before the first clear: every present page is dirty */
	bool nofreeze; /* mount option: do not stop the target during a clear */
	void *priv; /* backend state */
};

/* What a clear captures (owned by the caller; empty on entry). */
struct sdfs_capture {
	struct sdfs_dirtyset dirty; /* written in the epoch that ended */
	struct sdfs_dirtyset own; /* own pages at the clear (sdfs(5)) */
	/* the own pages could not be taken (the dirty set is good): -errno */
	int own_err;
	char *maps; /* /proc/PID/maps as read for the clear (g_free) */
	size_t maps_len;
};

struct sdfs_clear_stats {
	uint64_t frozen_us; /* how long the process was held stopped */
};

struct sdfs_backend {
	const char *name; /* "soft-dirty", "uffd" */
	/* 0 if usable on this kernel; else -errno and a one-line reason. */
	int (*probe)(char *reason, size_t len);
	/* Set up t->priv. May defer real work to the first clear. */
	int (*attach)(struct sdfs_target *t);
	/* Release t->priv; the target must run on unaffected. */
	void (*detach)(struct sdfs_target *t);
	/* Scan the current epoch's dirty set (t->epoch == 0: every present
	 * or swapped page, minus the zero page). */
	int (*scan)(struct sdfs_target *t, const struct sdfs_scan_req *req);
	/*
	 * End the epoch: put the current dirty set into out->dirty and
	 * restart tracking, so that every write is seen either in out or in
	 * the next epoch (sdfs(5): no write is lost at a clear); with it the
	 * own pages and the maps text of the same moment. The caller
	 * increments t->epoch after success. On failure nothing is cleared
	 * and out is discarded; a failure to take the own pages once the
	 * epoch has ended is no failure of the clear: out->own_err.
	 */
	int (*clear)(struct sdfs_target *t, struct sdfs_capture *out,
		     struct sdfs_clear_stats *st);
};

extern const struct sdfs_backend sdfs_backend_softdirty;
extern const struct sdfs_backend sdfs_backend_uffd;
