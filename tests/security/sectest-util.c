/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* sdfs_sectest plumbing: the suite's mounts (on tests/lib's mount.h) and
 * agents run as test uids, in other pid namespaces. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sectest.h"

#define REPLY_TIMEOUT_MS 30000

/* ---- mounts -------------------------------------------------------------- */

void sec_mount_start(Mount *m, uid_t uid, const char *opts, gboolean pidns)
{
	mount_start(m, &(MountOpts){.backend = "uffd",
				    .opts = opts,
				    .uid = uid,
				    .pidns = pidns,
				    .parent = g_getenv("SDFS_SEC_RUNDIR")});
}

static void assert_alive(Mount *m)
{
	if (!mount_alive(m)) {
		mount_dump_log(m);
		g_error("the sdfs daemon died (status 0x%x)", m->died);
	}
	g_assert_no_errno(kill(m->daemon, 0));
	g_autofree char *fstype = tl_mount_fstype(m->mnt);
	g_assert_true(fstype && g_str_has_prefix(fstype, "fuse"));
}

void sec_assert_serving(Mount *m, uid_t as_uid)
{
	assert_alive(m);
	if (m->helper) {
		/* a daemon in its own pid namespace serves only callers
		 * inside it */
		g_autofree char *ns =
			g_strdup_printf("/proc/%d/ns/pid", (int)m->daemon);
		Agent *a = agent_start_ns(as_uid, ns);
		g_assert_cmpint(ag_stat(a, m->mnt), ==, 0);
		agent_stop(a);
	} else if (as_uid == 0) {
		struct stat st;
		g_assert_no_errno(stat(m->mnt, &st));
		g_assert_cmpuint(st.st_ino, ==, 1);
	} else {
		Agent *a = agent_start(as_uid, FALSE);
		g_assert_cmpint(ag_stat(a, m->mnt), ==, 0);
		agent_stop(a);
	}
	assert_alive(m);
}

void sec_mount_stop(Mount *m)
{
	if (!m->mnt)
		return;
	/* a root mount lets root in; a user's mount lets its user in */
	if (m->daemon > 0)
		sec_assert_serving(m, m->uid);
	mount_stop(m);
}

/* ---- agents -------------------------------------------------------------- */

static char *hex_encode(const void *data, size_t len)
{
	if (!len)
		return g_strdup("-");
	const guint8 *p = data;
	char *s = g_malloc(len * 2 + 1);
	for (size_t i = 0; i < len; i++)
		sprintf(s + 2 * i, "%02x", p[i]);
	return s;
}

static GByteArray *hex_decode(const char *s)
{
	GByteArray *b = g_byte_array_new();
	if (!strcmp(s, "-"))
		return b;
	size_t n = strlen(s) / 2;
	for (size_t i = 0; i < n; i++) {
		unsigned v;
		if (sscanf(s + 2 * i, "%2x", &v) != 1)
			break;
		guint8 c = (guint8)v;
		g_byte_array_append(b, &c, 1);
	}
	return b;
}

static void agent_reply(FILE *out, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
static void agent_reply(FILE *out, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vfprintf(out, fmt, ap);
	va_end(ap);
	fputc('\n', out);
	fflush(out);
}

/* The agent's loop, in the child: plain libc, no assertions. */
static void G_GNUC_NORETURN agent_main(int in, int out_fd)
{
	FILE *fin = fdopen(in, "r");
	FILE *out = fdopen(out_fd, "w");
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;

	while ((n = getline(&line, &cap, fin)) > 0) {
		line[strcspn(line, "\n")] = 0;
		char *sp = strchr(line, ' ');
		char *args = sp ? sp + 1 : line + strlen(line);
		switch (line[0]) {
		case 'S': { /* stat PATH */
			struct stat st;
			agent_reply(out, "%d", stat(args, &st) < 0 ? -errno : 0);
			break;
		}
		case 'C': { /* cat PATH */
			int fd = open(args, O_RDONLY | O_CLOEXEC);
			if (fd < 0) {
				agent_reply(out, "%d -", -errno);
				break;
			}
			GByteArray *b = g_byte_array_new();
			char buf[65536];
			int err = 0;
			for (;;) {
				ssize_t r = read(fd, buf, sizeof(buf));
				if (r < 0 && errno == EINTR)
					continue;
				if (r < 0) {
					err = -errno;
					break;
				}
				if (r == 0)
					break;
				g_byte_array_append(b, (guint8 *)buf, (guint)r);
			}
			close(fd);
			char *h = hex_encode(b->data, b->len);
			agent_reply(out, "%d %s", err, err ? "-" : h);
			g_free(h);
			g_byte_array_unref(b);
			break;
		}
		case 'L': { /* list PATH */
			DIR *d = opendir(args);
			if (!d) {
				agent_reply(out, "%d", -errno);
				break;
			}
			GString *s = g_string_new(NULL);
			struct dirent *de;
			errno = 0;
			while ((de = readdir(d))) {
				if (strcmp(de->d_name, ".") &&
				    strcmp(de->d_name, ".."))
					g_string_append_printf(s, " %s",
							       de->d_name);
				errno = 0;
			}
			int e = errno ? -errno : 0;
			closedir(d);
			agent_reply(out, "%d%s", e, e ? "" : s->str);
			g_string_free(s, TRUE);
			break;
		}
		case 'W': { /* write FLAGS HEX PATH */
			int flags;
			char hex[8192], path[4096];
			if (sscanf(args, "%d %8191s %4095s", &flags, hex, path) !=
			    3) {
				agent_reply(out, "%d", -EBADMSG);
				break;
			}
			GByteArray *b = hex_decode(hex);
			int fd = open(path, flags | O_CLOEXEC);
			int r = 0;
			if (fd < 0) {
				r = -errno;
			} else {
				ssize_t w = write(fd, b->data, b->len);
				if (w < 0)
					r = -errno;
				else if ((size_t)w != b->len)
					r = -EMSGSIZE;
				if (close(fd) < 0 && !r)
					r = -errno;
			}
			g_byte_array_unref(b);
			agent_reply(out, "%d", r);
			break;
		}
		case 'O': { /* open FLAGS PATH */
			int flags;
			char path[4096];
			if (sscanf(args, "%d %4095s", &flags, path) != 2) {
				agent_reply(out, "%d", -EBADMSG);
				break;
			}
			int fd = open(path, flags | O_CLOEXEC);
			agent_reply(out, "%d", fd < 0 ? -errno : fd);
			break;
		}
		case 'R': { /* pread FD OFF LEN */
			int fd;
			long long off;
			size_t len;
			if (sscanf(args, "%d %lld %zu", &fd, &off, &len) != 3 ||
			    len > (1 << 20)) {
				agent_reply(out, "%d -", -EBADMSG);
				break;
			}
			char *buf = g_malloc(len ? len : 1);
			ssize_t r = pread(fd, buf, len, (off_t)off);
			if (r < 0) {
				agent_reply(out, "%d -", -errno);
			} else {
				char *h = hex_encode(buf, (size_t)r);
				agent_reply(out, "%zd %s", r, h);
				g_free(h);
			}
			g_free(buf);
			break;
		}
		case 'P': { /* pwrite FD OFF HEX */
			int fd;
			long long off;
			char hex[8192];
			if (sscanf(args, "%d %lld %8191s", &fd, &off, hex) != 3) {
				agent_reply(out, "%d", -EBADMSG);
				break;
			}
			GByteArray *b = hex_decode(hex);
			ssize_t r = pwrite(fd, b->data, b->len, (off_t)off);
			agent_reply(out, "%zd", r < 0 ? -errno : r);
			g_byte_array_unref(b);
			break;
		}
		case 'X': /* close FD */
			agent_reply(out, "%d",
				    close(atoi(args)) < 0 ? -errno : 0);
			break;
		default:
			agent_reply(out, "%d", -EBADMSG);
		}
	}
	_exit(0);
}

Agent *agent_start(uid_t uid, gboolean pidns)
{
	return agent_start_ns(uid, pidns ? "new" : NULL);
}

Agent *agent_start_ns(uid_t uid, const char *ns)
{
	gboolean pidns = ns != NULL;
	int in[2], out[2];
	pid_t parent = getpid();
	g_assert_no_errno(pipe2(in, O_CLOEXEC));
	g_assert_no_errno(pipe2(out, O_CLOEXEC));
	pid_t pid = fork();
	g_assert_cmpint(pid, >=, 0);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(127);
		close(in[1]);
		close(out[0]);
		if (pidns) {
			if (!strcmp(ns, "new")) {
				if (unshare(CLONE_NEWPID) < 0)
					_exit(126);
			} else {
				int nfd = open(ns, O_RDONLY | O_CLOEXEC);
				if (nfd < 0 || setns(nfd, CLONE_NEWPID) < 0)
					_exit(126);
				close(nfd);
			}
			pid_t c = fork();
			if (c < 0)
				_exit(126);
			if (c > 0) {
				/* tell the test the agent's pid in our ns */
				dprintf(out[1], "agent %d\n", (int)c);
				close(in[0]);
				close(out[1]);
				int st;
				while (waitpid(c, &st, 0) < 0 && errno == EINTR)
					;
				_exit(0);
			}
			prctl(PR_SET_PDEATHSIG, SIGKILL);
		}
		tl_child_become(uid);
		agent_main(in[0], out[1]);
	}
	tl_track_pid(pid);
	close(in[0]);
	close(out[1]);
	Agent *a = g_new0(Agent, 1);
	a->to = in[1];
	a->from = out[0];
	a->uid = uid;
	if (pidns) {
		a->helper = pid;
		Workload tmp = {.pid = pid, .from = out[0]};
		g_autofree char *l = wl_read_line(&tmp);
		g_assert_true(g_str_has_prefix(l, "agent "));
		g_assert_cmpuint(tmp.len, ==, 0);
		a->pid = atoi(l + 6);
		tl_track_pid(a->pid);
	} else {
		a->pid = pid;
	}
	return a;
}

void agent_stop(Agent *a)
{
	if (!a)
		return;
	close(a->to);
	close(a->from);
	kill(a->pid, SIGKILL);
	pid_t c = a->helper ? a->helper : a->pid;
	waitpid(c, NULL, 0);
	tl_untrack_pid(a->pid);
	tl_untrack_pid(c);
	g_free(a);
}

static char *agent_call(Agent *a, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
static char *agent_call(Agent *a, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	g_autofree char *cmd = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	int w = tl_write_line(a->to, cmd);
	if (w < 0)
		g_error("agent %d: write: %s", (int)a->pid, g_strerror(-w));
	GString *s = g_string_new(NULL);
	gint64 deadline = g_get_monotonic_time() + REPLY_TIMEOUT_MS * 1000;
	for (;;) {
		char c;
		int left = (int)((deadline - g_get_monotonic_time()) / 1000);
		if (left <= 0)
			g_error("agent %d (uid %u): no reply to '%.80s' in %d ms "
				"(a hang in the mount?)",
				(int)a->pid, (unsigned)a->uid, cmd,
				REPLY_TIMEOUT_MS);
		struct pollfd p = {.fd = a->from, .events = POLLIN};
		int r = poll(&p, 1, left);
		if (r < 0 && errno == EINTR)
			continue;
		g_assert_cmpint(r, >=, 0);
		if (r == 0)
			continue;
		/* replies can be long: read what is there */
		char buf[65536];
		ssize_t n = read(a->from, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			g_error("agent %d closed its output", (int)a->pid);
		for (ssize_t i = 0; i < n; i++) {
			c = buf[i];
			if (c == '\n') {
				/* one request, one reply: nothing follows */
				g_assert_cmpint(i, ==, n - 1);
				return g_string_free(s, FALSE);
			}
			g_string_append_c(s, c);
		}
	}
}

int ag_stat(Agent *a, const char *path)
{
	g_autofree char *r = agent_call(a, "S %s", path);
	return atoi(r);
}

int ag_cat(Agent *a, const char *path, GByteArray **out)
{
	g_autofree char *r = agent_call(a, "C %s", path);
	int e = atoi(r);
	if (out) {
		char *sp = strchr(r, ' ');
		*out = e ? NULL : hex_decode(sp ? sp + 1 : "-");
	}
	return e;
}

int ag_list(Agent *a, const char *path, GPtrArray **out)
{
	g_autofree char *r = agent_call(a, "L %s", path);
	int e = atoi(r);
	if (out) {
		*out = NULL;
		if (!e) {
			*out = g_ptr_array_new_with_free_func(g_free);
			g_auto(GStrv) v = g_strsplit(r, " ", -1);
			for (char **p = v + 1; *p; p++)
				if (**p)
					g_ptr_array_add(*out, g_strdup(*p));
		}
	}
	return e;
}

int ag_write(Agent *a, const char *path, int flags, const void *data,
	     size_t len)
{
	g_assert_cmpuint(len, <, 4096);
	g_autofree char *h = hex_encode(data, len);
	g_autofree char *r = agent_call(a, "W %d %s %s", flags, h, path);
	return atoi(r);
}

int ag_open(Agent *a, const char *path, int flags)
{
	g_autofree char *r = agent_call(a, "O %d %s", flags, path);
	return atoi(r);
}

ssize_t ag_pread(Agent *a, int fd, off_t off, void *buf, size_t len)
{
	g_autofree char *r =
		agent_call(a, "R %d %lld %zu", fd, (long long)off, len);
	ssize_t n = atol(r);
	if (n > 0) {
		g_autoptr(GByteArray) b = hex_decode(strchr(r, ' ') + 1);
		g_assert_cmpuint(b->len, ==, (gsize)n);
		memcpy(buf, b->data, b->len);
	}
	return n;
}

ssize_t ag_pwrite(Agent *a, int fd, off_t off, const void *data, size_t len)
{
	g_assert_cmpuint(len, <, 4096);
	g_autofree char *h = hex_encode(data, len);
	g_autofree char *r =
		agent_call(a, "P %d %lld %s", fd, (long long)off, h);
	return atol(r);
}

int ag_close(Agent *a, int fd)
{
	g_autofree char *r = agent_call(a, "X %d", fd);
	return atoi(r);
}

/* ---- small helpers ------------------------------------------------------- */

gboolean names_have_pid(GPtrArray *names, pid_t pid)
{
	g_autofree char *s = g_strdup_printf("%d", (int)pid);
	for (guint i = 0; i < names->len; i++)
		if (!strcmp(g_ptr_array_index(names, i), s))
			return TRUE;
	return FALSE;
}

char *status_value(const char *text, const char *key)
{
	g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
	g_autofree char *pfx = g_strdup_printf("%s: ", key);
	for (char **l = lines; *l; l++)
		if (g_str_has_prefix(*l, pfx))
			return g_strdup(*l + strlen(pfx));
	return NULL;
}
