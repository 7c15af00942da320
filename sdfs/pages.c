/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Reading another process's memory: process_vm_readv, then /proc/PID/mem. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/uio.h>
#include <unistd.h>

#include "cleanup.h"
#include "pages.h"
#include "proc.h"
#include "scan.h"

static ssize_t mem_pread(pid_t pid, uint64_t addr, void *buf, size_t len)
{
	int fd = sdfs_proc_open(pid, "mem", O_RDONLY);
	if (fd < 0)
		return fd;
	size_t done = 0;
	while (done < len) {
		ssize_t r = pread(fd, (char *)buf + done, len - done,
				  (off_t)(addr + done));
		if (r < 0) {
			if (errno == EINTR)
				continue;
			int err = errno;
			close(fd);
			/* EIO: not mapped; the address space may be gone */
			return err == EFAULT ? -EIO : -err;
		}
		if (r == 0) {
			close(fd);
			return -EIO;
		}
		done += (size_t)r;
	}
	close(fd);
	return (ssize_t)len;
}

ssize_t sdfs_mem_read(pid_t pid, uint64_t addr, void *buf, size_t len)
{
	struct iovec local = {.iov_base = buf, .iov_len = len};
	struct iovec remote = {.iov_base = (void *)(uintptr_t)addr,
			       .iov_len = len};

	ssize_t r = process_vm_readv(pid, &local, 1, &remote, 1, 0);
	if (r == (ssize_t)len)
		return r;
	if (r < 0 && errno != EFAULT && errno != EIO)
		return errno == EPERM ? -EACCES : -errno;
	/* no read permission (PROT_NONE, write-only) or gone: /proc/PID/mem
	 * reads with FOLL_FORCE, and says EIO for what is not mapped */
	size_t done = r > 0 ? (size_t)r : 0;
	ssize_t m = mem_pread(pid, addr + done, (char *)buf + done, len - done);
	if (m < 0)
		return m == -EPERM ? -EACCES : m;
	return (ssize_t)len;
}

int sdfs_page_held(pid_t pid, uint64_t addr)
{
	size_t ps = sdfs_page_size();
	uint64_t e;

	sdfs_autofd int fd = sdfs_pagemap_open(pid);
	if (fd < 0)
		return fd;
	ssize_t n = pread(fd, &e, sizeof(e), (off_t)(addr / ps * 8));
	if (n < 0)
		return -errno;
	if (n != (ssize_t)sizeof(e))
		return -ESRCH; /* the address space is gone */
	/* a marker here cannot be told from swap without the mapping's
	 * sharing: take it for a page (its read gives what is there) */
	return sdfs_pagemap_is_page(e, false);
}
