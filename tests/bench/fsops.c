/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What `cat`, `ls` and `echo 1 >` do, in-process, for precise timing. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench.h"

#define CAT_BUF (128 * 1024) /* what coreutils cat reads with */

int read_whole(const char *path, struct sbuf *b)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	b->len = 0;
	for (;;) {
		sbuf_reserve(b, CAT_BUF);
		ssize_t n = read(fd, b->p + b->len, CAT_BUF);
		if (n < 0) {
			int e = errno;
			close(fd);
			return -e;
		}
		if (n == 0)
			break;
		b->len += (size_t)n;
	}
	close(fd);
	b->p[b->len] = '\0'; /* room: the last read left CAT_BUF free */
	return 0;
}

int cat_dir(const char *dir, uint64_t *files, uint64_t *bytes)
{
	static char *buf;
	if (!buf)
		buf = malloc(CAT_BUF);
	*files = *bytes = 0;
	DIR *d = opendir(dir);
	if (!d)
		return -errno;
	int dfd = dirfd(d);
	struct dirent *de;
	int r = 0;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		int fd = openat(dfd, de->d_name, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			r = -errno;
			break;
		}
		ssize_t n;
		while ((n = read(fd, buf, CAT_BUF)) > 0)
			*bytes += (uint64_t)n;
		if (n < 0)
			r = -errno;
		close(fd);
		if (r)
			break;
		(*files)++;
	}
	closedir(d);
	return r;
}

int list_dir(const char *dir, bool with_stat, uint64_t *entries)
{
	*entries = 0;
	DIR *d = opendir(dir);
	if (!d)
		return -errno;
	int dfd = dirfd(d);
	struct dirent *de;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		struct stat st;
		/* a process may exit between readdir and stat: not an error */
		if (with_stat)
			fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW);
		(*entries)++;
	}
	closedir(d);
	return 0;
}

int write_clear(const char *path)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int r = write(fd, "1\n", 2) == 2 ? 0 : -errno;
	if (close(fd) < 0 && !r)
		r = -errno;
	return r;
}

long long status_value(const char *path, const char *key)
{
	struct sbuf b = {0};
	long long v = -1;
	size_t kl = strlen(key);

	if (read_whole(path, &b) == 0) {
		sbuf_reserve(&b, 1);
		b.p[b.len] = '\0';
		for (char *l = b.p; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
			if (!strncmp(l, key, kl) && l[kl] == ':') {
				v = strtoll(l + kl + 1, NULL, 10);
				break;
			}
	}
	sbuf_free(&b);
	return v;
}
