/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Per-process tracking state. One lock per tracker serialises scans and
 * clears of one process; different processes proceed in parallel. The
 * engine's table lock is held only to find or insert a tracker.
 *
 * The table holds one reference to each tracker, and so its pidfd and
 * the backend's descriptors. A reaper thread waits on every pidfd in the
 * table (epoll, one shot each) and drops the table's reference as soon as
 * the process exits: a daemon serving short-lived processes does not
 * hoard descriptors until somebody lists the root.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <glib.h>

#include "compat.h"
#include "log.h"
#include "scan.h"
#include "tracker.h"

struct sdfs_engine {
	const struct sdfs_backend *backend;
	bool nofreeze;
	GMutex lock;
	GHashTable *by_pid; /* pid -> tracker (one reference) */
	int epfd;   /* the pidfds of the table, EPOLLONESHOT, data: pid */
	int wakefd; /* eventfd: the reaper thread is to stop */
	GThread *reaper;
};

struct sdfs_tracker {
	struct sdfs_engine *engine;
	gint ref;
	GMutex lock; /* everything below */
	struct sdfs_target tgt;
	bool attached;
	struct sdfs_snapshot *last;
	/* the pages that held data at the last clear: its own pages and
	 * what it captured; the next clear's dropped pages are those of
	 * this set that it finds neither own nor captured */
	struct sdfs_dirtyset held;
	uint64_t frozen_us;
};

static void tracker_unref_cb(gpointer p)
{
	sdfs_tracker_put(p);
}

static bool pidfd_exited(int pidfd);
static gpointer reaper_main(gpointer data);

struct sdfs_engine *sdfs_engine_new(const struct sdfs_engine_opts *o)
{
	/* probe the kernel now, with the daemon's own credentials: later
	 * calls may come from threads running as a caller (access.c) */
	(void)sdfs_have_pagemap_scan();
	struct sdfs_engine *e = g_new0(struct sdfs_engine, 1);
	e->backend = o->backend;
	e->nofreeze = o->nofreeze;
	g_mutex_init(&e->lock);
	e->by_pid = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL,
					  tracker_unref_cb);
	e->epfd = e->wakefd = -1;
	return e;
}

void sdfs_engine_start(struct sdfs_engine *e)
{
	/* without a reaper (no fds, no thread) trackers are reaped by
	 * sdfs_engine_reap() and when their pid is looked up again */
	e->epfd = epoll_create1(EPOLL_CLOEXEC);
	e->wakefd = eventfd(0, EFD_CLOEXEC);
	if (e->epfd >= 0 && e->wakefd >= 0) {
		struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 0};
		if (epoll_ctl(e->epfd, EPOLL_CTL_ADD, e->wakefd, &ev) == 0)
			e->reaper = g_thread_try_new("sdfs-reaper", reaper_main,
						     e, NULL);
	}
	if (!e->reaper)
		sdfs_log("engine: no reaper thread: trackers of exited "
			 "processes are dropped when the root is listed");
}

void sdfs_engine_free(struct sdfs_engine *e)
{
	if (!e)
		return;
	if (e->reaper) {
		uint64_t one = 1;
		if (write(e->wakefd, &one, sizeof(one)) == sizeof(one))
			g_thread_join(e->reaper);
	}
	if (e->epfd >= 0)
		close(e->epfd);
	if (e->wakefd >= 0)
		close(e->wakefd);
	g_hash_table_destroy(e->by_pid);
	g_mutex_clear(&e->lock);
	g_free(e);
}

const struct sdfs_backend *sdfs_engine_backend(struct sdfs_engine *e)
{
	return e->backend;
}

const struct sdfs_backend *sdfs_backend_select(const char *name, char *reason,
					      size_t len)
{
	char r1[256], r2[256];

	if (!name || strcmp(name, "auto") == 0) {
		if (sdfs_backend_softdirty.probe(r1, sizeof(r1)) == 0)
			return &sdfs_backend_softdirty;
		if (sdfs_backend_uffd.probe(r2, sizeof(r2)) == 0)
			return &sdfs_backend_uffd;
		snprintf(reason, len,
			 "no usable backend: soft-dirty: %s; uffd: %s", r1, r2);
		return NULL;
	}
	const struct sdfs_backend *b = NULL;
	if (strcmp(name, "soft-dirty") == 0)
		b = &sdfs_backend_softdirty;
	else if (strcmp(name, "uffd") == 0)
		b = &sdfs_backend_uffd;
	if (!b) {
		snprintf(reason, len,
			 "unknown backend '%s' (auto, soft-dirty or uffd)", name);
		return NULL;
	}
	if (b->probe(r1, sizeof(r1)) < 0) {
		snprintf(reason, len, "backend %s not usable: %s", b->name, r1);
		return NULL;
	}
	return b;
}

/* ---- snapshots ---------------------------------------------------------- */

static struct sdfs_snapshot *snapshot_new(void)
{
	struct sdfs_snapshot *s = g_try_new0(struct sdfs_snapshot, 1);
	if (s)
		s->ref = 1;
	return s;
}

static struct sdfs_snapshot *snapshot_ref(struct sdfs_snapshot *s)
{
	g_atomic_int_inc(&s->ref);
	return s;
}

void sdfs_snapshot_put(struct sdfs_snapshot *s)
{
	if (!s || !g_atomic_int_dec_and_test(&s->ref))
		return;
	sdfs_dirtyset_free(&s->set);
	sdfs_dirtyset_free(&s->dropped);
	g_free(s->maps);
	g_free(s);
}

/* ---- trackers ------------------------------------------------------------ */

static bool pidfd_exited(int pidfd)
{
	struct pollfd p = {.fd = pidfd, .events = POLLIN};
	/* a pidfd polls readable once the process has exited */
	return poll(&p, 1, 0) > 0 && (p.revents & (POLLIN | POLLHUP));
}

static void tracker_free(struct sdfs_tracker *t)
{
	if (t->attached && t->engine->backend->detach)
		t->engine->backend->detach(&t->tgt);
	if (t->tgt.pidfd >= 0)
		close(t->tgt.pidfd);
	sdfs_snapshot_put(t->last);
	sdfs_dirtyset_free(&t->held);
	g_mutex_clear(&t->lock);
	g_free(t);
}

struct sdfs_tracker *sdfs_tracker_ref(struct sdfs_tracker *t)
{
	g_atomic_int_inc(&t->ref);
	return t;
}

void sdfs_tracker_put(struct sdfs_tracker *t)
{
	if (t && g_atomic_int_dec_and_test(&t->ref))
		tracker_free(t);
}

static int tracker_new(struct sdfs_engine *e, const struct sdfs_proc_id *id,
		       struct sdfs_tracker **ret)
{
	int pidfd = (int)syscall(SYS_pidfd_open, id->pid, 0);
	if (pidfd < 0)
		return sdfs_err_resource(-errno) ? -errno : -ESRCH;
	/* the pid may have been reused between identify and pidfd_open */
	struct sdfs_proc_id now;
	int r = sdfs_proc_identify(id->pid, &now);
	if (r == 0 && now.starttime != id->starttime)
		r = -ESRCH;
	struct sdfs_tracker *t = r < 0 ? NULL : g_try_new0(struct sdfs_tracker, 1);
	if (!t) {
		close(pidfd);
		return r < 0 ? r : -ENOMEM;
	}
	t->engine = e;
	t->ref = 1;
	g_mutex_init(&t->lock);
	t->tgt.pid = id->pid;
	t->tgt.pidfd = pidfd;
	t->tgt.starttime = id->starttime;
	t->tgt.nofreeze = e->nofreeze;
	if (e->backend->attach) {
		r = e->backend->attach(&t->tgt);
		if (r < 0) {
			sdfs_log("pid %d: backend %s cannot attach: %s",
				 (int)id->pid, e->backend->name, strerror(-r));
			t->tgt.pidfd = pidfd;
			tracker_free(t);
			return r;
		}
		t->attached = true;
	}
	*ret = t;
	return 0;
}

/* Let the reaper know when t's process exits. (Called with e->lock.) */
static void watch_exit(struct sdfs_engine *e, struct sdfs_tracker *t)
{
	struct epoll_event ev = {.events = EPOLLIN | EPOLLONESHOT,
				 .data.u64 = (uint64_t)t->tgt.pid};
	if (e->reaper &&
	    epoll_ctl(e->epfd, EPOLL_CTL_ADD, t->tgt.pidfd, &ev) < 0)
		sdfs_log("pid %d: cannot watch for its exit: %s",
			 (int)t->tgt.pid, strerror(errno));
}

/*
 * Drop the table's reference to trackers whose process exited. An event
 * names a pid, not a tracker: the tracker found under that pid may be a
 * newer one (pid reuse), which is kept unless it too has exited. A
 * closed pidfd leaves the epoll set by itself.
 */
static gpointer reaper_main(gpointer data)
{
	struct sdfs_engine *e = data;
	struct epoll_event ev[32];

	for (;;) {
		int n = epoll_wait(e->epfd, ev, G_N_ELEMENTS(ev), -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			sdfs_log("engine: reaper: epoll_wait: %s",
				 strerror(errno));
			return NULL;
		}
		g_mutex_lock(&e->lock);
		for (int i = 0; i < n; i++) {
			if (ev[i].data.u64 == 0) { /* wakefd: stop */
				g_mutex_unlock(&e->lock);
				return NULL;
			}
			gpointer key = GINT_TO_POINTER((pid_t)ev[i].data.u64);
			struct sdfs_tracker *t =
				g_hash_table_lookup(e->by_pid, key);
			if (t && pidfd_exited(t->tgt.pidfd))
				g_hash_table_remove(e->by_pid, key);
		}
		g_mutex_unlock(&e->lock);
	}
}

int sdfs_tracker_get(struct sdfs_engine *e, const struct sdfs_proc_id *id,
		     struct sdfs_tracker **ret)
{
	struct sdfs_tracker *t;
	int r = 0;

	g_mutex_lock(&e->lock);
	t = g_hash_table_lookup(e->by_pid, GINT_TO_POINTER(id->pid));
	if (t && (t->tgt.starttime != id->starttime ||
		  pidfd_exited(t->tgt.pidfd))) {
		/* an old process under a reused pid */
		g_hash_table_remove(e->by_pid, GINT_TO_POINTER(id->pid));
		t = NULL;
	}
	if (!t) {
		r = tracker_new(e, id, &t);
		if (r == 0) {
			g_hash_table_insert(e->by_pid, GINT_TO_POINTER(id->pid),
					    sdfs_tracker_ref(t));
			watch_exit(e, t);
		}
	} else {
		sdfs_tracker_ref(t);
	}
	g_mutex_unlock(&e->lock);
	if (r == 0)
		*ret = t;
	return r;
}

int sdfs_engine_known(struct sdfs_engine *e, pid_t pid,
		      struct sdfs_proc_id *id)
{
	int r = -ENOENT;

	g_mutex_lock(&e->lock);
	struct sdfs_tracker *t =
		g_hash_table_lookup(e->by_pid, GINT_TO_POINTER(pid));
	if (t && !pidfd_exited(t->tgt.pidfd)) {
		id->pid = pid;
		id->starttime = t->tgt.starttime;
		r = 0;
	}
	g_mutex_unlock(&e->lock);
	return r;
}

static gboolean reap_one(gpointer key, gpointer value, gpointer data)
{
	struct sdfs_tracker *t = value;
	return pidfd_exited(t->tgt.pidfd);
}

void sdfs_engine_reap(struct sdfs_engine *e)
{
	g_mutex_lock(&e->lock);
	g_hash_table_foreach_remove(e->by_pid, reap_one, NULL);
	g_mutex_unlock(&e->lock);
}

pid_t sdfs_tracker_pid(const struct sdfs_tracker *t)
{
	return t->tgt.pid;
}

uint64_t sdfs_tracker_starttime(const struct sdfs_tracker *t)
{
	return t->tgt.starttime;
}

int sdfs_tracker_alive(struct sdfs_tracker *t)
{
	return pidfd_exited(t->tgt.pidfd) ? -ESRCH : 0;
}

static int scan_locked(struct sdfs_tracker *t, uint64_t from, uint64_t to,
		       sdfs_run_fn fn, void *ctx)
{
	struct sdfs_maps maps;

	if (pidfd_exited(t->tgt.pidfd))
		return -ESRCH;
	int r = sdfs_maps_read(t->tgt.pid, &maps);
	if (r < 0)
		return r;
	struct sdfs_scan_req req = {
		.maps = &maps, .from = from, .to = to, .fn = fn, .ctx = ctx};
	r = t->engine->backend->scan(&t->tgt, &req);
	sdfs_maps_free(&maps);
	if (r < 0 && r != -EAGAIN && pidfd_exited(t->tgt.pidfd))
		return -ESRCH;
	/* whatever was read, it is void if the process died meanwhile (its
	 * pid may name another process by now) */
	if (r >= 0 && pidfd_exited(t->tgt.pidfd))
		return -ESRCH;
	return r;
}

int sdfs_tracker_scan(struct sdfs_tracker *t, uint64_t from, uint64_t to,
		      sdfs_run_fn fn, void *ctx)
{
	int r = -EAGAIN;

	g_mutex_lock(&t->lock);
	for (int i = 0; i < SDFS_SCAN_RETRIES && r == -EAGAIN; i++) {
		if (i)
			fn(ctx, NULL, 0, 0); /* starting over */
		r = scan_locked(t, from, to, fn, ctx);
	}
	g_mutex_unlock(&t->lock);
	return r;
}

static int stop_at_first(void *ctx, const struct sdfs_vma *vma,
			 uint64_t start, uint64_t end)
{
	return vma ? 1 : 0;
}

int sdfs_tracker_page_dirty(struct sdfs_tracker *t, uint64_t addr)
{
	size_t ps = sdfs_page_size();

	if (addr % ps)
		return 0;
	return sdfs_tracker_scan(t, addr, addr + ps, stop_at_first, NULL);
}

static void capture_free(struct sdfs_capture *c)
{
	sdfs_dirtyset_free(&c->dirty);
	sdfs_dirtyset_free(&c->own);
	g_free(c->maps);
}

/*
 * Fill snapshot s from capture c: its dirty set and maps, and the pages
 * held before (t->held) that c finds neither own nor captured; *held
 * gets what is held now, for the next clear. (Called with t->lock.)
 *
 * The kernel's epoch has ended by now (bits cleared, pages protected):
 * the captured pages must be published whatever fails here, or their
 * writes would be lost. So when the own pages are unknown (c->own_err) or
 * memory runs out, nothing is said to be dropped this time and the held
 * set only grows: a page dropped meanwhile is reported by a later clear.
 */
static void snapshot_fill(struct sdfs_tracker *t, struct sdfs_capture *c,
			  struct sdfs_snapshot *s, struct sdfs_dirtyset *held)
{
	int r = c->own_err;

	if (r == 0)
		r = sdfs_dirtyset_union(held, &c->own, &c->dirty);
	if (r == 0)
		r = sdfs_dirtyset_subtract(&s->dropped, &t->held, held);
	if (r < 0) {
		sdfs_log("pid %d: own pages unknown at this clear (%s): "
			 "nothing reported dropped",
			 (int)t->tgt.pid, strerror(-r));
		sdfs_dirtyset_clear(&s->dropped);
		sdfs_dirtyset_clear(held);
		if (sdfs_dirtyset_union(held, &t->held, &c->dirty) < 0) {
			/* keep the old held set: pages captured now and
			 * unmapped later may then stay in a copy */
			sdfs_dirtyset_free(held);
			*held = t->held;
			sdfs_dirtyset_init(&t->held);
		}
	}
	s->set = c->dirty;
	sdfs_dirtyset_init(&c->dirty);
	s->maps = g_steal_pointer(&c->maps);
	s->maps_len = c->maps_len;
}

int sdfs_tracker_clear(struct sdfs_tracker *t)
{
	struct sdfs_clear_stats st = {0};
	struct sdfs_capture cap = {0};
	struct sdfs_dirtyset held;
	/* made before the kernel's epoch ends: see snapshot_fill */
	struct sdfs_snapshot *snap = snapshot_new();

	if (!snap)
		return -ENOMEM;
	sdfs_dirtyset_init(&held);
	g_mutex_lock(&t->lock);
	int r = pidfd_exited(t->tgt.pidfd) ? -ESRCH : 0;
	if (!r)
		r = t->engine->backend->clear(&t->tgt, &cap, &st);
	/* whatever went wrong, a process that died meanwhile is ESRCH */
	if (r < 0 && pidfd_exited(t->tgt.pidfd))
		r = -ESRCH;
	if (r == 0) {
		snapshot_fill(t, &cap, snap, &held);
		snap->epoch = t->tgt.epoch;
		clock_gettime(CLOCK_REALTIME, &snap->at);
		t->tgt.epoch++;
		t->frozen_us = st.frozen_us;
		sdfs_snapshot_put(t->last);
		t->last = snap;
		snap = NULL;
		sdfs_dirtyset_free(&t->held);
		t->held = held;
		sdfs_dirtyset_init(&held);
	}
	g_mutex_unlock(&t->lock);
	sdfs_snapshot_put(snap);
	capture_free(&cap);
	sdfs_dirtyset_free(&held);
	if (r < 0 && r != -ESRCH && r != -ENOTSUP && r != -EBUSY)
		sdfs_log("pid %d: clear failed: %s", (int)t->tgt.pid,
			 strerror(-r));
	return r;
}

struct sdfs_snapshot *sdfs_tracker_last(struct sdfs_tracker *t)
{
	g_mutex_lock(&t->lock);
	struct sdfs_snapshot *s = t->last ? snapshot_ref(t->last) : NULL;
	g_mutex_unlock(&t->lock);
	return s;
}

void sdfs_tracker_info(struct sdfs_tracker *t, struct sdfs_tracker_info *out)
{
	g_mutex_lock(&t->lock);
	out->pid = t->tgt.pid;
	out->backend = t->engine->backend->name;
	out->epoch = t->tgt.epoch;
	out->frozen_us = t->frozen_us;
	if (t->last) {
		out->cleared_at = t->last->at;
		out->last_pages = t->last->set.pages;
	} else {
		out->cleared_at = (struct timespec){0};
		out->last_pages = 0;
	}
	g_mutex_unlock(&t->lock);
}
