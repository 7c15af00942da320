/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * No write is lost at a clear (sdfs(5), GUARANTEES): racing writer threads, many
 * clears each followed by a copy of last/pages, then a stopped final round
 * whose copy must equal the process's memory byte for byte.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "itest.h"

#define P(n) ((guint64)(n) * tl_ps)
#define THREADS 4

/* Copy every page of last/pages within [lo, hi) into snap (addr -> page). */
static guint copy_last(const Mount *m, pid_t pid, GHashTable *snap, guint64 lo,
		       guint64 hi)
{
	g_autofree char *dir = mnt_path(m, pid, "last/pages");
	g_autoptr(GPtrArray) names = list_dir(dir);
	guint copied = 0;
	if (!names)
		g_error("readdir %s: %s", dir, g_strerror(errno));
	for (guint i = 0; i < names->len; i++) {
		const char *n = names->pdata[i];
		guint64 a = g_ascii_strtoull(n, NULL, 16);
		if (a < lo || a >= hi)
			continue;
		g_autofree char *p = g_build_filename(dir, n, NULL);
		guint8 *buf = g_malloc(tl_ps);
		int r = read_page(p, buf);
		if (r < 0)
			g_error("read %s: %s", p, g_strerror(-r));
		g_hash_table_replace(snap, g_memdup2(&a, sizeof(a)), buf);
		copied++;
	}
	return copied;
}

static guint64 *parse_counts(const char *s, int n)
{
	g_auto(GStrv) v = g_strsplit(s, " ", -1);
	g_assert_cmpuint(g_strv_length(v), ==, n);
	guint64 *c = g_new(guint64, n);
	for (int i = 0; i < n; i++)
		c[i] = g_ascii_strtoull(v[i], NULL, 10);
	return c;
}

static int rounds(void)
{
	const char *e = g_getenv("SDFS_ITEST_ROUNDS");
	int n = e ? atoi(e) : 0;
	return n > 0 ? n : 150;
}

/* Time budget for the rounds (slow emulated VMs): at least MIN_ROUNDS. */
#define MIN_ROUNDS 10
static gint64 budget_us(void)
{
	const char *e = g_getenv("SDFS_ITEST_RACE_SECONDS");
	int n = e ? atoi(e) : 0;
	return (gint64)(n > 0 ? n : 20) * G_USEC_PER_SEC;
}

static void compare_with_memory(GHashTable *snap, pid_t pid, guint64 base,
				guint64 pages)
{
	guint8 *mem = g_malloc(tl_ps);
	for (guint64 i = 0; i < pages; i++) {
		guint64 a = base + P(i);
		const guint8 *s = g_hash_table_lookup(snap, &a);
		if (!s)
			g_error("page %" G_GUINT64_FORMAT
				" (%016" G_GINT64_MODIFIER "x) never copied",
				i, a);
		read_mem(pid, a, mem, tl_ps);
		if (memcmp(s, mem, tl_ps)) {
			gsize off = 0;
			while (s[off] == mem[off])
				off++;
			guint64 sv, mv;
			memcpy(&sv, s + (off & ~7u), 8);
			memcpy(&mv, mem + (off & ~7u), 8);
			g_error("lost write: page %" G_GUINT64_FORMAT
				" offset %zu: copy has %" G_GUINT64_FORMAT
				", memory has %" G_GUINT64_FORMAT,
				i, off, sv, mv);
		}
	}
	g_free(mem);
}

static void run_race(Fx *fx, guint64 per_thread, unsigned pause_us)
{
	Workload *w = fx_workload(fx);
	const guint64 n = THREADS * per_thread;
	guint64 a = wl_addr(w, "map r %" G_GUINT64_FORMAT, n);
	g_free(wl_cmd(w, "fill r 0 %" G_GUINT64_FORMAT " 0", n));
	g_free(wl_cmd(w, "threads r %d %u", THREADS, pause_us));
	g_autoptr(GHashTable) snap = g_hash_table_new_full(
		g_int64_hash, g_int64_equal, g_free, g_free);

	g_autofree char *c0s = wl_cmd(w, "counts");
	g_autofree guint64 *c0 = parse_counts(c0s, THREADS);
	int nr = rounds();
	guint64 epoch = 0, total = 0;
	gint64 tc = 0, tk = 0, start = g_get_monotonic_time();
	for (int i = 0; i < nr; i++) {
		if (i >= MIN_ROUNDS &&
		    g_get_monotonic_time() - start > budget_us()) {
			nr = i; /* out of time: this many rounds */
			break;
		}
		gint64 t0 = g_get_monotonic_time();
		epoch = do_clear(&fx->m, w->pid);
		gint64 t1 = g_get_monotonic_time();
		total += copy_last(&fx->m, w->pid, snap, a, a + P(n));
		tc += t1 - t0;
		tk += g_get_monotonic_time() - t1;
		if (i == 0)
			g_assert_cmpuint(g_hash_table_size(snap), ==, n);
	}
	g_assert_cmpuint(epoch, ==, nr);
	g_autofree char *c1s = wl_cmd(w, "counts");
	g_autofree guint64 *c1 = parse_counts(c1s, THREADS);
	for (int i = 0; i < THREADS; i++)
		g_assert_cmpuint(c1[i], >, c0[i]);
	g_test_message("%d rounds, %" G_GUINT64_FORMAT
		       " page copies, writer iterations %s -> %s; "
		       "%.2f ms per clear, %.2f ms per copy",
		       nr, total, c0s, c1s, tc / 1e3 / nr, tk / 1e3 / nr);

	/* final round with the process stopped */
	g_assert_no_errno(kill(w->pid, SIGSTOP));
	wait_all_threads_state(w->pid, 'T');
	guint8 *before = g_malloc(P(n)), *after = g_malloc(P(n));
	read_mem(w->pid, a, before, P(n));
	g_assert_cmpuint(do_clear(&fx->m, w->pid), ==, nr + 1);
	g_autofree char *states = thread_states(w->pid);
	copy_last(&fx->m, w->pid, snap, a, a + P(n));
	g_usleep(20000);
	/* it ran none of its own code: the writers wrote nothing */
	read_mem(w->pid, a, after, P(n));
	g_assert_true(memcmp(before, after, P(n)) == 0);
	g_free(before);
	g_free(after);
	if (!all_threads_state(w->pid, 'T')) {
		g_autofree char *now = thread_states(w->pid);
		g_error("stopped process not stopped after the clear: thread "
			"states '%s' right after it, '%s' 20 ms later",
			states, now);
	}
	if (!strchr(states, 'T') || strspn(states, "T ") != strlen(states))
		g_test_message("thread states right after the clear: '%s'",
			       states);
	compare_with_memory(snap, w->pid, a, n);

	/* it resumes on SIGCONT, every thread */
	g_assert_no_errno(kill(w->pid, SIGCONT));
	g_autofree char *c2s = wl_cmd(w, "counts");
	g_autofree guint64 *c2 = parse_counts(c2s, THREADS);
	for (int tries = 0;; tries++) {
		g_autofree char *c3s = wl_cmd(w, "counts");
		g_autofree guint64 *c3 = parse_counts(c3s, THREADS);
		int moved = 0;
		for (int i = 0; i < THREADS; i++)
			moved += c3[i] > c2[i];
		if (moved == THREADS)
			break;
		if (tries > 500)
			g_error("writers did not resume: %s -> %s", c2s, c3s);
		g_usleep(10000);
	}
	g_free(wl_cmd(w, "stopthreads"));
}

/* Tight loops: every page is rewritten all the time, also while copied. */
static void test_writers(Fx *fx, gconstpointer d)
{
	FX_REQUIRE(fx);
	run_race(fx, 16, 0);
}

/*
 * Paced writers on random pages: at each clear some pages are clean and
 * get their first write of the epoch while the clear runs -- the write a
 * clear without a freeze loses (try SDFS_MOUNT_OPTS=nofreeze).
 */
static void test_sparse_writers(Fx *fx, gconstpointer d)
{
	FX_REQUIRE(fx);
	run_race(fx, 32, 200);
}

void itest_register_race(void)
{
	itest_add("/race/writers", test_writers);
	itest_add("/race/sparse-writers", test_sparse_writers);
}
