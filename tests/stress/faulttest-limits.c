/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * sdfs_faulttest: the daemon out of resources.
 *   /fault/limits/nofile  daemon with RLIMIT_NOFILE 32; 24 processes opened
 *                         and cleared concurrently (trackers hold pidfds,
 *                         userfaultfds, pagemap fds): the failures are
 *                         errnos, the daemon lives, and once the processes
 *                         are gone the mount serves normally again
 *   /fault/limits/as      daemon with an RLIMIT_AS calibrated at run time
 *                         (current VmSize + a margin): rendering the
 *                         dirty_ranges of a process with 200k alternating
 *                         written pages fails with ENOMEM, the daemon
 *                         survives, and a small request afterwards works
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "faulttest.h"

#define NPROC 24

typedef struct {
	Mount *m;
	pid_t pid;
	guint64 addr;
	int fds[4];
	int err[4]; /* per step: 0 or errno */
} Opener;

static const char *step_names[4] = {"open dirty_ranges", "clear",
				    "open pages/ file", "read page"};

static void *opener_main(void *arg)
{
	Opener *o = arg;
	g_autofree char *dr = mnt_path(o->m, o->pid, "dirty_ranges");
	g_autofree char *cl = mnt_path(o->m, o->pid, "clear");
	g_autofree char *pg = g_strdup_printf(
		"%s/%d/pages/%016" G_GINT64_MODIFIER "x", o->m->mnt,
		(int)o->pid, o->addr);
	char buf[65536];
	for (int i = 0; i < 4; i++)
		o->fds[i] = -1;
	o->fds[0] = open(dr, O_RDONLY | O_CLOEXEC);
	o->err[0] = o->fds[0] < 0 ? errno : 0;
	int r = tl_write_text(cl, "1", 1);
	o->err[1] = -r;
	/* after a clear the page is clean: write it again? no: open the
	 * page only if still dirty (before any clear it is) */
	o->fds[2] = open(pg, O_RDONLY | O_CLOEXEC);
	o->err[2] = o->fds[2] < 0 ? errno : 0;
	if (o->fds[2] >= 0)
		o->err[3] = read_page_fd(o->fds[2], buf) < 0 ? errno : 0;
	return NULL;
}

static void test_nofile(void)
{
	if (ft_skip_unless_ready())
		return;
	Mount m;
	mount_start(&m, &(MountOpts){.nofile = 32});
	mount_list_root(&m);
	int fd_base = tl_fd_count(m.daemon);
	g_test_message("daemon fds at start: %d (limit 32)", fd_base);
	Workload *w[NPROC];
	Opener o[NPROC];
	pthread_t th[NPROC];
	for (int i = 0; i < NPROC; i++) {
		w[i] = wl_start();
		o[i] = (Opener){.m = &m, .pid = w[i]->pid};
		o[i].addr = wl_addr(w[i], "map r 4");
		wl_do(w[i], "fill r 0 4 1");
	}
	for (int i = 0; i < NPROC; i++)
		pthread_create(&th[i], NULL, opener_main, &o[i]);
	for (int i = 0; i < NPROC; i++)
		pthread_join(th[i], NULL);
	int counts[4][140] = {{0}};
	int failures = 0, odd = 0;
	GString *odd_s = g_string_new(NULL);
	for (int i = 0; i < NPROC; i++)
		for (int s = 0; s < 4; s++) {
			int e = o[i].err[s];
			counts[s][e < 140 ? e : 139]++;
			if (!e)
				continue;
			failures++;
			/* every process is alive: only resource errnos make
			 * sense */
			if (e != EMFILE && e != ENFILE && e != ENOMEM &&
			    !(s == 2 && e == ENOENT && !o[i].err[1])) {
				odd++;
				g_string_append_printf(odd_s, " [%s of live pid "
							      "%d: %s]",
						       step_names[s],
						       (int)o[i].pid,
						       g_strerror(e));
			}
		}
	for (int s = 0; s < 4; s++) {
		GString *l = g_string_new(step_names[s]);
		for (int e = 0; e < 140; e++)
			if (counts[s][e])
				g_string_append_printf(l, ", %s %d",
						       e ? g_strerror(e) : "ok",
						       counts[s][e]);
		g_test_message("%s", l->str);
		g_string_free(l, TRUE);
	}
	g_test_message("daemon fds under load: %d", tl_fd_count(m.daemon));
	if (odd)
		g_test_message("FINDING: %d failures with an errno that "
			       "misnames fd exhaustion:%s",
			       odd, odd_s->str);
	g_string_free(odd_s, TRUE);
	/* the limit was reached, and it was only ever an errno */
	g_assert_cmpint(failures, >, 0);
	g_assert_true(mount_alive(&m));
	/* at the limit a listing is whole or an errno, never one with holes
	 * (the trackers of the live targets hold descriptors too) */
	int listed = mount_list_root(&m);
	if (listed <= 2)
		g_assert_true(listed == -EMFILE || listed == -ENFILE);

	for (int i = 0; i < NPROC; i++) {
		for (int s = 0; s < 4; s++)
			if (o[i].fds[s] >= 0)
				close(o[i].fds[s]);
		wl_kill(w[i]);
	}
	mount_list_root(&m); /* reap the trackers of the dead */
	g_usleep(100000);
	int fd_end = tl_fd_count(m.daemon);
	g_test_message("daemon fds after: %d", fd_end);
	g_assert_cmpint(fd_end, <=, fd_base + 2);

	/* normal service again, also with more than one process */
	Workload *x = wl_start(), *y = wl_start();
	guint64 a = wl_addr(x, "map r 8");
	wl_do(x, "fill r 0 8 4");
	wl_do(y, "map r 8");
	g_assert_cmpuint(do_clear(&m, x->pid), ==, 1);
	g_assert_cmpuint(do_clear(&m, y->pid), ==, 1);
	wl_do(x, "write r 3 6");
	g_autofree char *got =
		ranges_read_in(&m, x->pid, "dirty_ranges", a, a + 8 * tl_ps);
	g_autofree char *want = rline(a + 3 * tl_ps, 1, "rw-p", "");
	g_assert_cmpstr(got, ==, want);
	g_autofree char *pg =
		g_strdup_printf("%s/%d/pages/%016" G_GINT64_MODIFIER "x", m.mnt,
				(int)x->pid, a + 3 * tl_ps);
	guint8 *buf = g_malloc(tl_ps);
	g_assert_cmpint(read_page(pg, buf), ==, 0);
	assert_pattern(buf, 6, 3);
	g_free(buf);
	wl_kill(x);
	wl_kill(y);
	mount_stop(&m);
}

/* The soft limit only: raising a hard limit again may need privileges
 * we lack in a container. RLIM_INFINITY: back to the hard limit. */
static int set_as(pid_t pid, rlim_t lim)
{
	struct rlimit old;
	if (prlimit(pid, RLIMIT_AS, NULL, &old) < 0)
		return -errno;
	struct rlimit rl = {lim == RLIM_INFINITY || lim > old.rlim_max
				    ? old.rlim_max
				    : lim,
			    old.rlim_max};
	return prlimit(pid, RLIMIT_AS, &rl, NULL) < 0 ? -errno : 0;
}

/* open+read the whole file: 0, or -errno of open or read */
static int try_read(const char *path, size_t *len)
{
	g_autofree char *t = NULL;
	int r = tl_read_text(path, 16384, &t, len);
	return r;
}

static void test_as(void)
{
	if (ft_skip_unless_ready())
		return;
	const size_t N = 200000;
	Mount m;
	/* one malloc arena: glibc's per-thread arenas reserve 64 MiB each
	 * up front, and a big buffer placed in that reservation never
	 * meets RLIMIT_AS; the main arena grows with brk, which does */
	const char *env[] = {"GLIBC_TUNABLES=glibc.malloc.arena_max=1", NULL};
	g_autofree char *err = NULL;
	if (mount_try(&m, &(MountOpts){.env = env}, &err) < 0)
		g_error("%s", err);
	if (proc_status_kb(m.daemon, "VmSize") > 1L << 30) {
		/* ASan reserves terabytes of shadow: no RLIMIT_AS fits */
		mount_stop(&m);
		g_test_skip("the daemon is built with a sanitizer: its "
			    "address space cannot be limited");
		return;
	}
	Workload *big = wl_start_stress(0xe44, 8, 1, 1000);
	Workload *small = wl_start_stress(0xe45, 8, 1, 1000);
	g_assert_nonnull(big);
	g_assert_nonnull(small);
	g_autofree char *sp = wl_call(big, "sparse %zu", N);
	g_assert_nonnull(sp);
	g_assert_true(g_str_has_prefix(sp, "ok "));
	g_autofree char *bigp = mnt_path(&m, big->pid, "dirty_ranges");
	g_autofree char *smallp = mnt_path(&m, small->pid, "dirty_ranges");
	g_autofree char *smalls = mnt_path(&m, small->pid, "status");

	/* warm the daemon up with small requests only: a big render now
	 * would leave glibc's mmap threshold raised, and the next big buffer
	 * would come from arena space reserved already (not limited) */
	for (int i = 0; i < 5; i++) {
		g_assert_cmpint(try_read(smallp, NULL), ==, 0);
		g_assert_cmpint(try_read(smalls, NULL), ==, 0);
	}
	size_t len = 0;
	long vm = proc_status_kb(m.daemon, "VmSize");
	long peak = proc_status_kb(m.daemon, "VmPeak");
	g_test_message("daemon VmSize %ld kB, VmPeak %ld kB", vm, peak);

	/* the smallest margin over the current size at which a small
	 * request works; at it, the big one must fail with ENOMEM */
	gboolean calibrated = FALSE;
	const long margins[] = {512, 1024, 2048, 4096, 8192};
	for (size_t i = 0; i < G_N_ELEMENTS(margins); i++) {
		vm = proc_status_kb(m.daemon, "VmSize");
		g_assert_cmpint(set_as(m.daemon,
				       (rlim_t)(vm + margins[i]) * 1024),
				==, 0);
		int rs = try_read(smallp, NULL);
		int rs2 = try_read(smalls, NULL);
		g_assert_true(mount_alive(&m));
		if (rs < 0 || rs2 < 0) {
			g_test_message("margin %ld kB: small request: %s",
				       margins[i], g_strerror(rs ? -rs : -rs2));
			g_assert_true(rs == -ENOMEM || rs2 == -ENOMEM);
			continue;
		}
		int rb = try_read(bigp, &len);
		g_test_message("margin %ld kB: big dirty_ranges: %s",
			       margins[i], rb ? g_strerror(-rb) : "rendered");
		if (!mount_alive(&m)) {
			g_autofree char *log = mount_log(&m);
			g_error("the daemon died rendering under RLIMIT_AS "
				"(VmSize + %ld kB):\n%s",
				margins[i], log ? log : "");
		}
		if (rb == 0)
			break; /* did not bite; larger margins will not */
		g_assert_cmpint(rb, ==, -ENOMEM);
		/* and afterwards a small request works */
		g_assert_cmpint(try_read(smallp, NULL), ==, 0);
		g_assert_cmpint(try_read(smalls, NULL), ==, 0);
		calibrated = TRUE;
		break;
	}
	g_assert_true(mount_alive(&m));
	g_assert_cmpint(set_as(m.daemon, RLIM_INFINITY), ==, 0);
	if (!calibrated)
		g_test_incomplete("no margin made the big render fail while "
				  "small requests worked");
	/* no limit: everything works again */
	g_assert_cmpint(try_read(bigp, &len), ==, 0);
	g_assert_cmpuint(len, >, N * 40);
	g_autofree char *cl = mnt_path(&m, small->pid, "clear");
	g_assert_cmpint(tl_write_text(cl, "1", 1), ==, 0);
	wl_kill(big);
	wl_kill(small);
	mount_stop(&m);
}

void ft_register_limits(void)
{
	g_test_add_func("/fault/limits/nofile", test_nofile);
	g_test_add_func("/fault/limits/as", test_as);
}
