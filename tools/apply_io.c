/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* sdfs-apply: writing into BASE (apply.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "apply.h"

const char *prog = "sdfs-apply";
FILE *apply_msgs;

FILE *msgs(void)
{
	return apply_msgs ? apply_msgs : stderr;
}

int fail(int err, const char *what, const char *name)
{
	fprintf(msgs(), "%s: %s %s: %s\n", prog, what, name, strerror(err));
	return -err;
}

int write_all(int fd, const char *buf, size_t len, uint64_t off)
{
	while (len) {
		ssize_t w = pwrite(fd, buf, len, (off_t)off);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		buf += w;
		len -= (size_t)w;
		off += (uint64_t)w;
	}
	return 0;
}

/* Up to len bytes at off into buf, fewer only at the end of the file:
 * the count, or -errno. */
ssize_t read_at(int fd, char *buf, size_t len, uint64_t off)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = pread(fd, buf + got, len - got, (off_t)(off + got));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

/* Make [off, off + len) of fd read as zeros, without changing its size:
 * a hole where the file system can punch one, written zeros elsewhere. */
int zero_range(int fd, uint64_t off, uint64_t len)
{
	static char zeros[65536];
	struct stat st;

	if (!len)
		return 0;
	if (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
		      (off_t)off, (off_t)len) == 0)
		return 0;
	if (errno != EOPNOTSUPP && errno != ENOSYS)
		return -errno;
	/* no holes here: only what lies inside the file needs zeros */
	if (fstat(fd, &st) < 0)
		return -errno;
	uint64_t end = off + len;
	if (end > (uint64_t)st.st_size)
		end = (uint64_t)st.st_size;
	for (uint64_t p = off; p < end;) {
		size_t n = end - p < sizeof(zeros) ? (size_t)(end - p)
						   : sizeof(zeros);
		int r = write_all(fd, zeros, n, p);
		if (r < 0)
			return r;
		p += n;
	}
	return 0;
}

/* p need not be aligned (pages of a stream follow its text header) */
static bool all_zero(const char *p, size_t n)
{
	size_t i = 0;

	for (; i + 8 <= n; i += 8) {
		uint64_t v;
		memcpy(&v, p + i, sizeof(v));
		if (v)
			return false;
	}
	for (; i < n; i++)
		if (p[i])
			return false;
	return true;
}

/* Write buf (len bytes at off) into BASE: runs of non-zero blocks are
 * written, runs of zero blocks punched. */
int put(int fd, const char *buf, size_t len, uint64_t off, size_t blk,
	struct stats *st)
{
	size_t i = 0;

	while (i < len) {
		/* blocks aligned on the file's offsets */
		size_t first = blk - (size_t)((off + i) % blk);
		bool zero =
			all_zero(buf + i, first < len - i ? first : len - i);
		size_t j = i;
		while (j < len) {
			size_t n = blk - (size_t)((off + j) % blk);
			if (n > len - j)
				n = len - j;
			if (all_zero(buf + j, n) != zero)
				break;
			j += n;
		}
		int r = zero ? zero_range(fd, off + i, j - i)
			     : write_all(fd, buf + i, j - i, off + i);
		if (r < 0)
			return r;
		if (zero)
			st->zero_punched += j - i;
		else
			st->written += j - i;
		i = j;
	}
	return 0;
}

/* BASE, opened for writing (created if missing), and the block size in
 * which zeros are looked for (what a punch can free): the fd, or -1
 * (reported). */
int open_base(const char *oname, size_t *blk)
{
	struct stat ost;
	int out = open(oname, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);

	if (out < 0)
		return fail(errno, "cannot open", oname), -1;
	if (fstat(out, &ost) < 0) {
		fail(errno, "cannot stat", oname);
		close(out);
		return -1;
	}
	if (!S_ISREG(ost.st_mode)) {
		fprintf(msgs(), "%s: %s is not a regular file\n", prog, oname);
		close(out);
		return -1;
	}
	*blk = ost.st_blksize >= 512 && ost.st_blksize <= 65536 &&
			       !(ost.st_blksize & (ost.st_blksize - 1))
		       ? (size_t)ost.st_blksize
		       : 4096;
	return out;
}
