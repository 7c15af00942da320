/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* open, read, write, release and setattr of the tree's regular files;
 * what each one holds is its class's (nodes.c). */
#include <errno.h>
#include <fcntl.h>
#include <string.h>

#include <glib.h>

#include "file.h"
#include "trace.h"

static void file_free(struct sdfs_file *f)
{
	if (!f)
		return;
	if (f->priv_free)
		f->priv_free(f->priv);
	if (f->tracker)
		sdfs_tracker_put(f->tracker);
	g_free(f);
}

static void file_free_cb(void *p)
{
	file_free(p);
}

ssize_t sdfs_file_copy_out(char *buf, size_t size, off_t off, const char *src,
			   size_t len)
{
	if ((uint64_t)off >= len)
		return 0;
	size_t n = len - (size_t)off < size ? len - (size_t)off : size;
	memcpy(buf, src + off, n);
	return (ssize_t)n;
}

/*
 * Since Linux 6.5 splice and sendfile (busybox cat) read a direct_io
 * file through the page cache up to i_size, which is 0 for text that is
 * computed at open. Tell the kernel the length: storing the last byte
 * extends i_size (a later short read shrinks it again). read(2) does not
 * depend on it.
 */
static void tell_length(struct sdfs_mount *m, fuse_ino_t ino, size_t len)
{
	if (!len || !m->se)
		return;
	/* every text ends with a newline */
	static char nl = '\n';
	struct fuse_bufvec last = FUSE_BUFVEC_INIT(1);
	last.buf[0].mem = &nl;
	fuse_lowlevel_notify_store(m->se, ino, (off_t)len - 1, &last, 0);
}

/*
 * A class whose open made the whole file (sdfs_file_class.stored): put it
 * in the kernel's page cache before the open is answered, replacing what
 * an earlier open left there, so that the caller's reads need no round
 * trip. Whether it is there (then the open keeps the cache; otherwise the
 * kernel drops it and asks the daemon, which serves the same bytes).
 */
static bool store_content(struct sdfs_mount *m, fuse_ino_t ino,
			  const struct sdfs_file *f)
{
	if (!m->se || !f->len)
		return false;
	struct fuse_bufvec v = FUSE_BUFVEC_INIT(f->len);
	v.buf[0].mem = f->priv;
	return fuse_lowlevel_notify_store(m->se, ino, 0, &v, 0) == 0;
}

void sdfs_op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct sdfs_req r;
	struct sdfs_file *f = g_try_new0(struct sdfs_file, 1);

	if (!f) {
		sdfs_reply_errno(req, ENOMEM);
		return;
	}
	sdfs_handle_init(&f->h, file_free_cb);
	if (sdfs_ino_decode(ino, &f->node) < 0 || f->node.kind == SDFS_K_ROOT) {
		file_free(f);
		sdfs_reply_errno(req, ENOENT);
		return;
	}
	f->info = sdfs_kind(f->node.kind);
	if (f->info->dir) {
		file_free(f);
		sdfs_reply_errno(req, EISDIR);
		return;
	}
	/* only writable classes can be opened for writing (EPERM) */
	if ((fi->flags & O_ACCMODE) != O_RDONLY && !f->info->file->write) {
		file_free(f);
		sdfs_reply_errno(req, EPERM);
		return;
	}
	int err = sdfs_req_begin(&r, req, &f->node, f->info->access,
				 SDFS_REQ_TRACKER);
	if (err == 0) {
		f->tracker = sdfs_tracker_ref(r.tracker);
		if (f->info->file->open)
			err = f->info->file->open(&r, f);
	}
	sdfs_req_end(&r);
	if (err < 0) {
		file_free(f);
		sdfs_reply_err(req, err, SDFS_AT_NAME);
		return;
	}
	/* (a file read through the page cache has its true st_size: a byte
	 * stored there would be served as the page it lies in) */
	if (f->info->file->direct_io)
		tell_length(r.m, ino, f->len);
	/*
	 * Text is computed at open: its st_size (0) means nothing, so no
	 * page cache (direct_io). A page file is exactly one page, so the
	 * page cache may serve it within one open (no read past EOF, and
	 * mmap works); keep_cache = 0 drops it at every open, unless the
	 * open has just stored the file's content there.
	 */
	fi->direct_io = f->info->file->direct_io;
	fi->keep_cache = f->info->file->stored && store_content(r.m, ino, f);
	fi->fh = sdfs_handle_publish(&f->h);
	/* the open was interrupted (its caller killed): no RELEASE comes */
	if (fuse_reply_open(req, fi) == -ENOENT)
		sdfs_handle_release(fi->fh);
}

void sdfs_op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	sdfs_handle_release(fi->fh);
	sdfs_reply_errno(req, 0);
}

/*
 * One read buffer per worker thread, kept from read to read: fresh memory
 * for every read of last/image (up to 1 MiB) would be mapped, faulted in
 * page by page and unmapped each time. Freed when the thread exits; it
 * never holds more than the largest read the kernel sends.
 */
struct read_buf {
	size_t cap;
	char data[];
};
static GPrivate read_buf_key = G_PRIVATE_INIT(g_free);

static char *read_buf(size_t size)
{
	struct read_buf *b = g_private_get(&read_buf_key);

	if (!b || b->cap < size) {
		struct read_buf *n = g_try_malloc(sizeof(*n) + size);
		if (!n)
			return NULL;
		n->cap = size;
		g_private_replace(&read_buf_key, n);
		b = n;
	}
	return b->data;
}

static void op_read(fuse_req_t req, struct sdfs_file *f, size_t size, off_t off)
{
	if (off < 0) {
		sdfs_reply_errno(req, EINVAL);
		return;
	}
	char *buf = read_buf(size ? size : 1);
	if (!buf) {
		sdfs_reply_errno(req, ENOMEM);
		return;
	}
	ssize_t n = f->info->file->read(req, f, buf, size, off);
	if (n < 0)
		sdfs_reply_err(req, (int)n, SDFS_AT_FILE);
	else
		fuse_reply_buf(req, buf, (size_t)n);
}

void sdfs_op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		  struct fuse_file_info *fi)
{
	/* h is the first member of struct sdfs_file */
	struct sdfs_file *f = (struct sdfs_file *)sdfs_handle_get(fi->fh);

	if (!f) {
		sdfs_reply_errno(req, EBADF);
		return;
	}
	op_read(req, f, size, off);
	sdfs_handle_drop(&f->h);
}

/* The length of a file whose class has no lseek: all of it is data. */
static uint64_t plain_size(struct sdfs_mount *m, const struct sdfs_file *f)
{
	/* a page file, or text made at open */
	bool page = f->node.kind == SDFS_K_PAGE || f->node.kind == SDFS_K_LAST_PAGE;
	return page ? m->page_size : f->len;
}

void sdfs_op_lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence,
		   struct fuse_file_info *fi)
{
	/* h is the first member of struct sdfs_file */
	struct sdfs_file *f = (struct sdfs_file *)sdfs_handle_get(fi->fh);
	uint64_t pos = 0;
	int err = 0;

	if (!f) {
		sdfs_reply_errno(req, EBADF);
		return;
	}
	/* the kernel sends only these; ENOSYS would make it stop sending
	 * LSEEK for every file of the mount */
	if (whence != SEEK_DATA && whence != SEEK_HOLE) {
		err = -EINVAL;
	} else if (f->info->file->lseek) {
		err = f->info->file->lseek(f, off, whence, &pos);
	} else {
		uint64_t size = plain_size(mnt_of(req), f);
		if (off < 0 || (uint64_t)off >= size)
			err = -ENXIO;
		else
			pos = whence == SEEK_DATA ? (uint64_t)off : size;
	}
	if (err < 0)
		sdfs_reply_errno(req, -err);
	else
		fuse_reply_lseek(req, (off_t)pos);
	sdfs_handle_drop(&f->h);
}

void sdfs_op_write(fuse_req_t req, fuse_ino_t ino, const char *buf,
		   size_t size, off_t off, struct fuse_file_info *fi)
{
	/* h is the first member of struct sdfs_file */
	struct sdfs_file *f = (struct sdfs_file *)sdfs_handle_get(fi->fh);

	if (!f) {
		sdfs_reply_errno(req, EBADF);
		return;
	}
	int err = f->info->file->write ? f->info->file->write(req, f, buf, size)
				       : -EPERM;
	if (err < 0)
		sdfs_reply_err(req, err, SDFS_AT_FILE);
	else
		fuse_reply_write(req, size);
	sdfs_handle_drop(&f->h);
}

void sdfs_op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
		     int to_set, struct fuse_file_info *fi)
{
	struct sdfs_node n;
	struct sdfs_req r;
	struct timespec ts;
	struct stat st;

	if (sdfs_ino_decode(ino, &n) < 0) {
		sdfs_reply_errno(req, ENOENT);
		return;
	}
	/* `echo 1 > clear` truncates first: a no-op, not an error */
	const struct sdfs_kind_info *i = sdfs_kind(n.kind);
	if (!i || !i->file || !i->file->write || to_set != FUSE_SET_ATTR_SIZE ||
	    attr->st_size != 0) {
		sdfs_reply_errno(req, EPERM);
		return;
	}
	int err = sdfs_req_begin(&r, req, &n, i->access, 0);
	sdfs_req_end(&r);
	if (err < 0) {
		sdfs_reply_errno(req, -err);
		return;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	sdfs_node_attr(r.m, &n, &r.id, &ts, &st);
	fuse_reply_attr(req, &st, 0);
}
