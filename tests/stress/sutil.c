/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* sdfs stress/fault tests: shared helpers (see sutil.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sutil.h"
#include "testlib.h"

size_t su_ps;
const char *su_bin;
const char *su_target_bin;
const char *su_backend;

void su_init(void)
{
	su_ps = (size_t)sysconf(_SC_PAGESIZE);
	su_bin = g_getenv("SDFS_BIN");
	su_target_bin = g_getenv("SDFS_STRESS_TARGET");
	su_backend = g_getenv("SDFS_BACKEND");
	if (!su_backend || !*su_backend)
		su_backend = "auto";
	tl_net_install();
	/* orphans (injector processes of a killed daemon, forked children of
	 * targets) become ours to reap */
	prctl(PR_SET_CHILD_SUBREAPER, 1);
}

/* ---- probe ---- */

gboolean su_backend_usable(const char *backend, char **reason)
{
	return tl_backend_usable(su_bin, backend, reason);
}

const char *su_backend_effective(const char *backend)
{
	return tl_backend_effective(su_bin, backend);
}

/* ---- mounts ---- */

char *su_mount_fstype(const char *mnt)
{
	return tl_mount_fstype(mnt);
}

gboolean sm_start(SMount *m, const char *backend, rlim_t nofile, char **err)
{
	return sm_start_env(m, backend, nofile, NULL, err);
}

gboolean sm_start_env(SMount *m, const char *backend, rlim_t nofile,
		      const char *const *env_add, char **err)
{
	g_auto(GStrv) envp = g_get_environ();
	for (int i = 0; env_add && env_add[i]; i++) {
		g_auto(GStrv) kv = g_strsplit(env_add[i], "=", 2);
		envp = g_environ_setenv(envp, kv[0], kv[1] ? kv[1] : "", TRUE);
	}
	g_autofree char *dir = g_dir_make_tmp("sdfs-stress-XXXXXX", NULL);
	g_autofree char *opt = g_strdup_printf("backend=%s", backend);
	int slot = -1;

	memset(m, 0, sizeof(*m));
	if (!dir || !realpath(dir, m->mnt)) {
		*err = g_strdup_printf("mkdtemp: %s", g_strerror(errno));
		return FALSE;
	}
	snprintf(m->log, sizeof(m->log), "%s.log", m->mnt);
	slot = tl_net_add_mount(m->mnt, m->log);
	if (slot < 0) {
		*err = g_strdup("too many mounts");
		return FALSE;
	}
	m->slot = slot;
	int logfd = open(m->log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
			 0600);
	if (logfd < 0) {
		*err = g_strdup_printf("%s: %s", m->log, g_strerror(errno));
		return FALSE;
	}
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid < 0) {
		*err = g_strdup_printf("fork: %s", g_strerror(errno));
		close(logfd);
		return FALSE;
	}
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(127);
		int null = open("/dev/null", O_RDWR);
		dup2(null, STDIN_FILENO);
		dup2(logfd, STDOUT_FILENO);
		dup2(logfd, STDERR_FILENO);
		signal(SIGPIPE, SIG_DFL);
		if (nofile) {
			struct rlimit rl = {nofile, nofile};
			if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
				_exit(126);
		}
		execle(su_bin, su_bin, "-f", "-o", opt, m->mnt, (char *)NULL,
		       envp);
		dprintf(STDERR_FILENO, "exec %s: %s\n", su_bin,
			strerror(errno));
		_exit(127);
	}
	close(logfd);
	m->daemon = pid;
	tl_track_pid(pid);
	double deadline = su_now() + 30;
	for (;;) {
		g_autofree char *fstype = su_mount_fstype(m->mnt);
		if (fstype && g_str_has_prefix(fstype, "fuse"))
			return TRUE;
		int status;
		if (waitpid(pid, &status, WNOHANG) == pid) {
			tl_untrack_pid(pid);
			m->daemon = 0;
			g_autofree char *log = sm_log(m);
			*err = g_strdup_printf("sdfs exited before mounting "
					       "(status 0x%x): %s",
					       status, log ? log : "");
			return FALSE;
		}
		if (su_now() > deadline) {
			*err = g_strdup_printf("sdfs did not mount %s in 30 s",
					       m->mnt);
			return FALSE;
		}
		g_usleep(2000);
	}
}

char *sm_log(const SMount *m)
{
	char *log = NULL;
	g_file_get_contents(m->log, &log, NULL, NULL);
	return log;
}

char *sm_path(const SMount *m, pid_t pid, const char *rel)
{
	if (!rel || !*rel)
		return g_strdup_printf("%s/%d", m->mnt, (int)pid);
	return g_strdup_printf("%s/%d/%s", m->mnt, (int)pid, rel);
}

gboolean sm_daemon_alive(SMount *m)
{
	return m->daemon > 0 && waitpid(m->daemon, NULL, WNOHANG) == 0;
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

int sm_detach(SMount *m, gboolean use_fusermount)
{
	if (use_fusermount) {
		const char *argv[] = {"fusermount3", "-u", "-z", m->mnt, NULL};
		int status = 0;
		if (!g_spawn_sync(NULL, (char **)argv, NULL,
				  G_SPAWN_SEARCH_PATH | G_SPAWN_CLOEXEC_PIPES,
				  NULL, NULL, NULL, NULL, &status, NULL))
			return -1;
		return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
	}
	return umount2(m->mnt, MNT_DETACH) < 0 ? -errno : 0;
}

void sm_kill9(SMount *m)
{
	if (m->daemon <= 0)
		return;
	kill(m->daemon, SIGKILL);
	waitpid(m->daemon, NULL, 0);
	tl_untrack_pid(m->daemon);
	m->daemon = 0;
}

int sm_stop(SMount *m, int *died_status)
{
	int status = 0, ret = 0;

	if (!m->mnt[0])
		return 0;
	if (m->daemon > 0 &&
	    waitpid(m->daemon, &status, WNOHANG) == m->daemon) {
		tl_untrack_pid(m->daemon);
		m->daemon = 0;
		if (died_status)
			*died_status = status;
		ret = -1;
	}
	if (umount2(m->mnt, MNT_DETACH) < 0 && errno != EINVAL)
		sm_detach(m, TRUE);
	if (m->daemon > 0) {
		if (!wait_exit(m->daemon, &status, 5000)) {
			kill(m->daemon, SIGTERM);
			if (!wait_exit(m->daemon, &status, 3000)) {
				kill(m->daemon, SIGKILL);
				waitpid(m->daemon, &status, 0);
			}
		}
		tl_untrack_pid(m->daemon);
		m->daemon = 0;
		ret = status;
	}
	rmdir(m->mnt);
	unlink(m->log);
	tl_net_drop_mount(m->slot);
	m->mnt[0] = 0;
	return ret;
}

/* ---- /proc ---- */

int su_fd_count(pid_t pid)
{
	return tl_fd_count(pid);
}

long su_status_kb(pid_t pid, const char *key)
{
	g_autofree char *p = g_strdup_printf("/proc/%d/status", (int)pid);
	g_autofree char *t = NULL;
	if (!g_file_get_contents(p, &t, NULL, NULL))
		return -1;
	size_t kl = strlen(key);
	for (char *l = t; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1
						    : NULL)
		if (!strncmp(l, key, kl) && l[kl] == ':')
			return strtol(l + kl + 1, NULL, 10);
	return -1;
}

static char stat_state(const char *path)
{
	g_autofree char *t = NULL;
	if (!g_file_get_contents(path, &t, NULL, NULL))
		return 0;
	char *rp = strrchr(t, ')');
	return rp && rp[1] == ' ' ? rp[2] : 0;
}

char su_state(pid_t pid)
{
	g_autofree char *p = g_strdup_printf("/proc/%d/stat", (int)pid);
	return stat_state(p);
}

char *su_thread_states(pid_t pid)
{
	g_autofree char *dir = g_strdup_printf("/proc/%d/task", (int)pid);
	GDir *d = g_dir_open(dir, 0, NULL);
	if (!d)
		return NULL;
	GString *s = g_string_new(NULL);
	const char *n;
	while ((n = g_dir_read_name(d))) {
		g_autofree char *p = g_strdup_printf("%s/%s/stat", dir, n);
		char c = stat_state(p);
		g_string_append_printf(s, "%s%c", s->len ? " " : "",
				       c ? c : '?');
	}
	g_dir_close(d);
	return g_string_free(s, FALSE);
}

/* The parent of pid from /proc/PID/stat, or 0. */
static pid_t stat_ppid(pid_t pid)
{
	g_autofree char *p = g_strdup_printf("/proc/%d/stat", (int)pid);
	g_autofree char *t = NULL;
	if (!g_file_get_contents(p, &t, NULL, NULL))
		return 0;
	const char *e = strrchr(t, ')');
	char st;
	int ppid;
	if (!e || sscanf(e + 1, " %c %d", &st, &ppid) != 2)
		return 0;
	return (pid_t)ppid;
}

char *su_pipe_fds(pid_t pid)
{
	g_autofree char *dir = g_strdup_printf("/proc/%d/fd", (int)pid);
	GString *s = g_string_new(NULL);
	GDir *d = g_dir_open(dir, 0, NULL);
	const char *n;
	while (d && (n = g_dir_read_name(d))) {
		g_autofree char *p = g_build_filename(dir, n, NULL);
		g_autofree char *t = g_file_read_link(p, NULL);
		if (t && g_str_has_prefix(t, "pipe:"))
			g_string_append_printf(s, " %s=%s", n, t + 5);
	}
	if (d)
		g_dir_close(d);
	return g_string_free(s, FALSE);
}

char *su_dump_descendants(pid_t root)
{
	GString *s = g_string_new(NULL);
	GArray *tree = g_array_new(FALSE, FALSE, sizeof(pid_t));
	g_array_append_val(tree, root);
	/* a few passes: children, grandchildren (rsync's own) */
	for (int pass = 0; pass < 3; pass++) {
		GDir *d = g_dir_open("/proc", 0, NULL);
		const char *n;
		while (d && (n = g_dir_read_name(d))) {
			pid_t pid = (pid_t)atoi(n);
			if (pid <= 0)
				continue;
			gboolean known = FALSE, parent = FALSE;
			pid_t pp = stat_ppid(pid);
			for (guint i = 0; i < tree->len; i++) {
				pid_t t = g_array_index(tree, pid_t, i);
				known |= t == pid;
				parent |= t == pp;
			}
			if (parent && !known)
				g_array_append_val(tree, pid);
		}
		if (d)
			g_dir_close(d);
	}
	for (guint i = 1; i < tree->len; i++) {
		pid_t pid = g_array_index(tree, pid_t, i);
		g_autofree char *cp = g_strdup_printf("/proc/%d/cmdline", (int)pid);
		g_autofree char *cmd = NULL;
		gsize len = 0;
		if (g_file_get_contents(cp, &cmd, &len, NULL))
			for (gsize k = 0; k + 1 < len; k++)
				if (!cmd[k])
					cmd[k] = ' ';
		g_autofree char *th = su_dump_threads(pid);
		g_autofree char *fds = su_pipe_fds(pid);
		g_string_append_printf(s,
				       "descendant %d (parent %d): %s\n  pipes:%s\n%s",
				       (int)pid, (int)stat_ppid(pid),
				       cmd ? cmd : "?", fds, th);
	}
	g_array_free(tree, TRUE);
	return g_string_free(s, FALSE);
}

char *su_dump_threads(pid_t pid)
{
	g_autofree char *dir = g_strdup_printf("/proc/%d/task", (int)pid);
	GDir *d = g_dir_open(dir, 0, NULL);
	GString *s = g_string_new(NULL);
	g_string_append_printf(s, "threads of pid %d:\n", (int)pid);
	if (!d)
		return g_string_free(s, FALSE);
	const char *n;
	while ((n = g_dir_read_name(d))) {
		const char *files[] = {"comm", "wchan", "stack"};
		g_autofree char *st = g_strdup_printf("%s/%s/stat", dir, n);
		g_string_append_printf(s, "  tid %s state %c", n,
				       stat_state(st) ? stat_state(st) : '?');
		for (size_t i = 0; i < G_N_ELEMENTS(files); i++) {
			g_autofree char *p =
				g_strdup_printf("%s/%s/%s", dir, n, files[i]);
			g_autofree char *t = NULL;
			if (!g_file_get_contents(p, &t, NULL, NULL))
				continue;
			g_strchomp(t);
			if (i < 2)
				g_string_append_printf(s, " %s %s", files[i], t);
			else
				g_string_append_printf(s, "\n%s", t);
		}
		g_string_append_c(s, '\n');
	}
	g_dir_close(d);
	return g_string_free(s, FALSE);
}

GArray *su_find_comm(const char *comm)
{
	GArray *a = g_array_new(FALSE, FALSE, sizeof(pid_t));
	DIR *d = opendir("/proc");
	struct dirent *de;
	while (d && (de = readdir(d))) {
		char *end;
		long pid = strtol(de->d_name, &end, 10);
		if (*end || pid <= 0)
			continue;
		g_autofree char *p = g_strdup_printf("/proc/%ld/comm", pid);
		g_autofree char *t = NULL;
		if (g_file_get_contents(p, &t, NULL, NULL) &&
		    !strcmp(g_strchomp(t), comm)) {
			pid_t v = (pid_t)pid;
			g_array_append_val(a, v);
		}
	}
	if (d)
		closedir(d);
	return a;
}

/* ---- targets ---- */

STarget *tgt_start(uint32_t tag, size_t npages, int threads,
		   unsigned pause_us)
{
	int in[2], out[2];
	char a1[32], a2[32], a3[32], a4[32];
	pid_t parent = getpid();

	if (pipe2(in, O_CLOEXEC) < 0)
		return NULL;
	if (pipe2(out, O_CLOEXEC) < 0) {
		close(in[0]);
		close(in[1]);
		return NULL;
	}
	snprintf(a1, sizeof(a1), "%u", tag);
	snprintf(a2, sizeof(a2), "%zu", npages);
	snprintf(a3, sizeof(a3), "%d", threads);
	snprintf(a4, sizeof(a4), "%u", pause_us);
	pid_t pid = fork();
	if (pid < 0)
		return NULL;
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(127);
		dup2(in[0], STDIN_FILENO);
		dup2(out[1], STDOUT_FILENO);
		signal(SIGPIPE, SIG_DFL);
		execl(su_target_bin, su_target_bin, a1, a2, a3, a4,
		      (char *)NULL);
		_exit(127);
	}
	tl_track_pid(pid);
	close(in[0]);
	close(out[1]);
	STarget *t = g_new0(STarget, 1);
	t->pid = pid;
	t->to = in[1];
	t->from = out[0];
	t->tag = tag;
	g_autofree char *ready = tgt_read_line(t, 10000);
	if (!ready || !tgt_parse_ready(t, ready) || t->pid != pid) {
		g_printerr("stress target %d did not start: '%s'\n", (int)pid,
			   ready ? ready : "(nothing)");
		t->pid = pid;
		tgt_kill(t);
		return NULL;
	}
	return t;
}

gboolean tgt_parse_ready(STarget *t, const char *line)
{
	int pid;
	unsigned long addr;
	size_t n;
	if (sscanf(line, "ready %d %lx %zu", &pid, &addr, &n) != 3)
		return FALSE;
	t->pid = pid;
	t->addr = addr;
	t->npages = n;
	return TRUE;
}

char *tgt_read_line(STarget *t, int timeout_ms)
{
	double deadline = su_now() + timeout_ms / 1000.0;
	for (;;) {
		char *nl = memchr(t->buf, '\n', t->len);
		if (nl) {
			char *line = g_strndup(t->buf, (gsize)(nl - t->buf));
			t->len -= (size_t)(nl + 1 - t->buf);
			memmove(t->buf, nl + 1, t->len);
			return line;
		}
		if (t->len >= sizeof(t->buf))
			return NULL;
		int left = (int)((deadline - su_now()) * 1000);
		if (left <= 0)
			return NULL;
		struct pollfd p = {.fd = t->from, .events = POLLIN};
		int r = poll(&p, 1, left);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			continue;
		ssize_t n = read(t->from, t->buf + t->len,
				 sizeof(t->buf) - t->len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return NULL;
		t->len += (size_t)n;
	}
}

char *tgt_cmd(STarget *t, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	g_autofree char *cmd = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	g_autofree char *line = g_strconcat(cmd, "\n", NULL);
	size_t len = strlen(line);
	for (size_t off = 0; off < len;) {
		ssize_t n = write(t->to, line + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return NULL;
		off += (size_t)n;
	}
	return tgt_read_line(t, 10000);
}

void tgt_kill(STarget *t)
{
	if (!t)
		return;
	if (t->pid > 0) {
		kill(t->pid, SIGKILL);
		waitpid(t->pid, NULL, 0);
		tl_untrack_pid(t->pid);
	}
	close(t->to);
	close(t->from);
	g_free(t);
}

int tgt_wait(STarget *t)
{
	int status = -1;
	if (t->pid > 0) {
		if (!wait_exit(t->pid, &status, 5000)) {
			kill(t->pid, SIGKILL);
			waitpid(t->pid, &status, 0);
		}
		tl_untrack_pid(t->pid);
	}
	close(t->to);
	close(t->from);
	g_free(t);
	return status;
}

/* ---- files ---- */

int su_read_text(const char *path, char **out, size_t *lenp)
{
	return tl_read_text(path, 16384, out, lenp);
}

int su_write_text(const char *path, const char *s)
{
	return tl_write_text(path, s, strlen(s));
}

int su_read_page_fd(int fd, void *buf)
{
	ssize_t n = pread(fd, buf, su_ps, 0);
	if (n < 0)
		return -errno;
	return n == (ssize_t)su_ps ? 0 : -EIO;
}

int su_read_page(const char *path, void *buf)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int r = su_read_page_fd(fd, buf);
	close(fd);
	return r;
}

/* ---- ranges ---- */

GArray *su_ranges_parse(const char *text, char **err)
{
	return tl_ranges_parse(text, su_ps, err);
}

GArray *su_maps(pid_t pid)
{
	g_autofree char *p = g_strdup_printf("/proc/%d/maps", (int)pid);
	g_autofree char *t = NULL;
	if (!g_file_get_contents(p, &t, NULL, NULL))
		return NULL;
	GArray *a = g_array_new(FALSE, TRUE, sizeof(SRange));
	g_auto(GStrv) lines = g_strsplit(t, "\n", -1);
	for (char **l = lines; *l; l++) {
		SRange r = {0};
		unsigned long long s, e;
		if (sscanf(*l, "%llx-%llx %4s", &s, &e, r.perms) != 3)
			continue;
		r.start = s;
		r.end = e;
		g_array_append_val(a, r);
	}
	return a;
}

gboolean su_in_maps(GArray *maps, uint64_t s, uint64_t e)
{
	for (guint i = 0; i < maps->len; i++) {
		SRange *m = &g_array_index(maps, SRange, i);
		if (s >= m->start && e <= m->end)
			return TRUE;
	}
	return FALSE;
}

double su_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

void sm_stop_checked(SMount *m)
{
	int died = 0;
	pid_t pid = m->daemon;
	g_autofree char *log = sm_log(m);
	int st = sm_stop(m, &died);
	if (st == -1 || !WIFEXITED(st) || WEXITSTATUS(st)) {
		if (log && *log)
			g_test_message("daemon log:\n%s", log);
		g_test_fail_printf("daemon %d %s (status 0x%x)", (int)pid,
				   st == -1 ? "died during the test"
					    : "exited badly",
				   st == -1 ? died : st);
	}
}
