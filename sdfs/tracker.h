/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Per-process tracking state: epoch, last/ snapshot, backend handle. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "backend.h"
#include "proc.h"
#include "ranges.h"

struct sdfs_engine;
struct sdfs_tracker;

/* What the last clear captured. Immutable once published; refcounted. */
struct sdfs_snapshot {
	gint ref;
	struct sdfs_dirtyset set; /* written in the epoch it ended */
	/* pages that held data at the clear before (own or captured) and
	 * hold none at this one, with the mappings they were in then */
	struct sdfs_dirtyset dropped;
	char *maps; /* /proc/PID/maps at the clear */
	size_t maps_len;
	uint64_t epoch; /* the epoch this snapshot ended */
	struct timespec at; /* CLOCK_REALTIME of the clear */
};

struct sdfs_tracker_info {
	pid_t pid;
	const char *backend;
	uint64_t epoch;
	struct timespec cleared_at; /* 0 before the first clear */
	uint64_t frozen_us;
	uint64_t last_pages;
};

struct sdfs_engine_opts {
	const struct sdfs_backend *backend;
	bool nofreeze;
};

struct sdfs_engine *sdfs_engine_new(const struct sdfs_engine_opts *o);
void sdfs_engine_free(struct sdfs_engine *e);
/* Start the engine's thread (it drops the trackers of exited processes
 * as they exit). Call it after the last fork of a daemon (daemonize) and
 * with the daemon's own credentials; the new thread inherits both. */
void sdfs_engine_start(struct sdfs_engine *e);
const struct sdfs_backend *sdfs_engine_backend(struct sdfs_engine *e);

/* Pick a backend: "auto", "soft-dirty", "uffd". Returns NULL with a
 * reason when none is usable. */
const struct sdfs_backend *sdfs_backend_select(const char *name, char *reason,
					      size_t len);

/*
 * The tracker for the process id (created on first use): a new reference
 * in *ret (drop with sdfs_tracker_put) and 0; -ESRCH if the process does
 * not exist or is not id any more; -EMFILE, -ENOMEM, ...; or the
 * backend's error attaching.
 */
int sdfs_tracker_get(struct sdfs_engine *e, const struct sdfs_proc_id *id,
		     struct sdfs_tracker **ret);
struct sdfs_tracker *sdfs_tracker_ref(struct sdfs_tracker *t);
void sdfs_tracker_put(struct sdfs_tracker *t);

/*
 * If a tracker of a live process pid exists, fill id->pid and
 * id->starttime from it and return 0 (a live pidfd pins the pid to that
 * process: no need to re-read /proc); else -ENOENT.
 */
int sdfs_engine_known(struct sdfs_engine *e, pid_t pid,
		      struct sdfs_proc_id *id);

/* Forget trackers of processes that have exited. */
void sdfs_engine_reap(struct sdfs_engine *e);

pid_t sdfs_tracker_pid(const struct sdfs_tracker *t);
uint64_t sdfs_tracker_starttime(const struct sdfs_tracker *t);

/* 0 if the process is still the one tracked, -ESRCH if it exited. */
int sdfs_tracker_alive(struct sdfs_tracker *t);

/*
 * Scan the current epoch's dirty set over [from, to) (trackable mappings
 * only), calling fn for each run; see sdfs_run_fn. Reads /proc/PID/maps
 * and pagemap with the calling thread's credentials. A process that
 * exec'd during the scan is scanned again (fn is told with a NULL vma),
 * up to SDFS_SCAN_RETRIES times, then -EAGAIN.
 */
#define SDFS_SCAN_RETRIES 3
int sdfs_tracker_scan(struct sdfs_tracker *t, uint64_t from, uint64_t to,
		      sdfs_run_fn fn, void *ctx);

/* 1 if the page at addr is dirty in the current epoch, 0 if not, -errno. */
int sdfs_tracker_page_dirty(struct sdfs_tracker *t, uint64_t addr);

/* End the epoch (sdfs(5): clear). 0 or -errno; on failure nothing changes. */
int sdfs_tracker_clear(struct sdfs_tracker *t);

/* The snapshot of the last clear (NULL before the first); a reference. */
struct sdfs_snapshot *sdfs_tracker_last(struct sdfs_tracker *t);
void sdfs_snapshot_put(struct sdfs_snapshot *s);

typedef struct sdfs_tracker SdfsTracker;
typedef struct sdfs_snapshot SdfsSnapshot;
G_DEFINE_AUTOPTR_CLEANUP_FUNC(SdfsTracker, sdfs_tracker_put)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(SdfsSnapshot, sdfs_snapshot_put)

void sdfs_tracker_info(struct sdfs_tracker *t, struct sdfs_tracker_info *out);
