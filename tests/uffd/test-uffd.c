/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The uffd backend against real child processes on the running kernel. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "backend.h"
#include "common.h"
#include "inject.h"
#include "proc.h"
#include "ranges.h"
#include "scan.h"

static size_t ps;
static const struct sdfs_backend *B = &sdfs_backend_uffd;

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void target_init(struct sdfs_target *st, struct tgt *t)
{
	memset(st, 0, sizeof(*st));
	st->pid = t->pid;
	st->pidfd = t->pidfd;
	g_assert_cmpint(B->attach(st), ==, 0);
}

/* Scan the current epoch into s (whole address space). */
static int scan_into(struct sdfs_target *st, struct sdfs_dirtyset *s)
{
	struct sdfs_maps m = {0};
	int r = sdfs_maps_read(st->pid, &m);
	if (r < 0)
		return r;
	struct sdfs_scan_req req = {
		.maps = &m,
		.from = 0,
		.to = UINT64_MAX,
		.fn = sdfs_scan_collect_fn,
		.ctx = s,
	};
	sdfs_dirtyset_clear(s);
	r = B->scan(st, &req);
	sdfs_maps_free(&m);
	return r;
}

/* A clear; the dirty set it captured into s (empty on failure). */
static int clear_capture(struct sdfs_target *st, struct sdfs_dirtyset *s,
			 struct sdfs_clear_stats *cs)
{
	struct sdfs_capture c;

	memset(&c, 0, sizeof(c));
	sdfs_dirtyset_free(s);
	int r = B->clear(st, &c, cs);
	if (r == 0) {
		*s = c.dirty;
		sdfs_dirtyset_init(&c.dirty);
	}
	sdfs_dirtyset_free(&c.dirty);
	sdfs_dirtyset_free(&c.own);
	g_free(c.maps);
	return r;
}

static int clear_into(struct sdfs_target *st, struct sdfs_dirtyset *s)
{
	struct sdfs_clear_stats cs;
	int r = clear_capture(st, s, &cs);
	if (r == 0)
		st->epoch++;
	return r;
}

/* The pages of s inside [a, a + n pages), as a string "0 3 17". */
static char *pages_in(const struct sdfs_dirtyset *s, uint64_t a, size_t n)
{
	GString *g = g_string_new(NULL);
	for (size_t i = 0; i < n; i++)
		if (sdfs_dirtyset_contains(s, a + i * ps))
			g_string_append_printf(g, "%s%zu", g->len ? " " : "",
					       i);
	return g_string_free(g, false);
}

static void assert_pages(const struct sdfs_dirtyset *s, uint64_t a, size_t n,
			 const char *expect)
{
	g_autofree char *got = pages_in(s, a, n);
	g_assert_cmpstr(got, ==, expect);
}

static void test_probe(void)
{
	char why[200];
	int r = B->probe(why, sizeof(why));
	g_test_message("probe: %d (%s)", r, why);
	g_assert_cmpint(r, ==, 0);
}

/* attach, epoch 0, first clear, writes, exact scan, second clear */
static void test_exact(void)
{
	struct tgt t;
	struct sdfs_target st;
	struct sdfs_dirtyset s;
	sdfs_dirtyset_init(&s);
	tgt_start(&t);
	uint64_t a = tgt_cmd_hex(&t, "mmap 64");
	g_free(tgt_cmd(&t, "fill %lx 32 1", (unsigned long)a));
	target_init(&st, &t);

	/* epoch 0: every present page; nothing done to the target */
	g_assert_cmpint(scan_into(&st, &s), ==, 0);
	g_assert_cmpint(count_uffds(t.pid), ==, 0);
	{
		g_autofree char *p = pages_in(&s, a, 64);
		g_assert_true(g_str_has_prefix(p, "0 1 2 3"));
		g_assert_true(g_str_has_suffix(p, "30 31"));
	}
	double t0 = now_ms();
	g_assert_cmpint(clear_into(&st, &s), ==, 0);
	g_test_message("first clear (inject + register + capture): %.2f ms",
		       now_ms() - t0);
	{
		g_autofree char *p = pages_in(&s, a, 64);
		g_assert_true(g_str_has_suffix(p, "30 31"));
	}
	g_assert_cmpint(count_uffds(t.pid), ==, 0); /* its copy is closed */

	g_assert_cmpint(scan_into(&st, &s), ==, 0);
	assert_pages(&s, a, 64, "");
	g_free(tgt_cmd(&t, "poke %lx", (unsigned long)(a + 3 * ps)));
	g_free(tgt_cmd(&t, "poke %lx", (unsigned long)(a + 17 * ps)));
	g_free(tgt_cmd(&t, "poke %lx", (unsigned long)(a + 40 * ps)));
	g_free(tgt_cmd(&t, "peek %lx", (unsigned long)(a + 50 * ps)));
	g_assert_cmpint(scan_into(&st, &s), ==, 0);
	assert_pages(&s, a, 64, "3 17 40");
	g_test_message("pages dirty in the whole process after a few commands: "
		       "%" G_GUINT64_FORMAT,
		       s.pages);

	t0 = now_ms();
	g_assert_cmpint(clear_into(&st, &s), ==, 0);
	g_test_message("second clear: %.2f ms", now_ms() - t0);
	assert_pages(&s, a, 64, "3 17 40");
	g_assert_cmpint(scan_into(&st, &s), ==, 0);
	assert_pages(&s, a, 64, "");
	/* content intact */
	g_autofree char *pk =
		tgt_cmd(&t, "peek %lx", (unsigned long)(a + 3 * ps));
	g_assert_cmpstr(pk, ==, "5"); /* fill seed 1 + page 3, poked once */

	B->detach(&st);
	g_assert_cmpint(count_uffds(t.pid), ==, 0);
	g_autofree char *p = tgt_cmd(&t, "ping");
	g_assert_cmpstr(p, ==, "pong");
	tgt_stop(&t);
	sdfs_dirtyset_free(&s);
}

static void test_new_mappings(void)
{
	struct tgt t;
	struct sdfs_target st;
	struct sdfs_dirtyset s;
	sdfs_dirtyset_init(&s);
	tgt_start(&t);
	uint64_t a = tgt_cmd_hex(&t, "mmap 16");
	g_free(tgt_cmd(&t, "fill %lx 16 1", (unsigned long)a));
	target_init(&st, &t);
	g_assert_cmpint(clear_into(&st, &s), ==, 0);

	/* a new mapping counts as dirty (present pages only) */
	uint64_t b = tgt_cmd_hex(&t, "mmap 8");
	g_free(tgt_cmd(&t, "fill %lx 4 7", (unsigned long)b));
	g_assert_cmpint(scan_into(&st, &s), ==, 0);
	assert_pages(&s, b, 8, "0 1 2 3");
	assert_pages(&s, a, 16, "");
	/* the next clear captures and registers it */
	g_assert_cmpint(clear_into(&st, &s), ==, 0);
	assert_pages(&s, b, 8, "0 1 2 3");
	g_free(tgt_cmd(&t, "poke %lx", (unsigned long)(b + 2 * ps)));
	g_assert_cmpint(scan_into(&st, &s), ==, 0);
	assert_pages(&s, b, 8, "2");

	/* mremap: the moved pages count as dirty */
	uint64_t c = tgt_cmd_hex(&t, "mremap %lx 16", (unsigned long)a);
	g_assert_cmphex(c, !=, 0);
	g_assert_cmpint(scan_into(&st, &s), ==, 0);
	{
		g_autofree char *p = pages_in(&s, c, 16);
		g_assert_cmpstr(p, ==, "0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15");
	}
	g_assert_cmpint(clear_into(&st, &s), ==, 0);
	g_free(tgt_cmd(&t, "poke %lx", (unsigned long)(c + 9 * ps)));
	g_assert_cmpint(scan_into(&st, &s), ==, 0);
	assert_pages(&s, c, 16, "9");
	B->detach(&st);
	tgt_stop(&t);
	sdfs_dirtyset_free(&s);
}

static bool kernel_older_than(int maj, int min, char *rel, size_t len)
{
	struct utsname u;
	int a = 0, b = 0;
	if (uname(&u) < 0 || sscanf(u.release, "%d.%d", &a, &b) != 2)
		return true;
	g_strlcpy(rel, u.release, len);
	return a < maj || (a == maj && b < min);
}

/* Read faults of file pages after a clear are not writes (6.18). */
static void test_file_reads(void)
{
	char rel[65] = "?";
	if (kernel_older_than(6, 18, rel, sizeof(rel))) {
		/* sdfs(5): before 6.18 such pages may be listed; the
		 * integration suite checks that allowance there
		 * (/life/read-only-touched) */
		g_autofree char *why = g_strdup_printf(
			"kernel %s: before 6.18 file pages first faulted in "
			"after a clear read as written",
			rel);
		g_test_skip(why);
		return;
	}
	struct tgt t;
	struct sdfs_target st;
	struct sdfs_dirtyset s;
	sdfs_dirtyset_init(&s);
	tgt_start(&t);
	uint64_t f = tgt_cmd_hex(&t, "mmap 64 file");
	uint64_t r = tgt_cmd_hex(&t, "mmap 8 shro");
	g_assert_cmphex(f, !=, 0);
	g_assert_cmphex(r, !=, 0);
	g_free(tgt_cmd(&t, "fill %lx 4 1", (unsigned long)f));
	g_free(tgt_cmd(&t, "peek %lx", (unsigned long)r));
	target_init(&st, &t);
	g_assert_cmpint(clear_into(&st, &s), ==, 0);
	assert_pages(&s, f, 64, "0 1 2 3");
	/* never-writable shared mapping: dirty in the epoch it appeared
	 * (every page fault-around mapped with page 0) */
	{
		g_autofree char *p = pages_in(&s, r, 8);
		g_assert_true(g_str_has_prefix(p, "0"));
	}

	for (int i = 10; i < 20; i++)
		g_free(tgt_cmd(&t, "peek %lx", (unsigned long)(f + i * ps)));
	for (int i = 1; i < 4; i++)
		g_free(tgt_cmd(&t, "peek %lx", (unsigned long)(r + i * ps)));
	g_free(tgt_cmd(&t, "poke %lx", (unsigned long)(f + 30 * ps)));
	g_free(tgt_cmd(&t, "poke %lx", (unsigned long)(f + 2 * ps)));
	g_assert_cmpint(scan_into(&st, &s), ==, 0);
	assert_pages(&s, f, 64, "2 30");
	assert_pages(&s, r, 8, "");
	g_assert_cmpint(clear_into(&st, &s), ==, 0);
	assert_pages(&s, f, 64, "2 30");
	assert_pages(&s, r, 8, "");
	B->detach(&st);
	tgt_stop(&t);
	sdfs_dirtyset_free(&s);
}

static void test_exec(void)
{
	struct tgt t;
	struct sdfs_target st;
	struct sdfs_dirtyset s;
	sdfs_dirtyset_init(&s);
	tgt_start(&t);
	target_init(&st, &t);
	g_assert_cmpint(clear_into(&st, &s), ==, 0);
	g_assert_cmpint(scan_into(&st, &s), ==, 0);
	uint64_t before = s.pages;
	g_autofree char *r = tgt_cmd(&t, "exec");
	g_assert_cmpstr(r, ==, "ready");
	g_assert_cmpint(scan_into(&st, &s), ==, 0);
	g_test_message("dirty pages before exec %" G_GUINT64_FORMAT
		       ", after exec %" G_GUINT64_FORMAT,
		       before, s.pages);
	g_assert_cmpuint(s.pages, >, before + 20); /* the whole new image */
	/* the next clear attaches to the new image */
	g_assert_cmpint(clear_into(&st, &s), ==, 0);
	uint64_t a = tgt_cmd_hex(&t, "mmap 8");
	g_free(tgt_cmd(&t, "fill %lx 8 1", (unsigned long)a));
	g_assert_cmpint(clear_into(&st, &s), ==, 0);
	g_free(tgt_cmd(&t, "poke %lx", (unsigned long)(a + 5 * ps)));
	g_assert_cmpint(scan_into(&st, &s), ==, 0);
	assert_pages(&s, a, 8, "5");
	B->detach(&st);
	tgt_stop(&t);
	sdfs_dirtyset_free(&s);
}

static void expect_clear_fails(struct tgt *t, int err)
{
	struct sdfs_target st;
	struct sdfs_dirtyset s;
	sdfs_dirtyset_init(&s);
	target_init(&st, t);
	g_assert_cmpint(clear_into(&st, &s), ==, err);
	g_assert_cmpint(st.epoch, ==, 0);
	B->detach(&st);
	sdfs_dirtyset_free(&s);
	g_autofree char *p = tgt_cmd(t, "ping");
	g_assert_cmpstr(p, ==, "pong");
}

static void test_own_uffd(void)
{
	struct tgt t;
	tgt_start(&t);
	uint64_t a = tgt_cmd_hex(&t, "mmap 8");
	g_autofree char *r = tgt_cmd(&t, "uffd %lx 8", (unsigned long)a);
	g_assert_cmpstr(r, ==, "ok");
	expect_clear_fails(&t, -ENOTSUP);
	g_assert_cmpint(count_uffds(t.pid), ==, 1); /* its own, only */
	tgt_stop(&t);
}

static void test_seccomp(void)
{
	struct tgt t;
	tgt_start(&t);
	g_autofree char *r = tgt_cmd(&t, "seccomp kill");
	g_assert_cmpstr(r, ==, "ok");
	expect_clear_fails(&t, -ENOTSUP);
	tgt_stop(&t);
}

static void test_traced(void)
{
	struct tgt t;
	tgt_start(&t);
	int go[2];
	g_assert_cmpint(pipe(go), ==, 0);
	pid_t tracer = fork();
	if (tracer == 0) {
		if (ptrace(PTRACE_SEIZE, t.pid, 0, 0) < 0)
			_exit(1);
		if (write(go[1], "x", 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	char c;
	g_assert_cmpint(read(go[0], &c, 1), ==, 1);
	expect_clear_fails(&t, -EBUSY);
	kill(tracer, SIGKILL);
	waitpid(tracer, NULL, 0);
	close(go[0]);
	close(go[1]);
	tgt_stop(&t);
}

/* Writes racing with clears: every page written once lands in some
 * capture or in the final scan. */
static void test_no_lost_write(void)
{
	const size_t n = 4096;
	struct tgt t;
	struct sdfs_target st;
	struct sdfs_dirtyset s, all;
	sdfs_dirtyset_init(&s);
	sdfs_dirtyset_init(&all);
	tgt_start(&t);
	uint64_t a = tgt_cmd_hex(&t, "mmap %zu", n);
	g_free(tgt_cmd(&t, "fill %lx %zu 1", (unsigned long)a, n));
	target_init(&st, &t);
	g_assert_cmpint(clear_into(&st, &s), ==, 0);
	g_autofree char *r =
		tgt_cmd(&t, "trickle %lx %zu 20", (unsigned long)a, n);
	g_assert_cmpstr(r, ==, "ok");
	GHashTable *seen = g_hash_table_new(g_direct_hash, g_direct_equal);
	int clears = 0;
	for (;;) {
		/* read the progress first: a capture after it holds at least
		 * those writes, or the final scan does */
		g_autofree char *d = tgt_cmd(&t, "trickled");
		bool done = (size_t)atol(d) == n;
		g_assert_cmpint(clear_into(&st, &s), ==, 0);
		clears++;
		for (size_t i = 0; i < n; i++)
			if (sdfs_dirtyset_contains(&s, a + i * ps))
				g_hash_table_add(seen, GSIZE_TO_POINTER(i + 1));
		if (done)
			break;
	}
	g_assert_cmpint(scan_into(&st, &s), ==, 0);
	for (size_t i = 0; i < n; i++)
		if (sdfs_dirtyset_contains(&s, a + i * ps))
			g_hash_table_add(seen, GSIZE_TO_POINTER(i + 1));
	g_test_message("%d clears raced with %zu single writes", clears, n);
	g_assert_cmpuint(g_hash_table_size(seen), ==, n);
	g_hash_table_destroy(seen);
	B->detach(&st);
	tgt_stop(&t);
	sdfs_dirtyset_free(&s);
	sdfs_dirtyset_free(&all);
}

/*
 * sdfs killed -9 at random moments of attach / clear: the target keeps
 * running, its memory is intact, nothing of ours stays in it.
 */
static void test_kill9(void)
{
	const size_t n = 256;
	struct tgt t;
	tgt_start(&t);
	uint64_t a = tgt_cmd_hex(&t, "mmap %zu", n);
	uint64_t b = tgt_cmd_hex(&t, "mmap 64");
	g_free(tgt_cmd(&t, "fill %lx 64 3", (unsigned long)b));
	g_autofree char *sum0 = tgt_cmd(&t, "sum %lx 64", (unsigned long)b);
	g_free(tgt_cmd(&t, "threads 2"));
	g_autofree char *cr = tgt_cmd(&t, "churn %lx %zu", (unsigned long)a, n);
	g_assert_cmpstr(cr, ==, "ok");

	for (int i = 0; i < 60; i++) {
		pid_t helper = fork();
		if (helper == 0) {
			struct sdfs_target st;
			struct sdfs_dirtyset s;
			sdfs_dirtyset_init(&s);
			memset(&st, 0, sizeof(st));
			st.pid = t.pid;
			st.pidfd = t.pidfd;
			/* re-attach every round: each clear injects anew, so
			 * the kill often lands inside an injection */
			for (int round = 0;; round++) {
				B->attach(&st);
				st.epoch = 0;
				for (int k = 0; k < 1 + round % 3; k++) {
					if (clear_capture(&st, &s, NULL) == 0)
						st.epoch++;
				}
				B->detach(&st);
			}
		}
		usleep((useconds_t)g_random_int_range(0, 20000));
		kill(helper, SIGKILL);
		waitpid(helper, NULL, 0);
	}
	/* injectors finish on their own within microseconds */
	for (int i = 0; i < 100 && count_uffds(t.pid) > 0; i++)
		usleep(10000);
	g_assert_cmpint(count_uffds(t.pid), ==, 0);
	g_assert_cmpint(proc_state(t.pid), !=, 'T');
	g_autofree char *v = tgt_cmd(&t, "verify %lx %zu", (unsigned long)a, n);
	g_assert_cmpstr(v, ==, "ok");
	g_autofree char *sum1 = tgt_cmd(&t, "sum %lx 64", (unsigned long)b);
	g_assert_cmpstr(sum1, ==, sum0);
	g_autofree char *ck = tgt_cmd(&t, "check");
	g_assert_true(g_str_has_prefix(ck, "ok "));
	tgt_stop(&t);
}

/* SDFS_UFFD_BENCH=1: attach and clear on a 4 GiB resident process. */
static void test_bench(void)
{
	const size_t gib = 4;
	size_t n = (gib << 30) / ps;
	struct tgt t;
	struct sdfs_target st;
	struct sdfs_dirtyset s;

	if (!g_getenv("SDFS_UFFD_BENCH")) {
		g_test_skip("set SDFS_UFFD_BENCH=1 to run");
		return;
	}
	sdfs_dirtyset_init(&s);
	tgt_start(&t);
	uint64_t a = tgt_cmd_hex(&t, "mmap %zu", n);
	g_free(tgt_cmd(&t, "fill %lx %zu 1", (unsigned long)a, n));
	target_init(&st, &t);
	double t0 = now_ms();
	g_assert_cmpint(scan_into(&st, &s), ==, 0);
	g_test_message("epoch-0 scan: %.2f ms (%" G_GUINT64_FORMAT " pages)",
		       now_ms() - t0, s.pages);
	t0 = now_ms();
	g_assert_cmpint(clear_into(&st, &s), ==, 0);
	g_test_message("first clear (attach: inject, register, capture all "
		       "+ protect): %.2f ms (%" G_GUINT64_FORMAT " pages)",
		       now_ms() - t0, s.pages);
	g_test_message("  register-swap window of the injection: %llu us",
		       (unsigned long long)sdfs_inject_last_window_us());
	for (int round = 0; round < 3; round++) {
		/* 1% of the pages, spread: every 100th page */
		g_free(tgt_cmd(&t, "stride %lx %zu 100", (unsigned long)a, n));
		t0 = now_ms();
		g_assert_cmpint(scan_into(&st, &s), ==, 0);
		double scan = now_ms() - t0;
		t0 = now_ms();
		g_assert_cmpint(clear_into(&st, &s), ==, 0);
		g_test_message("1%% written: scan %.2f ms, clear %.2f ms "
			       "(%" G_GUINT64_FORMAT " pages)",
			       scan, now_ms() - t0, s.pages);
	}
	B->detach(&st);
	tgt_stop(&t);
	sdfs_dirtyset_free(&s);
}

/* The own pages of the whole process: by PAGEMAP_SCAN as a clear walks
 * them, or by pread of pagemap, entry by entry. */
static char *own_text(pid_t pid, bool by_pread)
{
	struct sdfs_maps m = {0};
	struct sdfs_dirtyset s;
	struct sdfs_run_iter it;
	struct sdfs_run r;

	sdfs_dirtyset_init(&s);
	g_assert_cmpint(sdfs_maps_read(pid, &m), ==, 0);
	int fd = sdfs_pagemap_open(pid);
	g_assert_cmpint(fd, >=, 0);
	struct sdfs_scan_req req = {
		.maps = &m,
		.from = 0,
		.to = UINT64_MAX,
		.fn = sdfs_scan_collect_fn,
		.ctx = &s,
	};
	g_assert_cmpint(sdfs_scan(fd, &req, SDFS_NEED_OWN, false, by_pread), ==,
			0);
	close(fd);
	sdfs_maps_free(&m);
	GString *g = g_string_new(NULL);
	sdfs_dirtyset_iter(&s, &it);
	while (sdfs_run_iter_next(&it, &r))
		g_string_append_printf(
			g, "%" G_GINT64_MODIFIER "x-%" G_GINT64_MODIFIER "x\n",
			r.start, r.end);
	sdfs_dirtyset_free(&s);
	return g_string_free(g, false);
}

static void assert_own(struct tgt *t, uint64_t a, const char *expect)
{
	g_autofree char *by_scan = own_text(t->pid, false);
	g_autofree char *by_pread = own_text(t->pid, true);
	g_assert_cmpstr(by_scan, ==, by_pread);

	struct sdfs_dirtyset s;
	sdfs_dirtyset_init(&s);
	struct sdfs_maps m = {0};
	g_assert_cmpint(sdfs_maps_read(t->pid, &m), ==, 0);
	int fd = sdfs_pagemap_open(t->pid);
	struct sdfs_scan_req req = {
		.maps = &m,
		.from = a,
		.to = a + 64 * ps,
		.fn = sdfs_scan_collect_fn,
		.ctx = &s,
	};
	g_assert_cmpint(sdfs_scan(fd, &req, SDFS_NEED_OWN, false, false), ==,
			0);
	close(fd);
	sdfs_maps_free(&m);
	assert_pages(&s, a, 64, expect);
	sdfs_dirtyset_free(&s);
}

/*
 * Own pages of plain anonymous memory are found from what they are not
 * (holes, swap entries, the zero page: scan.c): the same set as pagemap
 * read entry by entry, over the whole process, with dropped pages and
 * zero pages, before the first clear and after one (markers in file
 * holes, protected pages).
 */
static void test_own_pages(void)
{
	struct tgt t;
	struct sdfs_target st;
	struct sdfs_dirtyset s;

	sdfs_dirtyset_init(&s);
	tgt_start(&t);
	uint64_t a = tgt_cmd_hex(&t, "mmap 64");
	uint64_t f = tgt_cmd_hex(&t, "mmap 16 file");
	g_free(tgt_cmd(&t, "fill %lx 32 1", (unsigned long)a));
	g_free(tgt_cmd(&t, "fill %lx 4 1", (unsigned long)f));
	g_free(tgt_cmd(&t, "peek %lx", (unsigned long)(a + 40 * ps)));
	g_free(tgt_cmd(&t, "peek %lx", (unsigned long)(a + 41 * ps)));
	g_free(tgt_cmd(&t, "dontneed %lx 4", (unsigned long)(a + 8 * ps)));
	assert_own(&t, a,
		   "0 1 2 3 4 5 6 7 12 13 14 15 16 17 18 19 20 21 22 23 "
		   "24 25 26 27 28 29 30 31");

	target_init(&st, &t);
	g_assert_cmpint(clear_into(&st, &s), ==, 0);
	g_free(tgt_cmd(&t, "dontneed %lx 4", (unsigned long)(a + 20 * ps)));
	g_free(tgt_cmd(&t, "poke %lx", (unsigned long)(a + 50 * ps)));
	g_free(tgt_cmd(&t, "peek %lx", (unsigned long)(a + 51 * ps)));
	g_free(tgt_cmd(&t, "dontneed %lx 1", (unsigned long)(a + 63 * ps)));
	assert_own(&t, a,
		   "0 1 2 3 4 5 6 7 12 13 14 15 16 17 18 19 24 25 26 27 "
		   "28 29 30 31 50");

	B->detach(&st);
	tgt_stop(&t);
	sdfs_dirtyset_free(&s);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	ps = sdfs_page_size();
	char why[200];
	if (B->probe(why, sizeof(why)) < 0 || geteuid() != 0) {
		g_test_message("uffd backend unusable here (%s) or not root",
			       why);
		g_test_add_func("/uffd/probe", test_probe);
		return g_test_run();
	}
	g_test_add_func("/uffd/probe", test_probe);
	g_test_add_func("/uffd/exact", test_exact);
	g_test_add_func("/uffd/new-mappings", test_new_mappings);
	g_test_add_func("/uffd/file-reads", test_file_reads);
	g_test_add_func("/uffd/exec", test_exec);
	g_test_add_func("/uffd/own-uffd-enotsup", test_own_uffd);
	g_test_add_func("/uffd/seccomp-enotsup", test_seccomp);
	g_test_add_func("/uffd/traced-ebusy", test_traced);
	g_test_add_func("/uffd/no-lost-write", test_no_lost_write);
	g_test_add_func("/uffd/kill9", test_kill9);
	g_test_add_func("/uffd/own-pages", test_own_pages);
	/* a measurement, not a test: only on request */
	if (g_getenv("SDFS_UFFD_BENCH"))
		g_test_add_func("/uffd/bench-4gib", test_bench);
	return g_test_run();
}
