/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Internals of syscall injection shared by inject*.c and uffd*.c. */
#pragma once

#include <linux/filter.h>
#include <stdbool.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

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

/* Evaluate one classic-BPF seccomp filter on d: 0 and *ret, or -EINVAL
 * for a program this evaluator does not understand. */
int sdfs_seccomp_eval(const struct sock_filter *prog, unsigned len,
		      const struct seccomp_data *d, uint32_t *ret);
/* The result of two filters: the action of higher precedence. */
uint32_t sdfs_seccomp_combine(uint32_t a, uint32_t b);

/* Test hooks: microseconds the last injection in this thread held the
 * target's registers swapped (the window of inject.c's analysis). */
uint64_t sdfs_inject_last_window_us(void);
/* ... and how often it had to start over (a signal or a stop came). */
unsigned sdfs_inject_last_retries(void);

/* ---- between sdfs and the injector process (inject*.c only) ---- */

/* Why an injection failed, sent by the injector to sdfs for the log. */
enum inj_why {
	WHY_NONE,
	WHY_TRACED,
	WHY_SEIZE,
	WHY_STOP_TIMEOUT,
	WHY_GONE,
	WHY_COMPAT,
	WHY_INSN_CHANGED,
	WHY_SECCOMP_STRICT,
	WHY_SECCOMP_UNREADABLE,
	WHY_SECCOMP_BLOCKS,
	WHY_SECCOMP_UNKNOWN,
	WHY_SIGNALS,
	WHY_PTRACE,
	WHY_GETFD,
};

struct inj_job {
	pid_t pid, tid;
	uint64_t insn; /* address of a syscall instruction in the target */
	long nr;
	long args[6];
	bool take_fd;
	int pidfd;
};

struct inj_reply {
	int err; /* 0, or -errno: the injection itself failed */
	int why;
	uint32_t seccomp_action;
	long ret;	/* raw result of the syscall */
	long close_ret; /* take_fd: raw result of the injected close() */
	int getfd_err;
	uint64_t window_ns;
	unsigned retries; /* signals or stops that made us start over */
};

/* The injector: run job in the forked child, reply on sock, _exit. Only
 * raw syscalls (the parent may be multi-threaded). */
_Noreturn void sdfs_injector_main(const struct inj_job *job, int sock);
