/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Stop every thread of a process with PTRACE_SEIZE + PTRACE_INTERRUPT.
 * SEIZE (unlike ATTACH) sends no SIGSTOP, so nothing of the process's own
 * job-control state changes; a process that was group-stopped before
 * re-enters its group stop when we detach (the kernel re-arms it), so it
 * runs none of its own code in between.
 */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <glib.h>

#include "freeze.h"
#include "proc.h"

#define STOP_TIMEOUT_NS (2ULL * 1000 * 1000 * 1000)

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static bool have_thread(const struct sdfs_freeze *f, pid_t tid)
{
	for (size_t i = 0; i < f->n; i++)
		if (f->threads[i].tid == tid)
			return true;
	return false;
}

static int add_thread(struct sdfs_freeze *f, pid_t tid)
{
	if (f->n == f->cap) {
		size_t cap = f->cap ? f->cap * 2 : 16;
		void *nt = reallocarray(f->threads, cap, sizeof(*f->threads));
		if (!nt)
			return -ENOMEM;
		f->threads = nt;
		f->cap = cap;
	}
	f->threads[f->n++] = (struct sdfs_frozen_thread){.tid = tid};
	return 0;
}

/* Whether tid is traced by somebody (TracerPid in its status). */
static bool traced_by_other(pid_t pid, pid_t tid)
{
	char path[64];
	g_autofree char *buf = NULL;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/status", (int)pid,
		 (int)tid);
	if (sdfs_read_file(path, &buf, NULL) < 0)
		return false;
	const char *t = strstr(buf, "\nTracerPid:");
	return t && atoi(t + 11) != 0;
}

/*
 * Wait until tid reports a stop. Returns 0 (stopped; a signal that
 * arrived meanwhile is kept for re-delivery), 1 (the thread is gone), or
 * -errno.
 */
static int wait_stopped(struct sdfs_frozen_thread *t, uint64_t deadline)
{
	unsigned delay_us = 20;

	for (;;) {
		int status;
		pid_t r = waitpid(t->tid, &status, __WALL | WNOHANG);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return errno == ECHILD ? 1 : -errno;
		}
		if (r == t->tid) {
			if (WIFEXITED(status) || WIFSIGNALED(status))
				return 1;
			if (!WIFSTOPPED(status))
				continue;
			int sig = WSTOPSIG(status);
			int event = status >> 16;
			if (event == PTRACE_EVENT_STOP)
				return 0; /* interrupt or group stop */
			if (sig != SIGTRAP || event == 0) {
				/* signal-delivery-stop: stopped, and the
				 * signal goes back at detach */
				t->resume_sig = sig;
				return 0;
			}
			return 0;
		}
		if (now_ns() > deadline)
			return -EBUSY;
		usleep(delay_us);
		if (delay_us < 1000)
			delay_us *= 2;
	}
}

static int list_threads(pid_t pid, GArray *tids)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	DIR *d = opendir(path);
	if (!d)
		return -ESRCH;
	struct dirent *de;
	while ((de = readdir(d))) {
		pid_t tid = sdfs_parse_pid_name(de->d_name);
		if (tid > 0)
			g_array_append_val(tids, tid);
	}
	closedir(d);
	return 0;
}

/* Whether every thread of pid is already stopped (by a debugger or
 * job control): then it runs no code and needs no freezing. */
static bool all_stopped(pid_t pid)
{
	g_autoptr(GArray) tids = g_array_new(false, false, sizeof(pid_t));

	if (list_threads(pid, tids) < 0 || tids->len == 0)
		return false;
	for (guint i = 0; i < tids->len; i++) {
		char path[64];
		g_autofree char *buf = NULL;
		size_t len;
		struct sdfs_stat st;
		pid_t tid = g_array_index(tids, pid_t, i);

		snprintf(path, sizeof(path), "/proc/%d/task/%d/stat", (int)pid,
			 (int)tid);
		if (sdfs_read_file(path, &buf, &len) < 0 ||
		    sdfs_stat_parse(buf, len, &st) < 0)
			return false;
		if (st.state != 't' && st.state != 'T')
			return false;
	}
	return true;
}

int sdfs_freeze(pid_t pid, struct sdfs_freeze *f)
{
	uint64_t deadline = now_ns() + STOP_TIMEOUT_NS;
	int err = 0;

	memset(f, 0, sizeof(*f));
	f->pid = pid;
	for (;;) {
		g_autoptr(GArray) tids = g_array_new(false, false, sizeof(pid_t));
		size_t first_new = f->n;

		err = list_threads(pid, tids);
		if (err < 0)
			goto fail;
		for (guint i = 0; i < tids->len; i++) {
			pid_t tid = g_array_index(tids, pid_t, i);
			if (have_thread(f, tid))
				continue;
			/* room first: a seized thread must always be recorded */
			err = add_thread(f, tid);
			if (err < 0)
				goto fail;
			if (ptrace(PTRACE_SEIZE, tid, 0, 0) < 0) {
				f->n--;
				if (errno == ESRCH)
					continue; /* exited meanwhile */
				if (errno == EPERM && traced_by_other(pid, tid))
					err = -EBUSY;
				else
					err = -errno;
				goto fail;
			}
			if (ptrace(PTRACE_INTERRUPT, tid, 0, 0) < 0 &&
			    errno != ESRCH) {
				err = -errno;
				goto fail;
			}
		}
		if (f->n == first_new)
			break; /* every thread listed is ours and stopped */
		for (size_t i = first_new; i < f->n;) {
			int r = wait_stopped(&f->threads[i], deadline);
			if (r < 0) {
				err = r;
				goto fail;
			}
			if (r == 1) {
				/* gone: drop it */
				f->threads[i] = f->threads[--f->n];
				continue;
			}
			i++;
		}
	}
	if (f->n == 0) {
		err = -ESRCH;
		goto fail;
	}
	return 0;
fail:
	sdfs_thaw(f);
	/* a process stopped by a debugger is frozen already */
	if (err == -EBUSY && all_stopped(pid))
		return -EALREADY;
	return err;
}

void sdfs_thaw(struct sdfs_freeze *f)
{
	for (size_t i = 0; i < f->n; i++) {
		struct sdfs_frozen_thread *t = &f->threads[i];
		if (ptrace(PTRACE_DETACH, t->tid, 0, t->resume_sig) < 0) {
			/*
			 * Not in a ptrace stop: either it died (reap the
			 * ptrace side of the zombie) or the interrupt has not
			 * landed yet (wait for it, then detach).
			 */
			int status;
			pid_t r = waitpid(t->tid, &status, __WALL);
			if (r == t->tid && WIFSTOPPED(status))
				ptrace(PTRACE_DETACH, t->tid, 0,
				       t->resume_sig ? t->resume_sig
						     : (WSTOPSIG(status) != SIGTRAP &&
								(status >> 16) == 0
							? WSTOPSIG(status)
							: 0));
		}
	}
	free(f->threads);
	f->threads = NULL;
	f->n = f->cap = 0;
}
