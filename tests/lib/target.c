/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The driver of target processes (target.h). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "target.h"
#include "testlib.h"

#define REPLY_TIMEOUT_MS 30000

/* One line into *line: 0, -ETIMEDOUT, -EPIPE (it closed its output),
 * -E2BIG (a line longer than the buffer), or -errno of poll/read. */
static int read_line(Workload *w, char **line)
{
	int timeout = w->timeout_ms > 0 ? w->timeout_ms : REPLY_TIMEOUT_MS;
	double deadline = tl_now() + timeout / 1000.0;
	for (;;) {
		char *nl = memchr(w->buf, '\n', w->len);
		if (nl) {
			*line = g_strndup(w->buf, (gsize)(nl - w->buf));
			w->len -= (size_t)(nl + 1 - w->buf);
			memmove(w->buf, nl + 1, w->len);
			return 0;
		}
		if (w->len >= sizeof(w->buf))
			return -E2BIG;
		int left = (int)((deadline - tl_now()) * 1000);
		if (left <= 0)
			return -ETIMEDOUT;
		struct pollfd p = {.fd = w->from, .events = POLLIN};
		int r = poll(&p, 1, left);
		if (r < 0 && errno != EINTR)
			return -errno;
		if (r <= 0)
			continue;
		ssize_t n =
			read(w->from, w->buf + w->len, sizeof(w->buf) - w->len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EPIPE;
		w->len += (size_t)n;
	}
}

static char *why(int e)
{
	return g_strdup(e == -EPIPE	  ? "it closed its output"
			: e == -ETIMEDOUT ? "no reply in time"
					  : g_strerror(-e));
}

/* "ready PID" or "ready PID ADDR PAGES" of the process pid */
static gboolean parse_ready(Workload *w, const char *line, pid_t pid)
{
	int p = 0, n = 0;
	unsigned long addr = 0;
	size_t pages = 0;
	if (sscanf(line, "ready %d%n", &p, &n) != 1 || p != pid)
		return FALSE;
	if (!line[n])
		return TRUE;
	int m = 0;
	if (sscanf(line + n, " %lx %zu%n", &addr, &pages, &m) != 2 ||
	    line[n + m])
		return FALSE;
	w->addr = addr;
	w->npages = pages;
	return TRUE;
}

Workload *wl_spawn_argv(const char *const *argv, const WlOpts *o, char **err)
{
	static const WlOpts defaults = {0};
	int in[2], out[2];
	pid_t parent = getpid();

	if (!o)
		o = &defaults;
	if (!argv[0]) {
		*err = g_strdup("no program to start (variable not set?)");
		return NULL;
	}
	if (pipe2(in, O_CLOEXEC) < 0) {
		*err = g_strdup_printf("pipe: %s", g_strerror(errno));
		return NULL;
	}
	if (pipe2(out, O_CLOEXEC) < 0) {
		*err = g_strdup_printf("pipe: %s", g_strerror(errno));
		close(in[0]);
		close(in[1]);
		return NULL;
	}
	pid_t pid = fork();
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(127);
		dup2(in[0], STDIN_FILENO);
		dup2(out[1], STDOUT_FILENO);
		signal(SIGPIPE, SIG_DFL);
		tl_child_become(o->uid);
		if (o->in_child)
			o->in_child(o->ctx);
		execv(argv[0], (char *const *)argv);
		dprintf(STDERR_FILENO, "exec %s: %s\n", argv[0],
			strerror(errno));
		_exit(127);
	}
	int e = errno;
	close(in[0]);
	close(out[1]);
	if (pid < 0) {
		close(in[1]);
		close(out[0]);
		*err = g_strdup_printf("fork: %s", g_strerror(e));
		return NULL;
	}
	tl_track_pid(pid);
	Workload *w = g_new0(Workload, 1);
	w->pid = pid;
	w->to = in[1];
	w->from = out[0];
	w->timeout_ms = o->timeout_ms;
	g_autofree char *ready = NULL;
	int r = read_line(w, &ready);
	if (r < 0 || !parse_ready(w, ready, pid)) {
		g_autofree char *because = r < 0 ? why(r) : NULL;
		*err = g_strdup_printf("%s (pid %d) did not say 'ready %d': "
				       "%s%s%s",
				       argv[0], (int)pid, (int)pid,
				       r < 0 ? because : "'",
				       r < 0 ? "" : ready, r < 0 ? "" : "'");
		wl_kill(w);
		return NULL;
	}
	return w;
}

Workload *wl_spawn(const char *bin, const char *arg, const WlOpts *o)
{
	const char *argv[] = {bin, arg, NULL};
	g_autofree char *err = NULL;
	Workload *w = wl_spawn_argv(argv, o, &err);
	if (!w)
		g_error("%s", err);
	return w;
}

Workload *wl_start(void)
{
	return wl_spawn(tl_workload_bin, NULL, NULL);
}

Workload *wl_start_stress(uint32_t tag, size_t npages, int threads,
			  unsigned pause_us)
{
	g_autofree char *a1 = g_strdup_printf("%u", tag);
	g_autofree char *a2 = g_strdup_printf("%zu", npages);
	g_autofree char *a3 = g_strdup_printf("%d", threads);
	g_autofree char *a4 = g_strdup_printf("%u", pause_us);
	const char *argv[] = {tl_stress_target_bin, a1, a2, a3, a4, NULL};
	WlOpts o = {.timeout_ms = 10000};
	g_autofree char *err = NULL;
	Workload *w = wl_spawn_argv(argv, &o, &err);
	if (!w) {
		g_printerr("stress target did not start: %s\n", err);
		return NULL;
	}
	w->tag = tag;
	return w;
}

char *wl_read_line(Workload *w)
{
	char *line = NULL;
	int r = read_line(w, &line);
	if (r < 0) {
		g_autofree char *because = why(r);
		g_error("workload %d: no line: %s", (int)w->pid, because);
	}
	return line;
}

/* Send cmd and read the reply: 0 and *reply, or -errno. */
static int call(Workload *w, const char *cmd, char **reply)
{
	int r = tl_write_line(w->to, cmd);
	return r < 0 ? r : read_line(w, reply);
}

char *wl_call(Workload *w, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	g_autofree char *cmd = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	char *reply = NULL;
	return call(w, cmd, &reply) < 0 ? NULL : reply;
}

static char *vtry(Workload *w, const char *fmt, va_list ap)
{
	g_autofree char *cmd = g_strdup_vprintf(fmt, ap);
	char *reply = NULL;
	int r = call(w, cmd, &reply);
	if (r < 0) {
		g_autofree char *because = why(r);
		g_error("workload %d: '%s': %s", (int)w->pid, cmd, because);
	}
	return reply;
}

char *wl_try(Workload *w, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *r = vtry(w, fmt, ap);
	va_end(ap);
	return r;
}

static char *vcmd(Workload *w, const char *fmt, va_list ap)
{
	va_list copy;
	va_copy(copy, ap);
	g_autofree char *cmd = g_strdup_vprintf(fmt, copy);
	va_end(copy);
	g_autofree char *r = vtry(w, fmt, ap);
	if (strcmp(r, "ok") && !g_str_has_prefix(r, "ok "))
		g_error("workload %d: '%s' -> '%s'", (int)w->pid, cmd, r);
	return g_strdup(r[2] ? r + 3 : "");
}

char *wl_cmd(Workload *w, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *r = vcmd(w, fmt, ap);
	va_end(ap);
	return r;
}

void wl_do(Workload *w, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	g_free(vcmd(w, fmt, ap));
	va_end(ap);
}

guint64 wl_addr(Workload *w, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	g_autofree char *r = vcmd(w, fmt, ap);
	va_end(ap);
	char *end;
	guint64 a = g_ascii_strtoull(r, &end, 16);
	g_assert_true(*r && !*end);
	g_assert_cmpuint(a % tl_ps, ==, 0);
	return a;
}

static void wl_free(Workload *w)
{
	tl_untrack_pid(w->pid);
	close(w->to);
	close(w->from);
	g_free(w);
}

void wl_kill(Workload *w)
{
	if (!w)
		return;
	if (w->pid > 0) {
		kill(w->pid, SIGKILL);
		waitpid(w->pid, NULL, 0);
	}
	wl_free(w);
}

int wl_wait(Workload *w)
{
	int status = -1;
	if (w->pid > 0) {
		gboolean done = FALSE;
		for (int i = 0; i < 5000 && !done; i++) {
			done = waitpid(w->pid, &status, WNOHANG) == w->pid;
			if (!done)
				g_usleep(1000);
		}
		if (!done) {
			kill(w->pid, SIGKILL);
			waitpid(w->pid, &status, 0);
		}
	}
	wl_free(w);
	return status;
}
