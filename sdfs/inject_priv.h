/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Internals of syscall injection shared by inject*.c and uffd*.c. */
#pragma once

#include <linux/filter.h>
#include <stdbool.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>


/* Evaluate one classic-BPF seccomp filter on d: 0 and *ret, or -EINVAL
 * for a program this evaluator does not understand. */
int sdfs_seccomp_eval(const struct sock_filter *prog, unsigned len,
		      const struct seccomp_data *d, uint32_t *ret);
/* The result of two filters: the action of higher precedence. */
uint32_t sdfs_seccomp_combine(uint32_t a, uint32_t b);


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
