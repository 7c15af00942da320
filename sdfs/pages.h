/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Reading page content of another process. */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/*
 * Read len bytes at addr in pid's memory into buf, with the calling
 * thread's credentials: process_vm_readv, and /proc/PID/mem for memory
 * without read permission. Returns len, or -ESRCH (gone), -EIO (not
 * mapped any more), -EACCES/-EPERM.
 */
ssize_t sdfs_mem_read(pid_t pid, uint64_t addr, void *buf, size_t len);

/*
 * Whether the page at addr holds data now: 1 if it is present or
 * swapped, 0 if not (not mapped, dropped, never populated), -ESRCH if the
 * address space is gone, -errno. With the caller's credentials.
 */
int sdfs_page_held(pid_t pid, uint64_t addr);
