/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * last/image (sdfs(5)): the pages of a snapshot as one sparse file whose
 * offsets are the process's virtual addresses. This part needs no FUSE:
 * the file's size and blocks, its extents for SEEK_DATA / SEEK_HOLE, and
 * the read of [off, off + len) -- one process_vm_readv per run of pages
 * (per piece of a run inside the range), zeros in the holes and for
 * captured pages that are no longer mapped.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "ranges.h"

/*
 * How the read reaches the process's memory. Both functions read up to
 * len bytes at addr into buf and return how many they read from addr on
 * (short: up to the first page they could not read), or -errno. -EFAULT
 * and -EIO mean that nothing can be read at addr; any other error ends
 * the read.
 *   vm_read:  process_vm_readv (the fast path);
 *   mem_read: /proc/PID/mem, for what vm_read cannot read (mappings
 *             without read permission).
 */
struct sdfs_image_piece;
struct sdfs_image_reader {
	ssize_t (*vm_read)(void *ctx, uint64_t addr, void *buf, size_t len);
	ssize_t (*mem_read)(void *ctx, uint64_t addr, void *buf, size_t len);
	/* optional: vm_read of n pieces at once (one process_vm_readv);
	 * the bytes read from the first piece on, up to the first page
	 * it could not read, or -errno as vm_read */
	ssize_t (*vm_readv)(void *ctx, const struct sdfs_image_piece *pc,
			    size_t n);
	void *ctx;
};

/* A piece of a read: len bytes at addr, into out. */
struct sdfs_image_piece {
	uint64_t addr;
	size_t len;
	char *out;
};

/* Pieces handed to one vm_readv at most (the kernel's IOV_MAX). */
#define SDFS_IMAGE_MAX_PIECES 1024

/* The reader of a live process, with the calling thread's credentials;
 * /proc/PID/mem is opened when first needed and kept until close. */
struct sdfs_image_proc {
	pid_t pid;
	int memfd; /* -1: not open */
};
void sdfs_image_proc_init(struct sdfs_image_proc *p, pid_t pid);
void sdfs_image_proc_close(struct sdfs_image_proc *p);
struct sdfs_image_reader sdfs_image_proc_reader(struct sdfs_image_proc *p);

/* st_size: the end of the highest page of s (0 if s is empty). */
uint64_t sdfs_image_size(const struct sdfs_dirtyset *s);

/* st_blocks: 512-byte blocks of the pages of s. */
uint64_t sdfs_image_blocks(const struct sdfs_dirtyset *s, size_t page_size);

/*
 * lseek(2) with SEEK_DATA or SEEK_HOLE at off: the data extents are the
 * runs of s (adjacent runs make one extent), everything else up to the
 * size is a hole, and there is an implicit hole at the end. Sets *ret
 * and returns 0, or -ENXIO (off < 0 or off >= size), -EINVAL (another
 * whence).
 */
int sdfs_image_seek(const struct sdfs_dirtyset *s, off_t off, int whence,
		    uint64_t *ret);

/*
 * Fill buf with [off, off + len) of the image, clipped at its size:
 * the runs of s inside the range are read with rd (sdfs_image_gather:
 * one vm_readv for all of them if the pages are readable; mem_read from the
 * first page it could not read; zeros for a page neither can read), holes are
 * zeros. Returns the bytes filled (0 at or past the end), or the -errno of a
 * reader that failed otherwise than EFAULT / EIO (e.g. -ESRCH, -EACCES).
 */
ssize_t sdfs_image_read(const struct sdfs_dirtyset *s, size_t page_size,
			const struct sdfs_image_reader *rd, uint64_t off,
			void *buf, size_t len);

/*
 * Fill the n pieces pc (each inside one run of pages) as sdfs_image_read
 * fills a run: vm_readv over as many pieces as it reads at once (vm_read
 * per piece without it); from the page where it stops, mem_read, then
 * zeros. 0, or the -errno of a reader that failed otherwise than
 * EFAULT / EIO.
 */
int sdfs_image_gather(const struct sdfs_image_reader *rd, size_t page_size,
		      const struct sdfs_image_piece *pc, size_t n);
