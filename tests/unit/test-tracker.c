/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Unit tests for sdfs/tracker.c without a mount: the engine tracks a
 * child of this test through whatever backend this kernel offers; a
 * clear captures what the child wrote, the snapshot says what it dropped
 * or unmapped since the clear before, and holds /proc/PID/maps as it was.
 */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib.h>

#include "proc.h"
#include "tracker.h"

static size_t P;

struct child {
	pid_t pid;
	int to, from;
	uint64_t a, b; /* two regions of 8 pages */
};

/* The child: maps a and b, writes every page, then obeys one-letter
 * commands: d (drop pages 2-3 of a), u (unmap b), w (write page 5 of
 * a); answers each with the same letter. */
static void child_main(int in, int out)
{
	char *a = mmap(NULL, 17 * P, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *b = a + 9 * P;
	/* a guard between them, so that they are two mappings */
	mprotect(a + 8 * P, P, PROT_NONE);
	for (size_t i = 0; i < 8; i++)
		a[i * P] = (char)(i + 1);
	for (size_t i = 0; i < 8; i++)
		b[i * P] = (char)(i + 1);
	uint64_t addr[2] = {(uintptr_t)a, (uintptr_t)b};
	if (write(out, addr, sizeof(addr)) != sizeof(addr))
		_exit(1);
	char c;
	while (read(in, &c, 1) == 1) {
		if (c == 'd')
			madvise(a + 2 * P, 2 * P, MADV_DONTNEED);
		else if (c == 'u')
			munmap(b, 8 * P);
		else if (c == 'w')
			a[5 * P]++;
		if (write(out, &c, 1) != 1)
			_exit(1);
	}
	_exit(0);
}

static void child_start(struct child *c)
{
	int down[2], up[2];
	g_assert_cmpint(pipe(down), ==, 0);
	g_assert_cmpint(pipe(up), ==, 0);
	c->pid = fork();
	g_assert_cmpint(c->pid, >=, 0);
	if (c->pid == 0) {
		close(down[1]);
		close(up[0]);
		child_main(down[0], up[1]);
	}
	close(down[0]);
	close(up[1]);
	c->to = down[1];
	c->from = up[0];
	uint64_t addr[2];
	g_assert_cmpint(read(c->from, addr, sizeof(addr)), ==, sizeof(addr));
	c->a = addr[0];
	c->b = addr[1];
}

static void child_do(struct child *c, char cmd)
{
	char r;
	g_assert_cmpint(write(c->to, &cmd, 1), ==, 1);
	g_assert_cmpint(read(c->from, &r, 1), ==, 1);
	g_assert_cmpint(r, ==, cmd);
}

static void child_stop(struct child *c)
{
	close(c->to);
	close(c->from);
	kill(c->pid, SIGKILL);
	waitpid(c->pid, NULL, 0);
}

/* The pages of [start, start + n pages) in s, as "0 2 5". */
static char *pages_in(const struct sdfs_dirtyset *s, uint64_t start, size_t n)
{
	GString *g = g_string_new(NULL);
	for (size_t i = 0; i < n; i++)
		if (sdfs_dirtyset_contains(s, start + i * P))
			g_string_append_printf(g, "%s%zu", g->len ? " " : "", i);
	return g_string_free(g, FALSE);
}

static void test_dropped(void)
{
	char why[512];
	const struct sdfs_backend *b = sdfs_backend_select("auto", why,
							    sizeof(why));
	if (!b) {
		g_test_skip(why);
		return;
	}
	struct sdfs_engine_opts o = {.backend = b};
	struct sdfs_engine *e = sdfs_engine_new(&o);
	struct child c;
	child_start(&c);
	struct sdfs_proc_id id;
	g_assert_cmpint(sdfs_proc_identify(c.pid, &id), ==, 0);
	g_autoptr(SdfsTracker) t = NULL;
	g_assert_cmpint(sdfs_tracker_get(e, &id, &t), ==, 0);
	g_assert_null(sdfs_tracker_last(t));

	/* epoch 0: every page; nothing dropped at a first clear */
	g_assert_cmpint(sdfs_tracker_clear(t), ==, 0);
	{
		g_autoptr(SdfsSnapshot) s = sdfs_tracker_last(t);
		g_autofree char *pa = pages_in(&s->set, c.a, 8);
		g_autofree char *pb = pages_in(&s->set, c.b, 8);
		g_assert_cmpstr(pa, ==, "0 1 2 3 4 5 6 7");
		g_assert_cmpstr(pb, ==, "0 1 2 3 4 5 6 7");
		g_assert_cmpuint(s->dropped.pages, ==, 0);
		g_autofree char *maps = NULL;
		g_assert_cmpint(sdfs_proc_read(c.pid, "maps", &maps, NULL), ==, 0);
		g_assert_cmpstr(s->maps, ==, maps);
		g_assert_cmpuint(s->maps_len, ==, strlen(maps));
	}

	child_do(&c, 'd');
	child_do(&c, 'u');
	child_do(&c, 'w');
	g_assert_cmpint(sdfs_tracker_clear(t), ==, 0);
	{
		g_autoptr(SdfsSnapshot) s = sdfs_tracker_last(t);
		g_autofree char *da = pages_in(&s->dropped, c.a, 8);
		g_autofree char *db = pages_in(&s->dropped, c.b, 8);
		g_autofree char *wa = pages_in(&s->set, c.a, 8);
		g_assert_cmpstr(da, ==, "2 3");
		g_assert_cmpstr(db, ==, "0 1 2 3 4 5 6 7");
		g_assert_cmpstr(wa, ==, "5");
		/* dropped pages keep the mapping they were in */
		struct sdfs_run_iter it;
		struct sdfs_run r;
		sdfs_dirtyset_seek(&s->dropped, c.a, &it);
		g_assert_true(sdfs_run_iter_next(&it, &r));
		g_assert_cmpuint(r.start, ==, c.a + 2 * P);
		g_assert_cmpuint(s->dropped.vmas[r.vma].start, ==, c.a);
		g_assert_cmpstr(s->dropped.vmas[r.vma].perms, ==, "rw-p");
		g_assert_true(sdfs_run_iter_next(&it, &r));
		g_assert_cmpuint(r.start, ==, c.b);
		g_assert_cmpuint(s->dropped.vmas[r.vma].start, ==, c.b);
	}

	/* nothing changed: nothing dropped, nothing captured there */
	g_assert_cmpint(sdfs_tracker_clear(t), ==, 0);
	{
		g_autoptr(SdfsSnapshot) s = sdfs_tracker_last(t);
		g_autofree char *da = pages_in(&s->dropped, c.a, 8);
		g_autofree char *wa = pages_in(&s->set, c.a, 8);
		g_assert_cmpstr(da, ==, "");
		g_assert_cmpstr(wa, ==, "");
	}

	/* a process that is gone */
	child_stop(&c);
	g_assert_cmpint(sdfs_tracker_clear(t), ==, -ESRCH);
	g_assert_cmpint(sdfs_tracker_alive(t), ==, -ESRCH);
	g_autoptr(SdfsTracker) t2 = NULL;
	g_assert_cmpint(sdfs_tracker_get(e, &id, &t2), ==, -ESRCH);
	g_clear_pointer(&t, sdfs_tracker_put);
	sdfs_engine_free(e);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	P = sdfs_page_size();
	g_test_add_func("/tracker/dropped", test_dropped);
	return g_test_run();
}
