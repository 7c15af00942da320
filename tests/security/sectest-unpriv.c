/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Unprivileged mount (sdfs(5) ACCESS, sdfs(8) SECURITY): uid X runs sdfs itself
 * (libfuse mounts through the set-user-ID fusermount3) and tracks its own
 * processes; other users, root included, are refused with EACCES.
 */
#include <errno.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <grp.h>
#include <unistd.h>

#include "sectest.h"

#define FUSERMOUNT "/usr/bin/fusermount3"

static gboolean can_mount_unprivileged(void)
{
	struct stat st;
	if (stat(FUSERMOUNT, &st) < 0) {
		g_test_skip(FUSERMOUNT " is missing");
		return FALSE;
	}
	if (st.st_uid != 0 || !(st.st_mode & S_ISUID)) {
		g_test_skip(FUSERMOUNT " is not set-user-ID root");
		return FALSE;
	}
	return TRUE;
}

/* Can uid open /dev/fuse for reading and writing? */
static gboolean dev_fuse_open_as(uid_t uid)
{
	pid_t c = fork();
	g_assert_cmpint(c, >=, 0);
	if (c == 0) {
		if (setgroups(0, NULL) < 0 || setresgid(uid, uid, uid) < 0 ||
		    setresuid(uid, uid, uid) < 0)
			_exit(2);
		_exit(open("/dev/fuse", O_RDWR | O_CLOEXEC) < 0 ? 1 : 0);
	}
	int st;
	g_assert_cmpint(waitpid(c, &st, 0), ==, c);
	return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

/* Bind a private copy of path, with extra appended, over path (in our
 * mount namespace only). */
static void bind_copy(const char *dir, const char *path, const char *extra,
		      gboolean has_line)
{
	g_autofree char *text = NULL;
	gsize len = 0;
	if (!g_file_get_contents(path, &text, &len, NULL))
		text = g_strdup("");
	g_autofree char *base = g_path_get_basename(path);
	g_autofree char *copy = g_build_filename(dir, base, NULL);
	g_autofree char *nt =
		has_line ? g_strdup(text)
			 : g_strdup_printf("%s%s%s", text,
					   len && text[len - 1] != '\n' ? "\n"
									 : "",
					   extra);
	g_assert_true(g_file_set_contents(copy, nt, -1, NULL));
	g_assert_no_errno(chmod(copy, 0644));
	g_assert_no_errno(mount(copy, path, NULL, MS_BIND, NULL));
}

static gboolean conf_has_allow_other(void)
{
	g_autofree char *t = NULL;
	if (!g_file_get_contents("/etc/fuse.conf", &t, NULL, NULL))
		return FALSE;
	g_auto(GStrv) lines = g_strsplit(t, "\n", -1);
	for (char **l = lines; *l; l++)
		if (!strcmp(g_strstrip(*l), "user_allow_other"))
			return TRUE;
	return FALSE;
}

/*
 * What an ordinary user needs to run sdfs, set up in a private mount
 * namespace of this test subprocess, so that the host stays untouched
 * (nothing to restore, also on failure) and the mount, the daemon and
 * every caller of the test live in that namespace:
 *  - fusermount3 needs a user name for the uid ("could not determine
 *    username"): /etc/passwd and /etc/group get the test users;
 *  - allow_other needs user_allow_other in /etc/fuse.conf;
 *  - libfuse (3.14 here) opens /dev/fuse itself before it falls back to
 *    fusermount3 and gives up on EACCES (and sdfs refuses libfuse's
 *    /dev/fd/N mount point), so where /dev/fuse is 0600 no ordinary user
 *    can run sdfs: a 0666 node, as udev makes it on stock systems.
 */
static void user_environment(void)
{
	struct stat st;
	g_assert_no_errno(stat("/dev/fuse", &st));
	g_assert_no_errno(unshare(CLONE_NEWNS));
	g_assert_no_errno(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL));
	const char *run = g_getenv("SDFS_SEC_RUNDIR");
	g_autofree char *dir = g_build_filename(run ? run : "/tmp",
						"userenv-XXXXXX", NULL);
	g_assert_nonnull(g_mkdtemp(dir));
	g_assert_no_errno(mount("sdfs-sec-env", dir, "tmpfs", 0, "mode=0755"));
	g_autofree char *users = g_strdup_printf(
		"sdfssecx:x:%u:%u::/nonexistent:/usr/sbin/nologin\n"
		"sdfssecy:x:%u:%u::/nonexistent:/usr/sbin/nologin\n",
		UID_X, UID_X, UID_Y, UID_Y);
	g_autofree char *groups = g_strdup_printf(
		"sdfssecx:x:%u:\nsdfssecy:x:%u:\n", UID_X, UID_Y);
	bind_copy(dir, "/etc/passwd", users, FALSE);
	bind_copy(dir, "/etc/group", groups, FALSE);
	bind_copy(dir, "/etc/fuse.conf", "user_allow_other\n",
		  conf_has_allow_other());
	if (!dev_fuse_open_as(UID_X)) {
		g_test_message("/dev/fuse is %04o: a 0666 node in our mount "
			       "namespace",
			       (unsigned)(st.st_mode & 07777));
		g_autofree char *node = g_build_filename(dir, "fuse", NULL);
		g_assert_no_errno(mknod(node, S_IFCHR | 0666, st.st_rdev));
		g_assert_no_errno(chmod(node, 0666));
		g_assert_no_errno(mount(node, "/dev/fuse", NULL, MS_BIND, NULL));
	}
	g_assert_true(dev_fuse_open_as(UID_X));
	g_assert_true(conf_has_allow_other());
	/* the binds hold the files; the tmpfs may go from our view */
	umount2(dir, MNT_DETACH);
	rmdir(dir);
}

static void test_unpriv_own(void)
{
	if (!can_mount_unprivileged())
		return;
	user_environment();
	Mount sm;
	sec_mount_start(&sm, UID_X, NULL, FALSE);
	Workload *wx = wl_spawn(tl_workload_bin, NULL, &(WlOpts){.uid = UID_X});
	Workload *r = wl_start();
	Workload *nd =
		wl_spawn(sec_target_bin, "nodump", &(WlOpts){.uid = UID_X});
	Agent *x = agent_start(UID_X, FALSE);

	sec_own_process_checks(x, &sm, wx);

	/* X's daemon cannot show what X could not read itself */
	g_autoptr(GPtrArray) names = NULL;
	g_assert_cmpint(ag_list(x, sm.mnt, &names), ==, 0);
	g_assert_false(names_have_pid(names, r->pid));
	g_assert_false(names_have_pid(names, nd->pid));
	g_assert_false(names_have_pid(names, 1));
	g_autofree char *rs = mnt_path(&sm, r->pid, "status");
	g_autofree char *ns = mnt_path(&sm, nd->pid, "status");
	g_assert_cmpint(ag_cat(x, rs, NULL), ==, -ENOENT);
	g_assert_cmpint(ag_cat(x, ns, NULL), ==, -ENOENT);

	/* without allow_other the kernel keeps everyone else out, root too */
	struct stat st;
	g_assert_cmpint(stat(sm.mnt, &st), ==, -1);
	g_assert_cmpint(errno, ==, EACCES);
	Agent *y = agent_start(UID_Y, FALSE);
	g_assert_cmpint(ag_stat(y, sm.mnt), ==, -EACCES);
	agent_stop(y);

	agent_stop(x);
	wl_kill(nd);
	wl_kill(r);
	wl_kill(wx);
	sec_mount_stop(&sm);
}

/* Every way into process pid through an unprivileged mount: EACCES. */
static void assert_refused_root(const Mount *m, pid_t pid)
{
	g_autofree char *dir = mnt_path(m, pid, NULL);
	g_autofree char *ps = mnt_path(m, pid, "status");
	g_autofree char *pc = mnt_path(m, pid, "clear");
	struct stat st;

	errno = 0;
	g_assert_null(list_dir(m->mnt));
	g_assert_cmpint(errno, ==, EACCES);
	g_assert_cmpint(stat(dir, &st), ==, -1);
	g_assert_cmpint(errno, ==, EACCES);
	g_assert_cmpint(open(ps, O_RDONLY), ==, -1);
	g_assert_cmpint(errno, ==, EACCES);
	g_assert_cmpint(tl_write_text(pc, "1", 1), ==, -EACCES);
}

static void assert_refused_agent(Agent *a, const Mount *m, pid_t pid)
{
	g_autofree char *dir = mnt_path(m, pid, NULL);
	g_autofree char *ps = mnt_path(m, pid, "status");
	g_autofree char *pd = mnt_path(m, pid, "dirty_ranges");
	g_autofree char *pc = mnt_path(m, pid, "clear");

	g_assert_cmpint(ag_list(a, m->mnt, NULL), ==, -EACCES);
	g_assert_cmpint(ag_stat(a, dir), ==, -EACCES);
	g_assert_cmpint(ag_cat(a, ps, NULL), ==, -EACCES);
	g_assert_cmpint(ag_cat(a, pd, NULL), ==, -EACCES);
	g_assert_cmpint(ag_write(a, pc, O_WRONLY, "1", 1), ==, -EACCES);
}

static void test_unpriv_allow_other(void)
{
	if (!can_mount_unprivileged())
		return;
	user_environment();
	Mount sm;
	sec_mount_start(&sm, UID_X, "allow_other", FALSE);
	Workload *wx = wl_spawn(tl_workload_bin, NULL, &(WlOpts){.uid = UID_X});
	Workload *wy = wl_spawn(tl_workload_bin, NULL, &(WlOpts){.uid = UID_Y});
	Agent *x = agent_start(UID_X, FALSE);
	Agent *y = agent_start(UID_Y, FALSE);

	/* the owner is served */
	g_autofree char *pxs = mnt_path(&sm, wx->pid, "status");
	g_assert_cmpint(ag_cat(x, pxs, NULL), ==, 0);
	/* Y: not X's processes, and not even its own */
	assert_refused_agent(y, &sm, wx->pid);
	assert_refused_agent(y, &sm, wy->pid);
	/* root: the daemon acts only as X and refuses other uids */
	assert_refused_root(&sm, wx->pid);
	assert_refused_root(&sm, wy->pid);
	g_assert_cmpuint(sec_epoch_as(x, &sm, wx->pid), ==, 0);
	/* not even the root directory's attributes */
	g_assert_cmpint(ag_stat(y, sm.mnt), ==, -EACCES);
	struct stat st;
	g_assert_cmpint(stat(sm.mnt, &st), ==, -1);
	g_assert_cmpint(errno, ==, EACCES);
	g_assert_cmpint(ag_stat(x, sm.mnt), ==, 0);

	agent_stop(x);
	agent_stop(y);
	wl_kill(wx);
	wl_kill(wy);
	sec_mount_stop(&sm);
}

void sec_register_unpriv(void)
{
	sec_add("/security/unpriv/own-process", test_unpriv_own);
	sec_add("/security/unpriv/allow-other-refuses-others",
			test_unpriv_allow_other);
}
