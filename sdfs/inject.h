/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Make another process run one system call (docs/design.md). */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/*
 * Run syscall nr(args...) in one thread of pid, under ptrace, by pointing
 * it at an existing syscall instruction; restores every register. The
 * process is left exactly as found (a stopped process stays stopped).
 * Returns 0 with the syscall's raw return value in *ret (negative errno
 * as the kernel returns it), or -errno for failure to inject: -ESRCH
 * (gone), -EBUSY (traced by someone else), -EPERM, -ENOTSUP.
 */
int sdfs_inject_syscall(pid_t pid, long nr, const long args[6], long *ret);

/*
 * Like sdfs_inject_syscall(), for a syscall that returns a new fd in the
 * target (userfaultfd): the fd is copied into the caller with
 * pidfd_getfd() and the target's copy is closed with a second injected
 * close(), in the same ptrace session. pidfd refers to pid.
 * Returns the caller's copy (>= 0, O_CLOEXEC), or -errno; when the
 * injected syscall itself failed in the target, *ret_sys holds its raw
 * result and the return value is -ECANCELED. why (may be NULL) gets a
 * one-line reason on failure.
 */
int sdfs_inject_take_fd(pid_t pid, int pidfd, long nr, const long args[6],
			long *ret_sys, char *why, size_t why_len);

/* For the tests: microseconds the last injection in this thread held
 * the target's registers swapped (the window of inject.c's analysis),
 * and how often it had to start over (a signal or a stop came). */
uint64_t sdfs_inject_last_window_us(void);
unsigned sdfs_inject_last_retries(void);
