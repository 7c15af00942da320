/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Stop and resume every thread of a process under ptrace. */
#pragma once

#include <stddef.h>
#include <sys/types.h>

struct sdfs_frozen_thread {
	pid_t tid;
	int resume_sig; /* signal to re-deliver at detach, 0 if none */
};

struct sdfs_freeze {
	pid_t pid;
	struct sdfs_frozen_thread *threads;
	size_t n, cap;
};

/*
 * Stop every thread of pid: PTRACE_SEIZE + PTRACE_INTERRUPT each one,
 * repeated until no new thread appears. Returns 0 with all threads
 * stopped, or -errno with nothing left stopped or traced (-ESRCH: the
 * process is gone; -EBUSY: already traced by someone else and running;
 * -EPERM). -EALREADY: traced by someone else (a debugger) with every
 * thread stopped: it cannot run, so it is frozen as it is; nothing to thaw.
 */
int sdfs_freeze(pid_t pid, struct sdfs_freeze *f);

/* Resume what sdfs_freeze stopped: detach every thread, re-delivering
 * signals caught meanwhile. A process that was stopped (SIGSTOP) before
 * stays stopped. Frees f's storage. */
void sdfs_thaw(struct sdfs_freeze *f);
