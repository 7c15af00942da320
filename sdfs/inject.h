/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Make another process run one system call (DESIGN.md §3). */
#pragma once

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
