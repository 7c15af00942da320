/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * last/image: the pages the last clear captured, as one sparse file whose
 * offsets are the process's addresses (sdfs(5)). An open file keeps the
 * capture of the clear before its open: its extents, size and reads
 * stay consistent for a copy that runs across a later clear.
 */
#include <errno.h>

#include <glib.h>

#include "file.h"
#include "image.h"

/* before the first clear: no page */
static const struct sdfs_dirtyset empty_set;

static void snap_free(void *p)
{
	sdfs_snapshot_put(p);
}

static const struct sdfs_dirtyset *set_of(const struct sdfs_file *f)
{
	const struct sdfs_snapshot *s = f->priv;
	return s ? &s->set : &empty_set;
}

static int image_open(struct sdfs_req *r, struct sdfs_file *f)
{
	f->priv = sdfs_tracker_last(f->tracker);
	f->priv_free = snap_free;
	return 0;
}

ssize_t sdfs_bulk_read(fuse_req_t req, struct sdfs_file *f,
		       sdfs_bulk_fill_fn fill, const void *src, char *buf,
		       size_t size, off_t off)
{
	struct sdfs_cred_saved saved;
	int err = sdfs_req_enter(req, &saved);

	if (err < 0)
		return err;
	ssize_t n = sdfs_tracker_alive(f->tracker);
	if (n == 0) {
		struct sdfs_image_proc p;
		sdfs_image_proc_init(&p, f->node.pid);
		struct sdfs_image_reader rd = sdfs_image_proc_reader(&p);
		n = fill(src, &rd, (uint64_t)off, buf, size);
		sdfs_image_proc_close(&p);
		/* what was read came from the process only if the pid was
		 * still it */
		if (sdfs_tracker_alive(f->tracker) < 0)
			n = -ESRCH;
	}
	sdfs_cred_leave(&saved);
	return n;
}

/* What an image read needs besides the reader. */
struct image_src {
	const struct sdfs_dirtyset *set;
	size_t page_size;
};

static ssize_t image_fill(const void *src, const struct sdfs_image_reader *rd,
			  uint64_t off, void *buf, size_t size)
{
	const struct image_src *s = src;
	return sdfs_image_read(s->set, s->page_size, rd, off, buf, size);
}

static ssize_t image_read(fuse_req_t req, struct sdfs_file *f, char *buf,
			  size_t size, off_t off)
{
	struct image_src src = {set_of(f), mnt_of(req)->page_size};

	if ((uint64_t)off >= sdfs_image_size(src.set))
		return 0;
	return sdfs_bulk_read(req, f, image_fill, &src, buf, size, off);
}

static int image_lseek(struct sdfs_file *f, off_t off, int whence,
		       uint64_t *ret)
{
	return sdfs_image_seek(set_of(f), off, whence, ret);
}

const struct sdfs_file_class sdfs_file_last_image = {
	.open = image_open,
	.read = image_read,
	.lseek = image_lseek,
	/* reads go to the process, in the kernel's largest pieces */
	.direct_io = true,
};

/* Size and blocks of the last capture (empty before the first clear);
 * mtime the time of that clear. */
int sdfs_last_image_attr(struct sdfs_req *r, bool open_file, struct stat *st)
{
	struct sdfs_snapshot *s = sdfs_tracker_last(r->tracker);
	if (s) {
		st->st_size = (off_t)sdfs_image_size(&s->set);
		st->st_blocks =
			(blkcnt_t)sdfs_image_blocks(&s->set, r->m->page_size);
		st->st_atim = st->st_mtim = st->st_ctim = s->at;
	}
	st->st_blksize = SDFS_BULK_IO_SIZE;
	sdfs_snapshot_put(s);
	return 0;
}
