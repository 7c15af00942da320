/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * sdfs_stress: a bounded stress run of one sdfs mount.
 *
 * NT target processes (sdfs_stress_target) keep rewriting their pages with
 * a pattern that is a function of (tag, page, generation, word), so every
 * page read through sdfs can be checked word by word. Every ~second one
 * target is retired (exit or SIGKILL, after checking that its own memory
 * was never corrupted) and a new one starts. Two threads clear in a loop;
 * eight readers read dirty_ranges (every line parsed and checked against
 * the format and the process's mappings), list pages/, read pages (checked
 * against the pattern), look pages up, read last/, status and clear.
 *
 * The run fails on: a page holding anything but a valid pattern of that
 * page of that process; a malformed dirty_ranges/status; an errno outside
 * those sdfs(5) allows (ENOENT, ESRCH, EIO for pages of a process gone; never
 * EAGAIN) or an "allowed" one while the target was known alive; any single
 * file system call taking over 10 s (the daemon's threads are dumped); a
 * target that found its memory changed; the daemon dying or exiting
 * non-zero (sanitizer reports); its fd count not back to its baseline (+-2)
 * once every file is closed and every target gone; its VmRSS at the end
 * over 2x its value after warm-up + 4 MiB.
 *
 * A churning target (stress-churn.c) runs beside them: sdfs_churn frees
 * memory in every way while a thread snapshots it with rsync rounds; at
 * the end the snapshot of the stopped target must equal its memory.
 *
 * Environment: SDFS_BIN, SDFS_STRESS_TARGET, SDFS_CHURN (without it no
 * churning target), SDFS_BACKEND (default auto),
 * SDFS_STRESS_SECONDS (default 20), SDFS_STRESS_TARGETS (default 4).
 * Exit status 0 on success, 77 (skip) without a usable backend.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "stress-churn.h"

#define NREADERS 8
#define NCLEARERS 2
#define MAX_TARGETS 16
#define WATCHDOG_S 10.0
#define NWORKERS (NREADERS + NCLEARERS + 1)

typedef struct {
	Workload *t; /* owned by the life-cycle thread */
	pid_t pid; /* 0 while being replaced */
	uint32_t tag;
	uint64_t addr;
	size_t npages;
	uint64_t gen; /* bumped before a target is retired */
} Slot;

typedef struct {
	pid_t pid;
	uint32_t tag;
	uint64_t addr;
	size_t npages;
	uint64_t gen;
	int slot;
} Snap;

static Mount mnt;
static Slot slots[MAX_TARGETS];
static int ntargets = 4;
static GMutex slot_lock;
static _Atomic int stop, stop_life;
static const char *backend_eff;

/* watchdog: what each worker is doing since when */
static struct {
	_Atomic int64_t since_us; /* 0: idle */
	char what[PATH_MAX + 32];
} wd[NWORKERS];

static _Atomic uint64_t n_restarts, n_clears, n_clear_gone, n_reads,
	n_ranges, n_readdir, n_lookups, n_status, n_last, n_gone, n_errors,
	n_lines, n_torn;

static GMutex msg_lock;

static void error_at(const char *fmt, ...) G_GNUC_PRINTF(1, 2);
static void error_at(const char *fmt, ...)
{
	va_list ap;
	uint64_t n = atomic_fetch_add(&n_errors, 1);
	if (n >= 30)
		return;
	va_start(ap, fmt);
	g_autofree char *s = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	g_mutex_lock(&msg_lock);
	g_printerr("stress: ERROR: %s\n", s);
	g_mutex_unlock(&msg_lock);
}

static void wd_begin(int w, const char *op, const char *path)
{
	snprintf(wd[w].what, sizeof(wd[w].what), "%s %s", op, path);
	atomic_store(&wd[w].since_us, g_get_monotonic_time());
}

static void wd_end(int w)
{
	atomic_store(&wd[w].since_us, 0);
}

static void *watchdog_main(void *arg)
{
	(void)arg;
	for (;;) {
		g_usleep(250000);
		int64_t now = g_get_monotonic_time();
		for (int w = 0; w < NWORKERS; w++) {
			int64_t s = atomic_load(&wd[w].since_us);
			if (!s || now - s < (int64_t)(WATCHDOG_S * 1e6))
				continue;
			g_printerr("stress: DEADLOCK? worker %d stuck %.1f s "
				   "in %s\n",
				   w, (now - s) / 1e6, wd[w].what);
			if (mnt.daemon > 0) {
				g_autofree char *d =
					proc_dump_threads(mnt.daemon);
				g_printerr("%s", d);
			}
			for (int i = 0; i < ntargets; i++)
				if (slots[i].pid > 0) {
					g_autofree char *st =
						thread_states(slots[i].pid);
					g_printerr("target %d threads: %s\n",
						   (int)slots[i].pid,
						   st ? st : "(gone)");
				}
			tl_net_cleanup(1); /* kills the daemon: blocked calls fail */
			_exit(1);
		}
		char what[128];
		pid_t cp = sc_stuck(WATCHDOG_S * 3, what, sizeof(what));
		if (cp) {
			g_printerr("stress: DEADLOCK? churning target %d: stuck "
				   "in %s\n",
				   (int)cp, what);
			g_autofree char *t = proc_dump_threads(cp);
			g_autofree char *me = proc_dump_threads(getpid());
			g_autofree char *kids = proc_dump_descendants(getpid());
			g_autofree char *d =
				mnt.daemon > 0 ? proc_dump_threads(mnt.daemon)
					       : NULL;
			g_autofree char *mine = proc_pipe_fds(getpid());
			g_printerr("%s%s  pipes:%s\n%s%s", t, me, mine,
				   d ? d : "", kids);
			g_autofree char *log = mount_log(&mnt);
			if (log && *log)
				g_printerr("# ---- daemon log ----\n%s# ---- "
					   "end ----\n",
					   log);
			tl_net_cleanup(1);
			_exit(1);
		}
	}
	return NULL;
}

/* ---- targets ---- */

static uint32_t next_tag(void)
{
	static _Atomic uint32_t t;
	uint32_t base = (uint32_t)getpid() << 8;
	return base + atomic_fetch_add(&t, 1) + 1;
}

static gboolean pick(Snap *s, GRand *rnd)
{
	int i = g_rand_int_range(rnd, 0, ntargets);
	g_mutex_lock(&slot_lock);
	s->pid = slots[i].pid;
	s->tag = slots[i].tag;
	s->addr = slots[i].addr;
	s->npages = slots[i].npages;
	s->gen = slots[i].gen;
	s->slot = i;
	g_mutex_unlock(&slot_lock);
	return s->pid > 0;
}

/* Was the target alive during the whole operation? */
static gboolean still(const Snap *s)
{
	g_mutex_lock(&slot_lock);
	gboolean same = slots[s->slot].gen == s->gen;
	g_mutex_unlock(&slot_lock);
	return same;
}

/* An errno from an operation on a target: allowed or an error. */
static void bad_errno(const Snap *s, const char *what, const char *path,
		      int e, gboolean page)
{
	gboolean allowed = e == ENOENT || e == ESRCH || (page && e == EIO);
	if (allowed && !still(s)) {
		atomic_fetch_add(&n_gone, 1);
		return;
	}
	error_at("%s %s: %s (%s; its state now: %c)", what, path, g_strerror(e),
		 allowed ? "target was alive" : "errno not allowed",
		 proc_state(s->pid) ? proc_state(s->pid) : '-');
}

/* Check one page read through sdfs; addr is its address. */
static void verify_page(const Snap *s, uint64_t addr, const uint64_t *buf,
			const char *path)
{
	if (addr < s->addr || addr >= s->addr + s->npages * tl_ps) {
		atomic_fetch_add(&n_reads, 1); /* not ours to check */
		return;
	}
	uint64_t idx = (addr - s->addr) / tl_ps;
	uint32_t g0 = 0;
	long w = wpat_check(buf, tl_ps, s->tag, idx, &g0);
	if (w >= 0) {
		error_at("%s: page %" G_GUINT64_FORMAT " word %ld = %016"
			 G_GINT64_MODIFIER "x: not a pattern of tag %u",
			 path, idx, w, buf[w], s->tag);
		return;
	}
	if ((uint32_t)(buf[tl_ps / 8 - 1] >> 32) != g0)
		atomic_fetch_add(&n_torn, 1); /* read while being written */
	atomic_fetch_add(&n_reads, 1);
}

static void read_page_file(int w, const Snap *s, const char *dir,
			   uint64_t addr, int times)
{
	g_autofree char *path =
		g_strdup_printf("%s/%d/%s/%016" G_GINT64_MODIFIER "x", mnt.mnt,
				(int)s->pid, dir, addr);
	uint64_t buf[65536 / 8];
	wd_begin(w, "open", path);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	wd_end(w);
	if (fd < 0) {
		int e = errno;
		if (e == ENOENT) /* not dirty (any more): fine */
			return;
		bad_errno(s, "open", path, e, TRUE);
		return;
	}
	for (int i = 0; i < times; i++) {
		wd_begin(w, "read", path);
		int r = read_page_fd(fd, buf);
		wd_end(w);
		if (r < 0) {
			bad_errno(s, "read", path, -r, TRUE);
			break;
		}
		verify_page(s, addr, buf, path);
	}
	close(fd);
}

/* dirty_ranges or last/dirty_ranges */
static void check_ranges(int w, const Snap *s, const char *rel)
{
	g_autofree char *path = mnt_path(&mnt, s->pid, rel);
	g_autoptr(GArray) before = maps_read(s->pid);
	g_autofree char *text = NULL;
	wd_begin(w, "read", path);
	int r = tl_read_text(path, 16384, &text, NULL);
	wd_end(w);
	if (r < 0) {
		bad_errno(s, "read", path, -r, FALSE);
		return;
	}
	g_autofree char *err = NULL;
	g_autoptr(GArray) a = tl_ranges_parse(text, tl_ps, &err);
	if (!a) {
		error_at("%s: %s", path, err);
		return;
	}
	atomic_fetch_add(&n_ranges, 1);
	atomic_fetch_add(&n_lines, a->len);
	g_autoptr(GArray) after = maps_read(s->pid);
	if (!before || !after || !still(s))
		return;
	gboolean last = g_str_has_prefix(rel, "last");
	for (guint i = 0; i < a->len; i++) {
		Range *x = &g_array_index(a, Range, i);
		uint64_t rs = s->addr, re = s->addr + s->npages * tl_ps;
		if (x->start < re && x->end > rs &&
		    (x->start < rs || x->end > re))
			error_at("%s: range %" G_GINT64_MODIFIER
				 "x-%" G_GINT64_MODIFIER "x crosses the "
				 "target's region %" G_GINT64_MODIFIER
				 "x-%" G_GINT64_MODIFIER "x",
				 path, x->start, x->end, rs, re);
		/* last/ may name mappings gone since the clear */
		if (!last && !maps_contain(before, x->start, x->end) &&
		    !maps_contain(after, x->start, x->end))
			error_at("%s: range %" G_GINT64_MODIFIER
				 "x-%" G_GINT64_MODIFIER "x is in no mapping",
				 path, x->start, x->end);
	}
}

/* List pages/ or last/pages/: names ascending, 16 hex digits; then read
 * a few of them. */
static void check_listing(int w, const Snap *s, const char *rel,
			  GRand *rnd)
{
	g_autofree char *path = mnt_path(&mnt, s->pid, rel);
	uint64_t picked[8];
	int npicked = 0;
	uint64_t seen = 0, prev = 0;

	wd_begin(w, "opendir", path);
	DIR *d = opendir(path);
	wd_end(w);
	if (!d) {
		bad_errno(s, "opendir", path, errno, FALSE);
		return;
	}
	for (;;) {
		errno = 0;
		wd_begin(w, "readdir", path);
		struct dirent *de = readdir(d);
		wd_end(w);
		if (!de) {
			if (errno)
				bad_errno(s, "readdir", path, errno, FALSE);
			break;
		}
		if (de->d_name[0] == '.')
			continue;
		char *end;
		uint64_t a = g_ascii_strtoull(de->d_name, &end, 16);
		if (strlen(de->d_name) != 16 || *end || a % tl_ps ||
		    (seen && a <= prev)) {
			error_at("%s: bad or unordered entry '%s'", path,
				 de->d_name);
			break;
		}
		prev = a;
		seen++;
		/* reservoir: mostly region pages, some others */
		gboolean ours = a >= s->addr && a < s->addr + s->npages * tl_ps;
		if (!ours && g_rand_int_range(rnd, 0, 8))
			continue;
		if (npicked < 8)
			picked[npicked++] = a;
		else if (g_rand_int_range(rnd, 0, (gint32)seen) < 8)
			picked[g_rand_int_range(rnd, 0, 8)] = a;
	}
	closedir(d);
	atomic_fetch_add(&n_readdir, 1);
	const char *dir = g_str_has_prefix(rel, "last") ? "last/pages"
							: "pages";
	for (int i = 0; i < npicked && !atomic_load(&stop); i++)
		read_page_file(w, s, dir, picked[i], 1);
}

static void check_lookup(int w, const Snap *s, GRand *rnd)
{
	uint64_t addr =
		s->addr +
		(uint64_t)g_rand_int_range(rnd, 0, (gint32)s->npages) * tl_ps;
	/* the short form (no leading zeros) is accepted too */
	g_autofree char *path =
		g_strdup_printf(g_rand_boolean(rnd) ? "%s/%d/pages/%016"
						      G_GINT64_MODIFIER "x"
						    : "%s/%d/pages/%"
						      G_GINT64_MODIFIER "x",
				mnt.mnt, (int)s->pid, addr);
	struct stat st;
	wd_begin(w, "stat", path);
	int r = stat(path, &st);
	wd_end(w);
	atomic_fetch_add(&n_lookups, 1);
	if (r < 0) {
		if (errno != ENOENT)
			bad_errno(s, "stat", path, errno, TRUE);
		return;
	}
	if (!S_ISREG(st.st_mode) || (size_t)st.st_size != tl_ps ||
	    (st.st_mode & 07777) != 0400)
		error_at("%s: mode %o size %lld", path, st.st_mode,
			 (long long)st.st_size);
	read_page_file(w, s, "pages", addr, 1 + g_rand_int_range(rnd, 0, 4));
}

static void check_status(int w, const Snap *s)
{
	g_autofree char *path = mnt_path(&mnt, s->pid, "status");
	g_autofree char *text = NULL;
	wd_begin(w, "read", path);
	int r = tl_read_text(path, 16384, &text, NULL);
	wd_end(w);
	if (r < 0) {
		bad_errno(s, "read", path, -r, FALSE);
		return;
	}
	atomic_fetch_add(&n_status, 1);
	const char *keys[] = {"pid",	   "backend",	  "epoch",
			      "cleared_at", "frozen_us", "dirty_pages",
			      "last_pages"};
	guint found = 0;
	g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
	for (char **l = lines; *l && **l; l++) {
		char *c = strstr(*l, ": ");
		if (!c) {
			error_at("%s: bad line '%s'", path, *l);
			return;
		}
		*c = 0;
		const char *v = c + 2;
		for (guint k = 0; k < G_N_ELEMENTS(keys); k++) {
			if (strcmp(*l, keys[k]))
				continue;
			found |= 1u << k;
			gboolean ok = TRUE;
			if (k == 0)
				ok = atoi(v) == s->pid;
			else if (k == 1)
				ok = !strcmp(v, backend_eff);
			else if (k == 3)
				ok = strspn(v, "0123456789.") == strlen(v);
			else
				ok = *v && strspn(v, "0123456789") == strlen(v);
			if (!ok)
				error_at("%s: bad value '%s: %s'", path, *l, v);
		}
	}
	if (found != (1u << G_N_ELEMENTS(keys)) - 1)
		error_at("%s: keys missing (mask %x)", path, found);
}

static void check_clear_read(int w, const Snap *s)
{
	g_autofree char *path = mnt_path(&mnt, s->pid, "clear");
	g_autofree char *text = NULL;
	wd_begin(w, "read", path);
	int r = tl_read_text(path, 16384, &text, NULL);
	wd_end(w);
	if (r < 0) {
		bad_errno(s, "read", path, -r, FALSE);
		return;
	}
	if (!*text || strspn(text, "0123456789") != strlen(text) - 1 ||
	    !g_str_has_suffix(text, "\n"))
		error_at("%s: bad epoch '%s'", path, text);
}

static void *reader_main(void *arg)
{
	int w = (int)(intptr_t)arg;
	g_autoptr(GRand) rnd = g_rand_new_with_seed((guint32)w * 7919 + 1);
	while (!atomic_load(&stop)) {
		Snap s;
		if (!pick(&s, rnd)) {
			g_usleep(1000);
			continue;
		}
		switch (g_rand_int_range(rnd, 0, 10)) {
		case 0:
		case 1:
			check_ranges(w, &s, "dirty_ranges");
			break;
		case 2:
		case 3:
			check_listing(w, &s, "pages", rnd);
			break;
		case 4:
			check_lookup(w, &s, rnd);
			break;
		case 5:
			check_ranges(w, &s, "last/dirty_ranges");
			check_listing(w, &s, "last/pages", rnd);
			atomic_fetch_add(&n_last, 1);
			break;
		case 6:
			check_status(w, &s);
			break;
		case 7:
			check_clear_read(w, &s);
			break;
		default: {
			/* a page file held open across clears */
			uint64_t a =
				s.addr + (uint64_t)g_rand_int_range(
						 rnd, 0, (gint32)s.npages) *
						 tl_ps;
			read_page_file(w, &s, "pages", a, 10);
			check_lookup(w, &s, rnd);
			break;
		}
		}
	}
	return NULL;
}

static void *clearer_main(void *arg)
{
	int w = (int)(intptr_t)arg;
	g_autoptr(GRand) rnd = g_rand_new_with_seed((guint32)w * 104729 + 3);
	while (!atomic_load(&stop)) {
		Snap s;
		if (!pick(&s, rnd)) {
			g_usleep(1000);
			continue;
		}
		g_autofree char *path = mnt_path(&mnt, s.pid, "clear");
		wd_begin(w, "clear", path);
		const char *v = g_rand_boolean(rnd) ? "1\n" : "4";
		int r = tl_write_text(path, v, strlen(v));
		wd_end(w);
		if (r == 0)
			atomic_fetch_add(&n_clears, 1);
		else if ((r == -ENOENT || r == -ESRCH) && !still(&s))
			atomic_fetch_add(&n_clear_gone, 1);
		else
			bad_errno(&s, "clear", path, -r, FALSE);
		g_usleep((gulong)g_rand_int_range(rnd, 0, 5000));
	}
	return NULL;
}

/* Check a retiring target's own view of its memory; then end it. */
static void retire(Workload *t, int how)
{
	int ws = 0;
	if (waitpid(t->pid, &ws, WNOHANG) == t->pid) {
		error_at("target %d died on its own: %s %d", (int)t->pid,
			 WIFSIGNALED(ws) ? "signal" : "exit",
			 WIFSIGNALED(ws) ? WTERMSIG(ws) : WEXITSTATUS(ws));
		tl_untrack_pid(t->pid);
		t->pid = 0;
		wl_kill(t);
		return;
	}
	g_autofree char *st = wl_call(t, "status");
	unsigned long long writes = 0, bad = 0;
	/* a target started just before it is retired may not have had the
	 * CPU yet (a loaded machine, a sanitizer build): give it 3 s to show
	 * that it runs; one that still has not written is stuck */
	for (int i = 0; i < 30 && st &&
			sscanf(st, "ok %llu %llu", &writes, &bad) == 2 &&
			!writes && !bad;
	     i++) {
		g_usleep(100000);
		g_free(st);
		st = wl_call(t, "status");
	}
	if (!st || sscanf(st, "ok %llu %llu", &writes, &bad) != 2)
		error_at("target %d: no status ('%s'): state %c", (int)t->pid,
			 st ? st : "", proc_state(t->pid));
	else if (bad)
		error_at("target %d: its memory changed under it (%llu bad "
			 "pages)",
			 (int)t->pid, bad);
	else if (!writes)
		error_at("target %d: made no progress in 3 s: state %c",
			 (int)t->pid, proc_state(t->pid));
	if (how == 1) { /* full check with writers parked */
		g_autofree char *c = wl_call(t, "check");
		unsigned long long pages, nb;
		if (!c || sscanf(c, "ok %llu %llu", &pages, &nb) != 2 || nb)
			error_at("target %d: check: '%s'", (int)t->pid,
				 c ? c : "(none)");
	}
	g_autofree char *states = thread_states(t->pid);
	if (states && (strchr(states, 'T') || strchr(states, 't')) &&
	    atomic_load(&stop))
		error_at("target %d left stopped: %s", (int)t->pid, states);
	if (how == 2) {
		g_autofree char *r = wl_call(t, "exit");
		int status = wl_wait(t);
		if (!WIFEXITED(status) || WEXITSTATUS(status))
			error_at("target exit status 0x%x", status);
	} else {
		wl_kill(t);
	}
}

static Workload *spawn(void)
{
	Workload *t = wl_start_stress(next_tag(), 256, 2, 300);
	if (!t)
		error_at("cannot start a target");
	return t;
}

static void publish(int i, Workload *t)
{
	g_mutex_lock(&slot_lock);
	slots[i].t = t;
	slots[i].pid = t ? t->pid : 0;
	slots[i].tag = t ? t->tag : 0;
	slots[i].addr = t ? t->addr : 0;
	slots[i].npages = t ? t->npages : 0;
	g_mutex_unlock(&slot_lock);
}

static Workload *unpublish(int i)
{
	g_mutex_lock(&slot_lock);
	Workload *t = slots[i].t;
	slots[i].t = NULL;
	slots[i].pid = 0;
	slots[i].gen++;
	g_mutex_unlock(&slot_lock);
	return t;
}

/*
 * Targets are started by this thread only, also the first ones, and it
 * retires them all at the end: PR_SET_PDEATHSIG fires when the *thread*
 * that forked a target exits.
 */
static void *lifecycle_main(void *arg)
{
	int w = (int)(intptr_t)arg;
	g_autoptr(GRand) rnd = g_rand_new_with_seed(4242);
	for (int i = 0; i < ntargets; i++)
		publish(i, spawn());
	while (!atomic_load(&stop)) {
		for (int k = 0; k < 10 && !atomic_load(&stop); k++)
			g_usleep(100000);
		if (atomic_load(&stop))
			break;
		int i = g_rand_int_range(rnd, 0, ntargets);
		wd_begin(w, "restart", "target");
		Workload *old = unpublish(i);
		if (old)
			retire(old, g_rand_int_range(rnd, 0, 3));
		publish(i, spawn());
		wd_end(w);
		atomic_fetch_add(&n_restarts, 1);
	}
	/* the end: every target checks its whole memory and must not be
	 * left stopped (the readers and clearers are done) */
	while (!atomic_load(&stop_life))
		g_usleep(10000);
	for (int i = 0; i < ntargets; i++) {
		Workload *t = unpublish(i);
		if (t)
			retire(t, 1);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	tl_env_init(TRUE);
	double secs = 20;
	const char *e = g_getenv("SDFS_STRESS_SECONDS");
	if (e && atof(e) > 0)
		secs = atof(e);
	e = g_getenv("SDFS_STRESS_TARGETS");
	if (e && atoi(e) > 0)
		ntargets = MIN(atoi(e), MAX_TARGETS);
	if (!tl_bin || !tl_stress_target_bin) {
		g_printerr("stress: SDFS_BIN and SDFS_STRESS_TARGET must be "
			   "set\n");
		return 1;
	}
	g_autofree char *reason = NULL;
	if (!tl_backend_usable(tl_backend, &reason)) {
		printf("stress: SKIP: %s\n", reason);
		return 77;
	}
	backend_eff = tl_backend_effective(tl_backend);
	alarm((unsigned)secs + 120); /* last resort: SIGALRM cleans up */

	g_autofree char *err = NULL;
	if (mount_try(&mnt, NULL, &err) < 0) {
		g_printerr("stress: %s\n", err);
		return 1;
	}
	mount_list_root(&mnt);
	int fd_base = tl_fd_count(mnt.daemon);
	long rss_start = proc_status_kb(mnt.daemon, "VmRSS");

	pthread_t wdt, th[NWORKERS];
	pthread_create(&wdt, NULL, watchdog_main, NULL);
	pthread_detach(wdt);
	pthread_create(&th[NWORKERS - 1], NULL, lifecycle_main,
		       (void *)(intptr_t)(NWORKERS - 1));
	for (int k = 0; k < 1000 && !slots[ntargets - 1].pid; k++)
		g_usleep(10000);
	for (int i = 0; i < NREADERS; i++)
		pthread_create(&th[i], NULL, reader_main, (void *)(intptr_t)i);
	for (int i = 0; i < NCLEARERS; i++)
		pthread_create(&th[NREADERS + i], NULL, clearer_main,
			       (void *)(intptr_t)(NREADERS + i));
	sc_start(&mnt);

	double t0 = tl_now(), warm_at = t0 + MAX(1.0, MIN(3.0, secs / 5));
	long rss_warm = -1;
	while (tl_now() - t0 < secs) {
		g_usleep(100000);
		if (rss_warm < 0 && tl_now() >= warm_at)
			rss_warm = proc_status_kb(mnt.daemon, "VmRSS");
		if (!mount_alive(&mnt)) {
			error_at("the daemon died during the run");
			break;
		}
	}
	if (rss_warm < 0)
		rss_warm = proc_status_kb(mnt.daemon, "VmRSS");
	atomic_store(&stop, 1);
	for (int i = 0; i < NWORKERS - 1; i++)
		pthread_join(th[i], NULL);
	double elapsed = tl_now() - t0;
	atomic_fetch_add(&n_errors, sc_finish());
	atomic_store(&stop_life, 1);
	pthread_join(th[NWORKERS - 1], NULL);
	while (waitpid(-1, NULL, WNOHANG) > 0) /* adopted orphans */
		;

	/* the daemon drops the trackers of exited processes by itself (no
	 * root listing here): its fds come back to the baseline within a
	 * moment */
	int fd_end = tl_fd_count(mnt.daemon);
	for (int i = 0; i < 50 && abs(fd_end - fd_base) > 2; i++) {
		g_usleep(20000);
		fd_end = tl_fd_count(mnt.daemon);
	}
	long rss_end = proc_status_kb(mnt.daemon, "VmRSS");
	printf("# daemon fds: baseline %d, end %d\n", fd_base, fd_end);
	printf("# daemon VmRSS: start %ld kB, after warm-up %ld kB, end %ld "
	       "kB\n",
	       rss_start, rss_warm, rss_end);
	if (fd_end < 0 || abs(fd_end - fd_base) > 2)
		error_at("daemon fd count %d, baseline %d: leak", fd_end,
			 fd_base);
	/* AddressSanitizer keeps freed memory in quarantine (256 MiB by
	 * default) before reusing it: a daemon built with it grows by that
	 * much without a leak (LeakSanitizer checks leaks there) */
	long slack = 4096;
#ifdef __SANITIZE_ADDRESS__
	slack += 256 * 1024;
#endif
	if (rss_end > 2 * rss_warm + slack)
		error_at("daemon VmRSS grew from %ld kB (warm) to %ld kB",
			 rss_warm, rss_end);

	int died = 0;
	pid_t dpid = mnt.daemon;
	g_autofree char *log = mount_log(&mnt);
	int status = mount_stop_status(&mnt, &died, NULL);
	if (status == -1)
		error_at("daemon %d had died (status 0x%x)", (int)dpid, died);
	else if (!WIFEXITED(status) || WEXITSTATUS(status))
		error_at("daemon %d exited with status 0x%x (sanitizer "
			 "report?)",
			 (int)dpid, status);

	uint64_t reads = n_reads + n_ranges + n_readdir + n_status;
	printf("stress: %.0f s, %d targets, %llu process restarts, %llu "
	       "clears, %llu reads, %llu errors\n",
	       elapsed, ntargets, (unsigned long long)n_restarts,
	       (unsigned long long)n_clears, (unsigned long long)reads,
	       (unsigned long long)n_errors);
	printf("# verified page reads %llu (torn while written %llu), "
	       "dirty_ranges %llu (%llu lines), listings %llu, lookups %llu, "
	       "last/ %llu, status %llu, clears on a gone process %llu, "
	       "other ENOENT/ESRCH/EIO of gone processes %llu\n",
	       (unsigned long long)n_reads, (unsigned long long)n_torn,
	       (unsigned long long)n_ranges, (unsigned long long)n_lines,
	       (unsigned long long)n_readdir, (unsigned long long)n_lookups,
	       (unsigned long long)n_last, (unsigned long long)n_status,
	       (unsigned long long)n_clear_gone, (unsigned long long)n_gone);
	if (n_errors && log && *log)
		g_printerr("# ---- daemon log ----\n%s# ---- end ----\n", log);
	if (!n_reads || !n_clears)
		error_at("nothing was exercised (reads %llu, clears %llu)",
			 (unsigned long long)n_reads,
			 (unsigned long long)n_clears);
	return n_errors ? 1 : 0;
}
