/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The mount harness (mount.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mount.h"
#include "testlib.h"

#define MOUNT_WAIT_S 30
/* after the unmount, before SIGTERM; under a wrapper such as valgrind the
 * exit (its leak check) takes a while */
#define EXIT_WAIT_MS 5000
#define EXIT_WAIT_WRAPPED_MS 60000

static const char *wrapper(void)
{
	const char *w = g_getenv("SDFS_DAEMON_WRAPPER");
	return w && *w ? w : NULL;
}

/* The process we reap: the daemon, or its pid-namespace helper. */
static pid_t mount_child(const Mount *m)
{
	return m->helper ? m->helper : m->daemon;
}

/* "exit status N", "signal N" */
static char *status_text(int st)
{
	if (WIFEXITED(st))
		return g_strdup_printf("exit status %d", WEXITSTATUS(st));
	if (WIFSIGNALED(st))
		return g_strdup_printf("signal %d", WTERMSIG(st));
	return g_strdup_printf("status 0x%x", st);
}

static void mount_free(Mount *m)
{
	tl_net_drop_mount(m->slot);
	if (m->mnt)
		rmdir(m->mnt);
	if (m->log)
		unlink(m->log);
	if (m->dir)
		rmdir(m->dir);
	g_clear_pointer(&m->mnt, g_free);
	g_clear_pointer(&m->log, g_free);
	g_clear_pointer(&m->dir, g_free);
	g_clear_pointer(&m->backend, g_free);
	m->daemon = m->helper = 0;
	m->slot = -1;
}

/* The daemon's command line: [WRAPPER...] BIN -f -o OPTS MNT */
static char **daemon_argv(const Mount *m, const MountOpts *o)
{
	const char *more = g_getenv("SDFS_MOUNT_OPTS"); /* e.g. nofreeze */
	GPtrArray *a = g_ptr_array_new();
	g_auto(GStrv) wargv = NULL;
	if (wrapper() && g_shell_parse_argv(wrapper(), NULL, &wargv, NULL))
		for (char **w = wargv; *w; w++)
			g_ptr_array_add(a, g_strdup(*w));
	g_ptr_array_add(a, g_strdup(tl_bin));
	g_ptr_array_add(a, g_strdup("-f"));
	g_ptr_array_add(a, g_strdup("-o"));
	g_ptr_array_add(a, g_strdup_printf("backend=%s%s%s%s%s", m->backend,
					   o->opts && *o->opts ? "," : "",
					   o->opts ? o->opts : "",
					   more && *more ? "," : "",
					   more ? more : ""));
	g_ptr_array_add(a, g_strdup(m->mnt));
	g_ptr_array_add(a, NULL);
	return (char **)g_ptr_array_free(a, FALSE);
}

static char **daemon_env(const MountOpts *o)
{
	char **envp = g_get_environ();
	for (int i = 0; o->env && o->env[i]; i++) {
		g_auto(GStrv) kv = g_strsplit(o->env[i], "=", 2);
		envp = g_environ_setenv(envp, kv[0], kv[1] ? kv[1] : "", TRUE);
	}
	/* libfuse runs fusermount3 (unprivileged mounts) by PATH */
	return g_environ_setenv(envp, "PATH", "/usr/local/bin:/usr/bin:/bin",
				FALSE);
}

/* DIR, DIR/mnt (owned by uid), DIR/daemon.log; 0 or -errno. */
static int make_dirs(Mount *m, const MountOpts *o, char **err)
{
	const char *parent = o->parent ? o->parent : g_get_tmp_dir();
	g_autofree char *tmpl =
		g_build_filename(parent, "sdfs-mnt-XXXXXX", NULL);
	char real[PATH_MAX];
	if (!g_mkdtemp(tmpl) || !realpath(tmpl, real)) {
		int e = errno;
		*err = g_strdup_printf("mkdtemp in %s: %s", parent,
				       g_strerror(e));
		return -e;
	}
	m->dir = g_strdup(real);
	m->mnt = g_build_filename(real, "mnt", NULL);
	m->log = g_build_filename(real, "daemon.log", NULL);
	if (chmod(m->dir, 0755) < 0 || mkdir(m->mnt, 0755) < 0 ||
	    (o->uid && (chown(m->dir, o->uid, o->uid) < 0 ||
			chown(m->mnt, o->uid, o->uid) < 0))) {
		int e = errno;
		*err = g_strdup_printf("%s: %s", m->mnt, g_strerror(e));
		return -e;
	}
	return 0;
}

/* In the child: never returns. */
static void G_GNUC_NORETURN daemon_child(pid_t parent, const MountOpts *o,
					 int logfd, int pfd, char **argv,
					 char **envp)
{
	prctl(PR_SET_PDEATHSIG, o->pidns ? SIGKILL : SIGTERM);
	if (getppid() != parent)
		_exit(127);
	if (o->pidns) {
		/* we wait for the daemon, pid 1 of a new pid namespace, and
		 * exit as it does */
		if (unshare(CLONE_NEWPID) < 0)
			_exit(126);
		pid_t d = fork();
		if (d < 0)
			_exit(126);
		if (d > 0) {
			int st = 0;
			if (write(pfd, &d, sizeof(d)) != sizeof(d))
				_exit(126);
			while (waitpid(d, &st, 0) < 0 && errno == EINTR)
				;
			_exit(WIFEXITED(st) ? WEXITSTATUS(st) : 128);
		}
		prctl(PR_SET_PDEATHSIG, SIGTERM);
	}
	int null = open("/dev/null", O_RDWR);
	dup2(null, STDIN_FILENO);
	dup2(logfd, STDOUT_FILENO);
	dup2(logfd, STDERR_FILENO);
	signal(SIGPIPE, SIG_DFL);
	if (o->nofile) {
		struct rlimit rl = {o->nofile, o->nofile};
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			_exit(126);
	}
	tl_child_become(o->uid);
	execvpe(argv[0], argv, envp);
	dprintf(STDERR_FILENO, "exec %s: %s\n", argv[0], strerror(errno));
	_exit(127);
}

/* Wait until the mount is live: 0, or -errno and *err. */
static int wait_mounted(Mount *m, char **err)
{
	pid_t c = mount_child(m);
	double deadline = tl_now() + MOUNT_WAIT_S;
	for (;;) {
		g_autofree char *fstype = tl_mount_fstype(m->mnt);
		if (fstype && g_str_has_prefix(fstype, "fuse"))
			return 0;
		int st;
		if (waitpid(c, &st, WNOHANG) == c) {
			tl_untrack_pid(c);
			tl_untrack_pid(m->daemon);
			m->daemon = m->helper = 0;
			g_autofree char *log = mount_log(m);
			g_autofree char *how = status_text(st);
			*err = g_strdup_printf("sdfs (uid %u) exited before "
					       "mounting %s (%s); its log:\n%s",
					       (unsigned)m->uid, m->mnt, how,
					       log ? log : "");
			return -ECHILD;
		}
		if (tl_now() > deadline) {
			g_autofree char *log = mount_log(m);
			*err = g_strdup_printf("sdfs did not mount %s within "
					       "%d s; its log:\n%s",
					       m->mnt, MOUNT_WAIT_S,
					       log ? log : "");
			return -ETIMEDOUT;
		}
		g_usleep(2000);
	}
}

int mount_try(Mount *m, const MountOpts *o, char **err)
{
	static const MountOpts defaults = {0};
	if (!o)
		o = &defaults;
	memset(m, 0, sizeof(*m));
	m->slot = -1;
	m->uid = o->uid;
	m->backend = g_strdup(o->backend ? o->backend : tl_backend);
	if (!tl_bin) {
		*err = g_strdup("SDFS_BIN not set");
		mount_free(m);
		return -EINVAL;
	}
	int r = make_dirs(m, o, err);
	if (r < 0) {
		mount_free(m);
		return r;
	}
	m->slot = tl_net_add_mount(m->mnt, m->log, m->dir);
	int logfd =
		open(m->log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	int pfd[2] = {-1, -1};
	if (m->slot < 0 || logfd < 0 || pipe2(pfd, O_CLOEXEC) < 0) {
		r = m->slot < 0 ? -EMFILE : -errno;
		*err = g_strdup_printf("%s: %s",
				       m->slot < 0 ? "safety net" : m->log,
				       g_strerror(-r));
		if (logfd >= 0)
			close(logfd);
		mount_free(m);
		return r;
	}
	g_auto(GStrv) argv = daemon_argv(m, o);
	g_auto(GStrv) envp = daemon_env(o);
	pid_t parent = getpid();
	pid_t child = fork();
	if (child == 0)
		daemon_child(parent, o, logfd, pfd[1], argv, envp);
	r = child < 0 ? -errno : 0;
	close(logfd);
	close(pfd[1]);
	if (child > 0) {
		tl_track_pid(child);
		m->daemon = child;
	}
	if (child > 0 && o->pidns) {
		pid_t d = 0;
		ssize_t n;
		do
			n = read(pfd[0], &d, sizeof(d));
		while (n < 0 && errno == EINTR);
		m->helper = child;
		m->daemon = n == sizeof(d) ? d : 0;
		if (m->daemon)
			tl_track_pid(m->daemon);
		else
			r = -ECHILD;
	}
	close(pfd[0]);
	if (r == 0)
		r = wait_mounted(m, err);
	else
		*err = g_strdup_printf("starting sdfs: %s", g_strerror(-r));
	if (r < 0) {
		mount_stop_status(m, NULL, NULL);
		return r;
	}
	return 0;
}

void mount_start(Mount *m, const MountOpts *o)
{
	g_autofree char *err = NULL;
	if (mount_try(m, o, &err) < 0)
		g_error("%s", err);
}

gboolean mount_alive(Mount *m)
{
	pid_t c = mount_child(m);
	int st;
	if (m->dead || c <= 0)
		return FALSE;
	pid_t r = waitpid(c, &st, WNOHANG);
	if (r == c) {
		m->dead = TRUE;
		m->died = st;
		tl_untrack_pid(c);
		return FALSE;
	}
	return r == 0;
}

static gboolean wait_exit(pid_t pid, int *status, int ms)
{
	for (int i = 0; i < ms; i++) {
		if (waitpid(pid, status, WNOHANG) == pid)
			return TRUE;
		g_usleep(1000);
	}
	return FALSE;
}

int mount_detach(Mount *m, gboolean fusermount)
{
	if (fusermount) {
		const char *argv[] = {"fusermount3", "-u", "-z", m->mnt, NULL};
		int status = 0;
		if (!g_spawn_sync(NULL, (char **)argv, NULL,
				  G_SPAWN_SEARCH_PATH | G_SPAWN_CLOEXEC_PIPES,
				  NULL, NULL, NULL, NULL, &status, NULL))
			return -ENOENT;
		return WIFEXITED(status) ? WEXITSTATUS(status) : -EINTR;
	}
	return umount2(m->mnt, MNT_DETACH) < 0 ? -errno : 0;
}

void mount_kill9(Mount *m)
{
	pid_t c = mount_child(m);
	if (m->daemon <= 0)
		return;
	kill(m->daemon, SIGKILL);
	waitpid(c, NULL, 0);
	tl_untrack_pid(m->daemon);
	tl_untrack_pid(c);
	m->daemon = m->helper = 0;
}

int mount_stop_status(Mount *m, int *died, gboolean *signalled)
{
	pid_t c = mount_child(m);
	int status = 0, ret = 0;
	gboolean sent = FALSE;

	if (!m->mnt)
		return 0;
	if (c > 0 && !m->dead && waitpid(c, &status, WNOHANG) == c) {
		m->dead = TRUE;
		m->died = status;
	}
	if (m->dead) {
		if (died)
			*died = m->died;
		ret = -1;
		c = 0;
	}
	/* a busy mount (files still open) is detached */
	if (umount2(m->mnt, 0) < 0 && errno != EINVAL &&
	    umount2(m->mnt, MNT_DETACH) < 0 && errno != EINVAL)
		mount_detach(m, TRUE);
	if (c > 0) {
		int ms = wrapper() ? EXIT_WAIT_WRAPPED_MS : EXIT_WAIT_MS;
		/* (pidns: without the daemon's pid, the helper) */
		pid_t d = m->daemon > 0 ? m->daemon : c;
		if (!wait_exit(c, &status, ms)) {
			sent = TRUE;
			kill(d, SIGTERM);
			if (!wait_exit(c, &status, 3000)) {
				kill(d, SIGKILL);
				kill(c, SIGKILL);
				waitpid(c, &status, 0);
			}
		}
		ret = status;
	}
	tl_untrack_pid(m->daemon);
	tl_untrack_pid(m->helper);
	if (signalled)
		*signalled = sent;
	mount_free(m);
	return ret;
}

void mount_stop(Mount *m)
{
	if (!m->mnt)
		return;
	pid_t pid = m->daemon;
	int died = 0;
	gboolean sent = FALSE;
	/* the stop removes the log: read it first */
	g_autofree char *log = mount_log(m);
	g_autofree char *logpath = g_strdup(m->log);
	int st = mount_stop_status(m, &died, &sent);
	if (sent)
		g_test_message(
			"sdfs needed a signal to exit after the unmount");
	g_autofree char *bad = NULL;
	if (st == -1) {
		g_autofree char *how = status_text(died);
		bad = g_strdup_printf("the sdfs daemon %d died during the test "
				      "(%s)",
				      (int)pid, how);
	} else if (!WIFEXITED(st) || WEXITSTATUS(st)) {
		g_autofree char *how = status_text(st);
		bad = g_strdup_printf(
			"the sdfs daemon %d%s%s exited badly (%s)", (int)pid,
			wrapper() ? " under " : "", wrapper() ? wrapper() : "",
			how);
	}
	/* on stderr too: a test in a subprocess may have its stdout
	 * captured */
	if (bad)
		g_printerr("# %s\n", bad);
	if ((bad || g_test_failed()) && log && *log)
		g_printerr("# ---- sdfs daemon log (%s) ----\n%s"
			   "# ---- end of daemon log ----\n",
			   logpath, log);
	if (bad)
		g_test_fail_printf("%s", bad);
}

int mount_list_root(const Mount *m)
{
	DIR *d = opendir(m->mnt);
	if (!d)
		return -errno;
	int n = 0;
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

char *mount_log(const Mount *m)
{
	char *log = NULL;
	if (!m->log || !g_file_get_contents(m->log, &log, NULL, NULL))
		return NULL;
	return log;
}

void mount_dump_log(const Mount *m)
{
	g_autofree char *log = mount_log(m);
	if (log && *log)
		g_printerr("# ---- sdfs daemon log (%s) ----\n%s"
			   "# ---- end of daemon log ----\n",
			   m->log, log);
}

char *mnt_path(const Mount *m, pid_t pid, const char *rel)
{
	if (!rel || !*rel)
		return g_strdup_printf("%s/%d", m->mnt, (int)pid);
	return g_strdup_printf("%s/%d/%s", m->mnt, (int)pid, rel);
}

char *page_name(guint64 addr)
{
	return g_strdup_printf("%016" G_GINT64_MODIFIER "x", addr);
}

char *page_path(const Mount *m, pid_t pid, const char *dir, guint64 addr)
{
	g_autofree char *n = page_name(addr);
	g_autofree char *rel = g_strdup_printf("%s/%s", dir, n);
	return mnt_path(m, pid, rel);
}
