/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"

void tgt_start(struct tgt *t)
{
	int in[2], out[2];
	g_assert_cmpint(pipe2(in, O_CLOEXEC), ==, 0);
	g_assert_cmpint(pipe2(out, O_CLOEXEC), ==, 0);
	t->pid = fork();
	g_assert_cmpint(t->pid, >=, 0);
	if (t->pid == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		/* SDFS_UFFD_TARGET: where a VM guest has it (a path under
		 * /tmp on the host is hidden by the guest's own /tmp) */
		const char *tp = getenv("SDFS_UFFD_TARGET");
		if (!tp || !*tp)
			tp = TARGET_PATH;
		execl(tp, tp, (char *)NULL);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	t->in = fdopen(in[1], "w");
	t->out = fdopen(out[0], "r");
	setvbuf(t->in, NULL, _IOLBF, 0);
	t->pidfd = (int)syscall(SYS_pidfd_open, t->pid, 0);
	g_assert_cmpint(t->pidfd, >=, 0);
	g_autofree char *r = tgt_cmd(t, "ping");
	g_assert_cmpstr(r, ==, "pong");
}

static char *vcmd(struct tgt *t, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));
static char *vcmd(struct tgt *t, const char *fmt, va_list ap)
{
	char line[512];
	vfprintf(t->in, fmt, ap);
	fputc('\n', t->in);
	fflush(t->in);
	if (!fgets(line, sizeof(line), t->out))
		return g_strdup("<eof>");
	line[strcspn(line, "\n")] = 0;
	return g_strdup(line);
}

char *tgt_cmd(struct tgt *t, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *r = vcmd(t, fmt, ap);
	va_end(ap);
	return r;
}

uint64_t tgt_cmd_hex(struct tgt *t, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	g_autofree char *r = vcmd(t, fmt, ap);
	va_end(ap);
	return g_ascii_strtoull(r, NULL, 16);
}

void tgt_stop(struct tgt *t)
{
	if (t->pid <= 0)
		return;
	kill(t->pid, SIGKILL);
	waitpid(t->pid, NULL, 0);
	fclose(t->in);
	fclose(t->out);
	close(t->pidfd);
	t->pid = 0;
}

char proc_state(pid_t pid)
{
	char path[64], buf[512];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	char *p = strrchr(buf, ')');
	return p && p[1] && p[2] ? p[2] : 0;
}

bool wait_state(pid_t pid, const char *states)
{
	for (int i = 0; i < 500; i++) {
		char s = proc_state(pid);
		if (s && strchr(states, s))
			return true;
		usleep(10000);
	}
	return false;
}

int count_uffds(pid_t pid)
{
	char path[64], link[256];
	int n = 0;
	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	DIR *d = opendir(path);
	if (!d)
		return -1;
	struct dirent *de;
	while ((de = readdir(d))) {
		char p[512];
		snprintf(p, sizeof(p), "%s/%s", path, de->d_name);
		ssize_t l = readlink(p, link, sizeof(link) - 1);
		if (l > 0) {
			link[l] = 0;
			if (strstr(link, "userfaultfd"))
				n++;
		}
	}
	closedir(d);
	return n;
}
