/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * sdfs_faulttest: the daemon killed with SIGKILL.
 *   /fault/kill9/after-clear  killed while its targets are write-protected
 *                             (uffd: after a clear): they run on unharmed;
 *                             the dead mount is detached with fusermount3
 *                             -u -z; a fresh daemon tracks them again
 *   /fault/kill9/mid-clear    killed at random moments of a loop of clears
 *                             (also during the first clear's syscall
 *                             injection), 12 times, on fresh and on
 *                             long-lived targets; dead mounts detached with
 *                             umount2(MNT_DETACH) and fusermount3 in turn
 *   /fault/kill9/frozen       (soft-dirty only) killed while the target is
 *                             stopped for a clear: it must not stay stopped
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "faulttest.h"

/* The fresh mount m tracks t exactly: clear, one page written, that page
 * alone in dirty_ranges within the region, with its content. */
static void assert_tracks(Mount *m, Workload *t)
{
	g_autofree char *p = wl_call(t, "pause");
	g_assert_cmpstr(p, ==, "ok");
	guint64 e0 = read_epoch(m, t->pid);
	g_assert_cmpuint(do_clear(m, t->pid), ==, e0 + 1);
	g_autofree char *none =
		ranges_read_in(m, t->pid, "dirty_ranges", t->addr,
			       t->addr + t->npages * tl_ps);
	g_assert_cmpstr(none, ==, "");
	g_autofree char *g = wl_call(t, "write 5");
	g_assert_nonnull(g);
	g_assert_true(g_str_has_prefix(g, "ok "));
	uint32_t gen = (uint32_t)atoi(g + 3);
	g_autofree char *got =
		ranges_read_in(m, t->pid, "dirty_ranges", t->addr,
			       t->addr + t->npages * tl_ps);
	g_autofree char *want = rline(t->addr + 5 * tl_ps, 1, "rw-p", "");
	g_assert_cmpstr(got, ==, want);
	g_autofree char *path =
		g_strdup_printf("%s/%d/pages/%016" G_GINT64_MODIFIER "x",
				m->mnt, (int)t->pid, t->addr + 5 * tl_ps);
	uint64_t *buf = g_malloc(tl_ps);
	g_assert_cmpint(read_page(path, buf), ==, 0);
	g_assert_cmpint(wpat_check_gen(buf, tl_ps, t->tag, 5, gen), ==, -1);
	g_free(buf);
	g_autofree char *r = wl_call(t, "resume");
	g_assert_cmpstr(r, ==, "ok");
}

static void assert_dead_mount(Mount *m, gboolean fusermount)
{
	struct stat st;
	errno = 0;
	g_assert_cmpint(stat(m->mnt, &st), ==, -1);
	g_assert_cmpint(errno, ==, ENOTCONN);
	g_assert_cmpint(mount_detach(m, fusermount), ==, 0);
	g_autofree char *fstype = tl_mount_fstype(m->mnt);
	g_assert_true(!fstype || !g_str_has_prefix(fstype, "fuse"));
	g_assert_no_errno(stat(m->mnt, &st));
	mount_stop_status(m, NULL, NULL); /* rmdir, forget */
}

static void test_after_clear(void)
{
	if (ft_skip_unless_ready())
		return;
	Mount m;
	mount_start(&m, NULL);
	Workload *t = wl_start_stress(0xa11, 512, 3, 100);
	g_assert_nonnull(t);
	g_assert_cmpuint(do_clear(&m, t->pid), ==, 1);
	g_usleep(50000);
	g_assert_cmpuint(do_clear(&m, t->pid), ==, 2);
	ft_assert_target_healthy(t);
	/* write-protected now (uffd); the daemon dies */
	mount_kill9(&m);
	ft_assert_target_healthy(t);
	ft_wait_injectors();
	assert_dead_mount(&m, TRUE);

	Mount m2;
	mount_start(&m2, NULL);
	assert_tracks(&m2, t);
	ft_assert_target_healthy(t);
	wl_kill(t);
	mount_stop(&m2);
}

static void test_mid_clear(void)
{
	if (ft_skip_unless_ready())
		return;
	Workload *old = wl_start_stress(0xb22, 256, 2, 100);
	g_assert_nonnull(old);
	g_autoptr(GRand) rnd = g_rand_new_with_seed(12345);
	/* what the kernel answers once the daemon is gone: ENOTCONN for new
	 * requests, ECONNABORTED or EIO for those in flight */
	const int allowed[] = {ENOTCONN, ECONNABORTED, EIO};
	uint64_t clears = 0;
	for (int iter = 0; iter < 12; iter++) {
		Mount m;
		mount_start(&m, NULL);
		Workload *fresh =
			wl_start_stress(0xc00 + (uint32_t)iter, 256, 2, 100);
		g_assert_nonnull(fresh);
		char *paths[2] = {mnt_path(&m, old->pid, "clear"),
				  mnt_path(&m, fresh->pid, "clear")};
		ClearLoop cl;
		cl_start(&cl, paths, 2, FALSE);
		/* early: inside the first clears (injection); later: in
		 * the steady loop */
		g_usleep((gulong)g_rand_int_range(rnd, 0,
						  iter % 3 ? 30000 : 3000));
		mount_kill9(&m);
		cl_stop(&cl);
		clears += cl.ok;
		g_autofree char *bad = cl_errors(&cl, allowed, 3);
		if (bad)
			g_error("iteration %d: clear gave %s", iter, bad);
		ft_wait_injectors();
		ft_assert_target_healthy(old);
		ft_assert_target_healthy(fresh);
		assert_dead_mount(&m, iter % 2);
		wl_kill(fresh);
		g_free(paths[0]);
		g_free(paths[1]);
	}
	g_test_message("%llu clears completed before the kills",
		       (unsigned long long)clears);
	Mount m;
	mount_start(&m, NULL);
	assert_tracks(&m, old);
	ft_assert_target_healthy(old);
	wl_kill(old);
	mount_stop(&m);
}

static void test_frozen(void)
{
	if (ft_skip_unless_ready())
		return;
	if (strcmp(tl_backend_effective(tl_backend), "soft-dirty")) {
		g_test_skip("soft-dirty only: the uffd backend never stops the "
			    "target (a clear is one PAGEMAP_SCAN walk)");
		return;
	}
	Mount m;
	mount_start(&m, NULL);
	Workload *t = wl_start_stress(0xd33, 16384, 4, 50);
	g_assert_nonnull(t);
	char *path = mnt_path(&m, t->pid, "clear");
	ClearLoop cl;
	cl_start(&cl, &path, 1, FALSE);
	gboolean seen = FALSE;
	for (int i = 0; i < 50000 && !seen; i++) {
		g_autofree char *s = thread_states(t->pid);
		seen = s && (strchr(s, 't') || strchr(s, 'T'));
		if (!seen)
			g_usleep(100);
	}
	mount_kill9(&m);
	cl_stop(&cl);
	g_free(path);
	/* the case this test is about: sdfs died while the target was
	 * stopped by a clear in progress */
	if (!seen)
		g_test_fail_printf("the target was never seen stopped in 5 s "
				   "of clears: the kill did not hit a freeze");
	ft_wait_injectors();
	g_usleep(100000);
	ft_assert_target_healthy(t);
	assert_dead_mount(&m, FALSE);
	wl_kill(t);
}

void ft_register_kill(void)
{
	g_test_add_func("/fault/kill9/after-clear", test_after_clear);
	g_test_add_func("/fault/kill9/mid-clear", test_mid_clear);
	g_test_add_func("/fault/kill9/frozen", test_frozen);
}
