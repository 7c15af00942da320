/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Page files: pages/ADDR and last/pages/ADDR, read live. */
#include <errno.h>

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

const struct sdfs_file_class sdfs_file_last_page = {.read = page_read};

/* A last/pages/ file exists while the last clear's capture holds it;
 * its mtime is the time of that clear. */
int sdfs_last_page_attr(struct sdfs_req *r, bool open_file, struct stat *st)
{
	struct sdfs_snapshot *s = sdfs_tracker_last(r->tracker);
	uint64_t addr = r->node.pageno * r->m->page_size;
	int err = 0;

	if (s && sdfs_dirtyset_contains(&s->set, addr))
		st->st_atim = st->st_mtim = st->st_ctim = s->at;
	else if (!open_file)
		err = -ENOENT;
	/* else: an open file of a page a later clear did not capture keeps
	 * reading its address (sdfs(5)) */
	sdfs_snapshot_put(s);
	return err;
}
