/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* last/image: size, extents and reads of a snapshot's sparse file. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "image.h"

/* ---- the reader of a live process ---------------------------------------- */

void sdfs_image_proc_init(struct sdfs_image_proc *p, pid_t pid)
{
	p->pid = pid;
	p->memfd = -1;
}

void sdfs_image_proc_close(struct sdfs_image_proc *p)
{
	if (p->memfd >= 0)
		close(p->memfd);
	p->memfd = -1;
}

static ssize_t proc_vm_read(void *ctx, uint64_t addr, void *buf, size_t len)
{
	struct sdfs_image_proc *p = ctx;
	struct iovec local = {.iov_base = buf, .iov_len = len};
	struct iovec remote = {.iov_base = (void *)(uintptr_t)addr,
			       .iov_len = len};

	ssize_t r = process_vm_readv(p->pid, &local, 1, &remote, 1, 0);
	if (r >= 0)
		return r;
	return errno == EPERM ? -EACCES : -errno;
}

static ssize_t proc_mem_read(void *ctx, uint64_t addr, void *buf, size_t len)
{
	struct sdfs_image_proc *p = ctx;

	if (p->memfd < 0) {
		int fd = sdfs_proc_open(p->pid, "mem", O_RDONLY);
		if (fd < 0)
			return fd == -EPERM ? -EACCES : fd;
		p->memfd = fd;
	}
	for (;;) {
		ssize_t r = pread(p->memfd, buf, len, (off_t)addr);
		if (r > 0)
			return r;
		if (r == 0)
			return -EIO; /* the address space is gone */
		if (errno != EINTR)
			return errno == EPERM ? -EACCES : -errno;
	}
}

static ssize_t proc_vm_readv(void *ctx, const struct sdfs_image_piece *pc,
			     size_t n)
{
	struct sdfs_image_proc *p = ctx;
	struct iovec local[SDFS_IMAGE_MAX_PIECES],
		remote[SDFS_IMAGE_MAX_PIECES];

	if (n > SDFS_IMAGE_MAX_PIECES)
		n = SDFS_IMAGE_MAX_PIECES;
	for (size_t i = 0; i < n; i++) {
		local[i] = (struct iovec){.iov_base = pc[i].out,
					  .iov_len = pc[i].len};
		remote[i] = (struct iovec){
			.iov_base = (void *)(uintptr_t)pc[i].addr,
			.iov_len = pc[i].len};
	}
	ssize_t r = process_vm_readv(p->pid, local, n, remote, n, 0);
	if (r >= 0)
		return r;
	return errno == EPERM ? -EACCES : -errno;
}

struct sdfs_image_reader sdfs_image_proc_reader(struct sdfs_image_proc *p)
{
	return (struct sdfs_image_reader){.vm_read = proc_vm_read,
					  .mem_read = proc_mem_read,
					  .vm_readv = proc_vm_readv,
					  .ctx = p};
}

/* ---- size and extents ---------------------------------------------------- */

uint64_t sdfs_image_size(const struct sdfs_dirtyset *s)
{
	/* the pending run, when there is one, is the last */
	if (s->has_pend)
		return s->pend.end;
	return s->nenc ? s->enc_end : 0;
}

uint64_t sdfs_image_blocks(const struct sdfs_dirtyset *s, size_t page_size)
{
	return s->pages * (page_size / 512);
}

int sdfs_image_seek(const struct sdfs_dirtyset *s, off_t off, int whence,
		    uint64_t *ret)
{
	struct sdfs_run_iter it;
	struct sdfs_run r;

	if (whence != SEEK_DATA && whence != SEEK_HOLE)
		return -EINVAL;
	if (off < 0 || (uint64_t)off >= sdfs_image_size(s))
		return -ENXIO;
	/* the first run that ends after off: there is one below the size */
	sdfs_dirtyset_seek(s, (uint64_t)off, &it);
	if (!sdfs_run_iter_next(&it, &r))
		return -ENXIO;
	if (whence == SEEK_DATA) {
		*ret = r.start > (uint64_t)off ? r.start : (uint64_t)off;
		return 0;
	}
	if (r.start > (uint64_t)off) {
		*ret = (uint64_t)off;
		return 0;
	}
	/* runs of two mappings may touch: one extent */
	uint64_t end = r.end;
	while (sdfs_run_iter_next(&it, &r) && r.start == end)
		end = r.end;
	*ret = end;
	return 0;
}

/* ---- reading ------------------------------------------------------------- */

static int is_fault(ssize_t r)
{
	return r == -EFAULT || r == -EIO;
}

/* Fill buf with the bytes of [a, b), all inside one run. */
static int read_piece(const struct sdfs_image_reader *rd, size_t ps, uint64_t a,
		      uint64_t b, char *buf)
{
	uint64_t p = a;

	while (p < b) {
		ssize_t n = rd->vm_read(rd->ctx, p, buf + (p - a), b - p);
		if (n > 0) {
			p += (uint64_t)n;
			continue;
		}
		if (n < 0 && !is_fault(n))
			return (int)n;
		/* the page at p cannot be read so: no read permission, or
		 * not mapped any more */
		n = rd->mem_read(rd->ctx, p, buf + (p - a), b - p);
		if (n > 0) {
			p += (uint64_t)n;
			continue;
		}
		if (n < 0 && !is_fault(n))
			return (int)n;
		/* gone: reads as zeros (the next clear drops it) */
		uint64_t q = (p / ps + 1) * ps;
		if (q > b)
			q = b;
		memset(buf + (p - a), 0, q - p);
		p = q;
	}
	return 0;
}

int sdfs_image_gather(const struct sdfs_image_reader *rd, size_t page_size,
		      const struct sdfs_image_piece *pc, size_t n)
{
	size_t i = 0;

	while (i < n) {
		ssize_t got = -EFAULT;
		if (rd->vm_readv) {
			size_t k = n - i < SDFS_IMAGE_MAX_PIECES
					   ? n - i
					   : SDFS_IMAGE_MAX_PIECES;
			got = rd->vm_readv(rd->ctx, pc + i, k);
			if (got < 0 && !is_fault(got))
				return (int)got;
		}
		/* the pieces it read whole */
		size_t done = got > 0 ? (size_t)got : 0;
		while (i < n && done >= pc[i].len) {
			done -= pc[i].len;
			i++;
		}
		if (i == n)
			break;
		if (rd->vm_readv && got > 0 && done == 0)
			continue; /* it stopped between two pieces: go on */
		/* the piece where it stopped, the slow way from there */
		int e = read_piece(rd, page_size, pc[i].addr + done,
				   pc[i].addr + pc[i].len, pc[i].out + done);
		if (e < 0)
			return e;
		i++;
	}
	return 0;
}

ssize_t sdfs_image_read(const struct sdfs_dirtyset *s, size_t page_size,
			const struct sdfs_image_reader *rd, uint64_t off,
			void *buf, size_t len)
{
	uint64_t size = sdfs_image_size(s);
	struct sdfs_image_piece pc[257]; /* a 1 MiB read from inside a page */
	struct sdfs_run_iter it;
	struct sdfs_run r;
	size_t n = 0;
	char *out = buf;

	if (off >= size)
		return 0;
	if (len > size - off)
		len = (size_t)(size - off);
	uint64_t end = off + len, p = off;
	sdfs_dirtyset_seek(s, off, &it);
	while (p < end && sdfs_run_iter_next(&it, &r) && r.start < end) {
		uint64_t a = r.start > p ? r.start : p;
		uint64_t b = r.end < end ? r.end : end;
		memset(out + (p - off), 0, a - p);
		pc[n++] = (struct sdfs_image_piece){.addr = a,
						    .len = (size_t)(b - a),
						    .out = out + (a - off)};
		if (n == sizeof(pc) / sizeof(pc[0])) {
			int e = sdfs_image_gather(rd, page_size, pc, n);
			if (e < 0)
				return e;
			n = 0;
		}
		p = b;
	}
	int e = sdfs_image_gather(rd, page_size, pc, n);
	if (e < 0)
		return e;
	memset(out + (p - off), 0, end - p);
	return (ssize_t)len;
}
