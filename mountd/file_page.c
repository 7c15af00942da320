/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Page files: pages/ADDR, read live; last/pages/ADDR, read at open (a
 * captured page that went away since is not there any more: ENOENT).
 */
#include <errno.h>

#include <glib.h>

#include "file.h"
#include "pages.h"

static ssize_t page_read(fuse_req_t req, struct sdfs_file *f, char *buf,
			 size_t size, off_t off)
{
	struct sdfs_mount *m = mnt_of(req);
	struct sdfs_cred_saved saved;

	if ((uint64_t)off >= m->page_size)
		return 0;
	size_t len = m->page_size - (size_t)off;
	if (len > size)
		len = size;
	int r = sdfs_req_enter(req, &saved);
	if (r < 0)
		return r;
	uint64_t addr = f->node.pageno * m->page_size + (uint64_t)off;
	r = sdfs_tracker_alive(f->tracker);
	if (r == 0) {
		ssize_t n = sdfs_mem_read(f->node.pid, addr, buf, len);
		r = n < 0 ? (int)n : 0;
	}
	/* read as the pid's owner only if the pid was still it */
	if (r == 0 || r == -EIO)
		r = sdfs_tracker_alive(f->tracker) < 0 ? -ESRCH : r;
	sdfs_cred_leave(&saved);
	return r < 0 ? r : (ssize_t)len;
}

const struct sdfs_file_class sdfs_file_page = {.read = page_read};

/*
 * Whether the last/pages/ file of r's node exists: the last clear
 * captured the page and it still holds data (not unmapped, not dropped).
 * 0 and the time of that clear, or -ENOENT. As the caller.
 */
static int last_page_check(struct sdfs_req *r, struct sdfs_tracker *t,
			   struct timespec *at)
{
	struct sdfs_snapshot *s = sdfs_tracker_last(t);
	uint64_t addr = r->node.pageno * r->m->page_size;
	int err = s && sdfs_dirtyset_contains(&s->set, addr) ? 0 : -ENOENT;

	if (err == 0) {
		*at = s->at;
		err = sdfs_page_held(r->node.pid, addr);
		err = err == 0 ? -ENOENT : err < 0 ? err : 0;
	}
	sdfs_snapshot_put(s);
	return err;
}

/* The page as it was at open. */
static int last_page_open(struct sdfs_req *r, struct sdfs_file *f)
{
	struct timespec at;
	size_t ps = r->m->page_size;
	int err = last_page_check(r, f->tracker, &at);

	if (err < 0)
		return err;
	char *buf = g_try_malloc(ps);
	if (!buf)
		return -ENOMEM;
	ssize_t n = sdfs_mem_read(r->node.pid, r->node.pageno * ps, buf, ps);
	/* read as the pid's owner only if the pid was still it */
	if (sdfs_tracker_alive(f->tracker) < 0)
		n = -ESRCH;
	if (n < 0) {
		g_free(buf);
		/* unmapped since the check: it has vanished */
		return n == -EIO ? -ENOENT : (int)n;
	}
	f->priv = buf;
	f->priv_free = g_free;
	f->len = ps;
	return 0;
}

static ssize_t last_page_read(fuse_req_t req, struct sdfs_file *f, char *buf,
			      size_t size, off_t off)
{
	return sdfs_file_copy_out(buf, size, off, f->priv, f->len);
}

/* A read(2) after the open is served by the kernel from the copy stored
 * at open: one round trip less per file (rsync, cat). The read hook
 * serves the same copy if the kernel dropped it in between. */
const struct sdfs_file_class sdfs_file_last_page = {
	.open = last_page_open,
	.read = last_page_read,
	.stored = true,
};

/* Its mtime is the time of the clear that captured it. Through an open
 * file it is the file's, whatever happened to the page since. */
int sdfs_last_page_attr(struct sdfs_req *r, bool open_file, struct stat *st)
{
	struct timespec at;

	if (open_file) {
		struct sdfs_snapshot *s = sdfs_tracker_last(r->tracker);
		if (s && sdfs_dirtyset_contains(&s->set,
						r->node.pageno * r->m->page_size))
			st->st_atim = st->st_mtim = st->st_ctim = s->at;
		sdfs_snapshot_put(s);
		return 0;
	}
	int err = last_page_check(r, r->tracker, &at);
	if (err == 0)
		st->st_atim = st->st_mtim = st->st_ctim = at;
	return err;
}
