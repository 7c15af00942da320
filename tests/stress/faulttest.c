/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * sdfs_faulttest: sdfs under faults of its targets and of itself.
 *
 * This file: main, shared helpers, and the process-life tests:
 *   /fault/life/chaos        targets exit, exec, fork, get killed at random
 *                            moments while 4 threads read dirty_ranges,
 *                            list and read pages, look pages up, clear:
 *                            only ENOENT/ESRCH (EIO for pages) may come
 *                            back, never EAGAIN, and the mount stays up
 *   /fault/life/clear-vs-exit  clears (with their syscall injection) racing
 *                            with the target's exit or SIGKILL
 *   /fault/life/pid-reuse    a reused PID (forced through ns_last_pid):
 *                            files of the old process give ESRCH, the new
 *                            directory is the new process
 * faulttest-kill.c: the daemon killed -9; faulttest-limits.c: fd and
 * memory exhaustion in the daemon.
 *
 * Environment: SDFS_BIN, SDFS_WORKLOAD, SDFS_STRESS_TARGET, SDFS_BACKEND.
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

#include "faulttest.h"

/* ---- shared helpers ---- */

gboolean ft_skip_unless_ready(void)
{
	g_autofree char *reason = NULL;
	if (!tl_bin || !tl_workload_bin || !tl_stress_target_bin) {
		g_test_skip("SDFS_BIN, SDFS_WORKLOAD and SDFS_STRESS_TARGET "
			    "must be set");
		return TRUE;
	}
	if (!tl_backend_usable(tl_backend, &reason)) {
		g_test_skip(reason);
		return TRUE;
	}
	return FALSE;
}

/* Injectors forked by this run's daemon binary (SDFS_BIN): other sdfs
 * instances on the machine are none of this test's business. */
static GArray *our_injectors(void)
{
	GArray *all = proc_find_comm("sdfs-inject");
	GArray *a = g_array_new(FALSE, FALSE, sizeof(pid_t));
	char bin[PATH_MAX];

	if (!realpath(g_getenv("SDFS_BIN"), bin))
		bin[0] = '\0';
	for (guint i = 0; i < all->len; i++) {
		pid_t pid = g_array_index(all, pid_t, i);
		g_autofree char *p = g_strdup_printf("/proc/%d/exe", (int)pid);
		g_autofree char *exe = g_file_read_link(p, NULL);
		if (exe && !strcmp(exe, bin))
			g_array_append_val(a, pid);
	}
	g_array_unref(all);
	return a;
}

void ft_wait_injectors(void)
{
	for (int i = 0; i < 400; i++) {
		while (waitpid(-1, NULL, WNOHANG) > 0)
			;
		g_autoptr(GArray) a = our_injectors();
		if (!a->len)
			return;
		g_usleep(5000);
	}
	g_autoptr(GArray) a = our_injectors();
	g_test_fail_printf("%u sdfs-inject processes still there after 2 s "
			   "(first: %d)",
			   a->len, a->len ? g_array_index(a, pid_t, 0) : 0);
}

void ft_assert_target_healthy(Workload *t)
{
	unsigned long long w1, w2, b1, b2;
	g_assert_cmpint(waitpid(t->pid, NULL, WNOHANG), ==, 0);
	g_autofree char *s1 = wl_call(t, "status");
	g_assert_nonnull(s1);
	g_assert_cmpint(sscanf(s1, "ok %llu %llu", &w1, &b1), ==, 2);
	g_usleep(200000);
	g_autofree char *s2 = wl_call(t, "status");
	g_assert_nonnull(s2);
	g_assert_cmpint(sscanf(s2, "ok %llu %llu", &w2, &b2), ==, 2);
	g_autofree char *states = thread_states(t->pid);
	g_assert_nonnull(states);
	if (strchr(states, 'T') || strchr(states, 't'))
		g_error("target %d left stopped: threads %s", (int)t->pid,
			states);
	g_assert_cmpuint(w2, >, w1); /* its writers run */
	g_assert_cmpuint(b2, ==, 0); /* nothing changed its memory */
	g_autofree char *c = wl_call(t, "check");
	unsigned long long pages, nb;
	g_assert_nonnull(c);
	g_assert_cmpint(sscanf(c, "ok %llu %llu", &pages, &nb), ==, 2);
	g_assert_cmpuint(pages, ==, t->npages);
	g_assert_cmpuint(nb, ==, 0);
	g_assert_cmpint(waitpid(t->pid, NULL, WNOHANG), ==, 0);
}

/* ---- a thread that clears in a loop ---- */

static void *cl_main(void *arg)
{
	ClearLoop *cl = arg;
	while (!atomic_load(&cl->stop)) {
		for (int i = 0; i < cl->npaths; i++) {
			int r = tl_write_text(cl->paths[i], "1\n", 2);
			if (r == 0) {
				atomic_fetch_add(&cl->ok, 1);
				continue;
			}
			int e = -r < 140 ? -r : 139;
			atomic_fetch_add(&cl->errs[e], 1);
			if (cl->stop_on_error)
				return NULL;
		}
	}
	return NULL;
}

void cl_start(ClearLoop *cl, char **paths, int n, gboolean stop_on_error)
{
	memset(cl, 0, sizeof(*cl));
	for (int i = 0; i < n && i < 8; i++)
		cl->paths[i] = g_strdup(paths[i]);
	cl->npaths = MIN(n, 8);
	cl->stop_on_error = stop_on_error;
	pthread_create(&cl->th, NULL, cl_main, cl);
}

void cl_stop(ClearLoop *cl)
{
	atomic_store(&cl->stop, 1);
	pthread_join(cl->th, NULL);
	for (int i = 0; i < cl->npaths; i++)
		g_free(cl->paths[i]);
}

char *cl_errors(const ClearLoop *cl, const int *allowed, int nallowed)
{
	GString *s = g_string_new(NULL);
	for (int e = 1; e < 140; e++) {
		gboolean ok = FALSE;
		for (int i = 0; i < nallowed; i++)
			ok |= allowed[i] == e;
		if (cl->errs[e] && !ok)
			g_string_append_printf(s, "%s%s x%llu",
					       s->len ? ", " : "",
					       g_strerror(e),
					       (unsigned long long)cl->errs[e]);
	}
	if (!s->len) {
		g_string_free(s, TRUE);
		return NULL;
	}
	return g_string_free(s, FALSE);
}

/* ---- /fault/life/chaos ---- */

#define NHAMMER 4

enum { OP_RANGES, OP_LIST, OP_LOOKUP, OP_CLEAR, OP_STATUS, OP_LAST, NOPS };
static const char *op_names[NOPS] = {"dirty_ranges", "pages/", "lookup",
				     "clear", "status", "last/"};

typedef struct {
	Mount *m;
	_Atomic pid_t pid;
	_Atomic uint64_t region;
	_Atomic int stop;
	_Atomic uint64_t ok[NOPS], errs[NOPS][140];
	_Atomic int64_t since[NHAMMER];
	GMutex lock;
	GString *bad; /* unexpected errnos, first ones */
	int nbad;
} Chaos;

static void chaos_note(Chaos *c, int op, int e, gboolean page)
{
	if (e < 0 || e >= 140)
		e = 139;
	atomic_fetch_add(&c->errs[op][e], 1);
	if (e == ENOENT || e == ESRCH || (page && e == EIO))
		return;
	g_mutex_lock(&c->lock);
	if (c->nbad++ < 20)
		g_string_append_printf(c->bad, "  %s: %s\n", op_names[op],
				       g_strerror(e));
	g_mutex_unlock(&c->lock);
}

static void *hammer_main(void *arg)
{
	Chaos *c = arg;
	static _Atomic int next;
	int me = atomic_fetch_add(&next, 1) % NHAMMER;
	g_autoptr(GRand) rnd = g_rand_new_with_seed((guint32)me + 17);
	guint8 *buf = g_malloc(tl_ps);

	while (!atomic_load(&c->stop)) {
		pid_t pid = atomic_load(&c->pid);
		uint64_t region = atomic_load(&c->region);
		if (!pid) {
			g_usleep(200);
			continue;
		}
		int op = g_rand_int_range(rnd, 0, NOPS);
		int r = 0;
		atomic_store(&c->since[me], g_get_monotonic_time());
		switch (op) {
		case OP_RANGES:
		case OP_LAST:
		case OP_STATUS: {
			const char *rel = op == OP_RANGES ? "dirty_ranges"
					  : op == OP_LAST ? "last/dirty_ranges"
							  : "status";
			g_autofree char *p = mnt_path(c->m, pid, rel);
			g_autofree char *t = NULL;
			r = tl_read_text(p, 16384, &t, NULL);
			if (r == 0 && op != OP_STATUS) {
				g_autofree char *err = NULL;
				g_autoptr(GArray) a =
					tl_ranges_parse(t, tl_ps, &err);
				if (!a) {
					g_mutex_lock(&c->lock);
					g_string_append_printf(
						c->bad, "  %s: %s\n", p, err);
					c->nbad++;
					g_mutex_unlock(&c->lock);
				}
			}
			break;
		}
		case OP_LIST: {
			g_autofree char *p = mnt_path(c->m, pid, "pages");
			DIR *d = opendir(p);
			if (!d) {
				r = -errno;
				break;
			}
			struct dirent *de;
			int n = 0;
			errno = 0;
			while (r == 0 && (de = readdir(d)) && n < 8) {
				if (de->d_name[0] == '.')
					continue;
				g_autofree char *pp = g_strdup_printf(
					"%s/%s", p, de->d_name);
				int rr = read_page(pp, buf);
				if (rr < 0 && rr != -ENOENT)
					r = rr;
				n++;
				errno = 0;
			}
			if (r == 0 && errno)
				r = -errno;
			closedir(d);
			break;
		}
		case OP_LOOKUP: {
			if (!region)
				break;
			g_autofree char *p = g_strdup_printf(
				"%s/%d/pages/%016" G_GINT64_MODIFIER "x",
				c->m->mnt, (int)pid,
				region +
					(uint64_t)g_rand_int_range(rnd, 0, 32) *
						tl_ps);
			r = read_page(p, buf);
			break;
		}
		case OP_CLEAR: {
			g_autofree char *p = mnt_path(c->m, pid, "clear");
			r = tl_write_text(p, "1\n", 2);
			break;
		}
		}
		atomic_store(&c->since[me], 0);
		if (r == 0)
			atomic_fetch_add(&c->ok[op], 1);
		else
			chaos_note(c, op, -r, op == OP_LIST || op == OP_LOOKUP);
	}
	g_free(buf);
	return NULL;
}

static void chaos_watch(Chaos *c)
{
	int64_t now = g_get_monotonic_time();
	for (int i = 0; i < NHAMMER; i++) {
		int64_t s = atomic_load(&c->since[i]);
		if (s && now - s > 10 * G_USEC_PER_SEC) {
			g_autofree char *d = proc_dump_threads(c->m->daemon);
			g_error("a request hangs for over 10 s:\n%s", d);
		}
	}
}

/* A working mount tracks a fresh workload exactly. */
static void assert_mount_serves(Mount *m)
{
	g_assert_true(mount_alive(m));
	Workload *w = wl_start();
	guint64 a = wl_addr(w, "map r 16");
	wl_do(w, "fill r 0 16 3");
	g_assert_cmpuint(do_clear(m, w->pid), ==, 1);
	wl_do(w, "write r 5 9");
	g_autofree char *got =
		ranges_read_in(m, w->pid, "dirty_ranges", a, a + 16 * tl_ps);
	g_autofree char *want = rline(a + 5 * tl_ps, 1, "rw-p", "");
	g_assert_cmpstr(got, ==, want);
	g_autofree char *name = page_name(a + 5 * tl_ps);
	g_autofree char *rel = g_strdup_printf("pages/%s", name);
	g_autofree char *p = mnt_path(m, w->pid, rel);
	guint8 *buf = g_malloc(tl_ps);
	g_assert_cmpint(read_page(p, buf), ==, 0);
	assert_pattern(buf, 9, 5);
	g_free(buf);
	wl_kill(w);
}

static void test_chaos(void)
{
	if (ft_skip_unless_ready())
		return;
	Mount m;
	mount_start(&m, NULL);
	Chaos *c = g_new0(Chaos, 1);
	c->m = &m;
	c->bad = g_string_new(NULL);
	g_mutex_init(&c->lock);
	pthread_t th[NHAMMER];
	for (int i = 0; i < NHAMMER; i++)
		pthread_create(&th[i], NULL, hammer_main, c);
	g_autoptr(GRand) rnd = g_rand_new_with_seed(99);
	int actions[5] = {0};
	double t0 = tl_now();
	int iter;
	for (iter = 0; iter < 200 && tl_now() - t0 < 10; iter++) {
		Workload *w = wl_start();
		guint64 a = wl_addr(w, "map r 32");
		wl_do(w, "fill r 0 32 1");
		atomic_store(&c->region, a);
		atomic_store(&c->pid, w->pid);
		g_usleep((gulong)g_rand_int_range(rnd, 0, 15000));
		int act = g_rand_int_range(rnd, 0, 5);
		actions[act]++;
		switch (act) {
		case 0: { /* exit */
			g_autofree char *r = wl_try(w, "exit 0");
			waitpid(w->pid, NULL, 0);
			break;
		}
		case 1: /* SIGKILL */
			kill(w->pid, SIGKILL);
			break;
		case 2: { /* exec, then exit soon after */
			g_autofree char *r = wl_try(w, "exec");
			g_assert_true(g_str_has_prefix(r, "ready "));
			atomic_store(&c->region, 0);
			g_usleep((gulong)g_rand_int_range(rnd, 0, 10000));
			g_autofree char *r2 = wl_try(w, "exit 0");
			waitpid(w->pid, NULL, 0);
			break;
		}
		case 3: { /* fork; the hammers go to the child; both die */
			g_autofree char *cp = wl_cmd(w, "fork");
			pid_t child = atoi(cp);
			atomic_store(&c->pid, child);
			g_usleep((gulong)g_rand_int_range(rnd, 0, 10000));
			kill(w->pid, SIGKILL); /* the child: PDEATHSIG */
			break;
		}
		default: { /* clears in flight, then SIGKILL */
			g_autofree char *p = mnt_path(&m, w->pid, "clear");
			ClearLoop cl;
			cl_start(&cl, &p, 1, TRUE);
			g_usleep((gulong)g_rand_int_range(rnd, 0, 3000));
			kill(w->pid, SIGKILL);
			cl_stop(&cl);
			for (int e = 1; e < 140; e++)
				for (uint64_t k = 0; k < cl.errs[e]; k++)
					chaos_note(c, OP_CLEAR, e, FALSE);
			atomic_fetch_add(&c->ok[OP_CLEAR], cl.ok);
			break;
		}
		}
		atomic_store(&c->pid, 0);
		wl_kill(w);
		while (waitpid(-1, NULL, WNOHANG) > 0)
			;
		chaos_watch(c);
	}
	atomic_store(&c->stop, 1);
	for (int i = 0; i < NHAMMER; i++)
		pthread_join(th[i], NULL);
	ft_wait_injectors();

	GString *sum = g_string_new(NULL);
	for (int op = 0; op < NOPS; op++) {
		g_string_append_printf(sum, "%s: %llu ok", op_names[op],
				       (unsigned long long)c->ok[op]);
		for (int e = 1; e < 140; e++)
			if (c->errs[op][e])
				g_string_append_printf(
					sum, ", %s %llu", g_strerror(e),
					(unsigned long long)c->errs[op][e]);
		g_string_append(sum, "\n");
	}
	g_test_message("%d targets (exit %d, kill %d, exec %d, fork %d, "
		       "kill mid-clear %d) in %.1f s\n%s",
		       iter, actions[0], actions[1], actions[2], actions[3],
		       actions[4], tl_now() - t0, sum->str);
	g_string_free(sum, TRUE);
	if (c->nbad)
		g_error("%d unexpected results:\n%s", c->nbad, c->bad->str);
	assert_mount_serves(&m);
	mount_stop(&m);
	g_string_free(c->bad, TRUE);
	g_mutex_clear(&c->lock);
	g_free(c);
}

/* ---- /fault/life/clear-vs-exit ---- */

static void test_clear_vs_exit(void)
{
	if (ft_skip_unless_ready())
		return;
	Mount m;
	mount_start(&m, NULL);
	mount_list_root(&m);
	int fd_base = tl_fd_count(m.daemon);
	g_autoptr(GRand) rnd = g_rand_new_with_seed(7);
	const int allowed[] = {ENOENT, ESRCH};
	uint64_t ok = 0, gone = 0;
	double t0 = tl_now();
	int iter;
	for (iter = 0; iter < 150 && tl_now() - t0 < 8; iter++) {
		/* half: a fresh process (the first clear injects the
		 * userfaultfd syscall); half: cleared once already */
		Workload *t = wl_start_stress((uint32_t)iter + 1, 64, 1, 100);
		g_assert_nonnull(t);
		g_autofree char *p = mnt_path(&m, t->pid, "clear");
		if (iter % 2)
			g_assert_cmpint(tl_write_text(p, "1", 1), ==, 0);
		ClearLoop cl;
		cl_start(&cl, &p, 1, TRUE);
		g_usleep((gulong)g_rand_int_range(rnd, 0, 4000));
		if (g_rand_boolean(rnd)) {
			g_autofree char *r = wl_call(t, "exit");
			(void)r;
		} else {
			kill(t->pid, SIGKILL);
		}
		/* the clear loop ends at its first error (ESRCH/ENOENT) */
		for (int i = 0; i < 1000 && !cl.errs[ENOENT] &&
				!cl.errs[ESRCH] && !cl_errors(&cl, allowed, 2);
		     i++)
			g_usleep(1000);
		cl_stop(&cl);
		wl_kill(t);
		ok += cl.ok;
		gone += cl.errs[ENOENT] + cl.errs[ESRCH];
		g_autofree char *bad = cl_errors(&cl, allowed, 2);
		if (bad)
			g_error("iteration %d: clear racing with exit gave %s",
				iter, bad);
		g_assert_true(mount_alive(&m));
	}
	ft_wait_injectors();
	g_test_message("%d targets, %llu clears ok, %llu ENOENT/ESRCH in "
		       "%.1f s",
		       iter, (unsigned long long)ok, (unsigned long long)gone,
		       tl_now() - t0);
	/* no root listing: the daemon drops the trackers of the dead (and
	 * their fds) as they exit; give its reaper a moment */
	int fd_end = tl_fd_count(m.daemon);
	for (int i = 0; i < 100 && fd_end > fd_base + 2; i++) {
		g_usleep(10000);
		fd_end = tl_fd_count(m.daemon);
	}
	g_test_message("daemon fds: %d before, %d after", fd_base, fd_end);
	g_assert_cmpint(fd_end, <=, fd_base + 2);
	assert_mount_serves(&m);
	mount_stop(&m);
}

/* ---- /fault/life/pid-reuse ---- */

static int set_last_pid(pid_t pid)
{
	int fd = open("/proc/sys/kernel/ns_last_pid", O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	char b[32];
	int n = snprintf(b, sizeof(b), "%d", (int)pid);
	int r = write(fd, b, (size_t)n) == n ? 0 : -errno;
	close(fd);
	return r;
}

static void test_pid_reuse(void)
{
	if (ft_skip_unless_ready())
		return;
	int r = set_last_pid(1 << 30);
	if (r != -EINVAL && r != 0) {
		g_autofree char *why = g_strdup_printf(
			"/proc/sys/kernel/ns_last_pid not writable: %s",
			g_strerror(-r));
		g_test_skip(why);
		return;
	}
	Mount m;
	mount_start(&m, NULL);
	guint8 *buf = g_malloc(tl_ps);

	Workload *w1 = wl_start();
	pid_t pid = w1->pid;
	guint64 a = wl_addr(w1, "map r 4");
	wl_do(w1, "fill r 0 4 7");
	g_assert_cmpuint(do_clear(&m, pid), ==, 1);
	wl_do(w1, "write r 1 9");
	g_autofree char *name = page_name(a + tl_ps);
	g_autofree char *rel = g_strdup_printf("pages/%s", name);
	g_autofree char *ppath = mnt_path(&m, pid, rel);
	g_autofree char *cpath = mnt_path(&m, pid, "clear");
	g_autofree char *dpath = mnt_path(&m, pid, "dirty_ranges");
	int fd_page = open(ppath, O_RDONLY | O_CLOEXEC);
	g_assert_no_errno(fd_page);
	int fd_clear = open(cpath, O_WRONLY | O_CLOEXEC);
	g_assert_no_errno(fd_clear);
	int fd_ranges = open(dpath, O_RDONLY | O_CLOEXEC);
	g_assert_no_errno(fd_ranges);
	g_assert_cmpint(read_page_fd(fd_page, buf), ==, 0);
	assert_pattern(buf, 9, 1);

	wl_kill(w1);
	/* the daemon sees the exit at once: ESRCH before the reuse too */
	g_assert_cmpint(read_page_fd(fd_page, buf), ==, -ESRCH);

	Workload *w2 = NULL;
	int tries;
	for (tries = 0; tries < 100; tries++) {
		g_assert_cmpint(set_last_pid(pid - 1), ==, 0);
		w2 = wl_start();
		if (w2->pid == pid)
			break;
		wl_kill(w2);
		w2 = NULL;
	}
	if (!w2) {
		close(fd_page);
		close(fd_clear);
		close(fd_ranges);
		mount_stop(&m);
		g_free(buf);
		g_test_skip("could not make the pid be reused in 100 tries");
		return;
	}
	g_test_message("pid %d reused after %d tries", (int)pid, tries + 1);

	/* files of the old process never read the new one */
	g_assert_cmpint(read_page_fd(fd_page, buf), ==, -ESRCH);
	errno = 0;
	g_assert_cmpint(write(fd_clear, "1", 1), ==, -1);
	g_assert_cmpint(errno, ==, ESRCH);
	char tbuf[4096];
	ssize_t n = pread(fd_ranges, tbuf, sizeof(tbuf), 0);
	g_assert_cmpint(n, >=, 0); /* rendered at open: may be read */
	close(fd_page);
	close(fd_clear);
	close(fd_ranges);

	/* the directory is the new process: epoch 0, its own pages */
	g_assert_cmpuint(read_epoch(&m, pid), ==, 0);
	g_autoptr(GHashTable) st = read_status(&m, pid);
	g_assert_cmpstr(g_hash_table_lookup(st, "epoch"), ==, "0");
	g_assert_cmpstr(g_hash_table_lookup(st, "cleared_at"), ==, "0");
	g_assert_cmpstr(g_hash_table_lookup(st, "last_pages"), ==, "0");
	g_autofree char *lp = mnt_path(&m, pid, "last/pages");
	g_autoptr(GPtrArray) last = list_dir(lp);
	g_assert_nonnull(last);
	g_assert_cmpuint(last->len, ==, 0);
	g_autofree char *pp = mnt_path(&m, pid, "pages");
	g_autoptr(GPtrArray) pages = list_dir(pp);
	g_assert_nonnull(pages);
	g_assert_cmpuint(pages->len, >, 0);
	r = read_page(ppath, buf);
	if (r == 0) { /* something of the new process there: not old data */
		gboolean same = TRUE;
		for (gsize i = 0; i < tl_ps; i++)
			same &= buf[i] == pat_byte(9, 1, i);
		g_assert_false(same);
	} else {
		g_assert_cmpint(r, ==, -ENOENT);
	}
	/* and it is tracked from scratch */
	guint64 a2 = wl_addr(w2, "map r 4");
	wl_do(w2, "fill r 0 4 2");
	g_assert_cmpuint(do_clear(&m, pid), ==, 1);
	wl_do(w2, "write r 2 5");
	g_autofree char *got =
		ranges_read_in(&m, pid, "dirty_ranges", a2, a2 + 4 * tl_ps);
	g_autofree char *want = rline(a2 + 2 * tl_ps, 1, "rw-p", "");
	g_assert_cmpstr(got, ==, want);
	wl_kill(w2);
	g_free(buf);
	mount_stop(&m);
}

void ft_register_life(void)
{
	g_test_add_func("/fault/life/chaos", test_chaos);
	g_test_add_func("/fault/life/clear-vs-exit", test_clear_vs_exit);
	g_test_add_func("/fault/life/pid-reuse", test_pid_reuse);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	tl_env_init(TRUE);
	ft_register_life();
	ft_register_kill();
	ft_register_limits();
	return g_test_run();
}
