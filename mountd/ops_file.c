/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* open, read, write and release of clear, dirty_ranges, status, pages. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <string.h>

#include <glib.h>

#include "clearparse.h"
#include "ops.h"
#include "pages.h"
#include "rangetext.h"
#include "scan.h"
#include "render.h"

struct fileh {
	struct sdfs_handle h; /* first: retired and freed through it */
	struct sdfs_node node;
	struct sdfs_tracker *tracker;
	struct sdfs_text *text; /* rendered at open: status, clear */
	/* dirty_ranges and last/dirty_ranges: the set read at open (own, or
	 * the snapshot's), its text made as it is read */
	bool ranges;
	struct sdfs_dirtyset own;
	struct sdfs_snapshot *snap;
	struct sdfs_rangetext rt;
	GMutex rt_lock; /* the cursor of rt */
};

static void fileh_free(struct fileh *f)
{
	if (!f)
		return;
	if (f->ranges) {
		sdfs_rangetext_free(&f->rt);
		g_mutex_clear(&f->rt_lock);
	}
	sdfs_dirtyset_free(&f->own);
	sdfs_snapshot_put(f->snap);
	if (f->tracker)
		sdfs_tracker_put(f->tracker);
	if (f->text)
		sdfs_text_free(f->text);
	g_free(f);
}

static void fileh_free_cb(void *p)
{
	fileh_free(p);
}

static int count_fn(void *ctx, const struct sdfs_vma *vma, uint64_t start,
		    uint64_t end)
{
	*(uint64_t *)ctx += (end - start) / sdfs_page_size();
	return 0;
}

/* The dirty set of a dirty_ranges file, and its text on demand. */
static int open_ranges(struct fileh *f)
{
	const struct sdfs_dirtyset *set = &f->own;

	sdfs_dirtyset_init(&f->own);
	if (f->node.kind == SDFS_K_DIRTY) {
		int r = -EAGAIN;
		for (int i = 0; i < SDFS_SCAN_RETRIES && r == -EAGAIN; i++) {
			sdfs_dirtyset_clear(&f->own);
			r = sdfs_tracker_scan(f->tracker, 0, UINT64_MAX,
					      sdfs_scan_collect_fn, &f->own);
		}
		if (r < 0)
			return r;
	} else {
		f->snap = sdfs_tracker_last(f->tracker);
		if (f->snap)
			set = &f->snap->set;
	}
	if (sdfs_rangetext_init(&f->rt, set) < 0)
		return -ENOMEM;
	g_mutex_init(&f->rt_lock);
	f->ranges = true;
	return 0;
}

/* Render the text of a text file into f->text. */
static int render(struct fileh *f)
{
	if (f->node.kind == SDFS_K_DIRTY || f->node.kind == SDFS_K_LAST_DIRTY)
		return open_ranges(f);
	f->text = sdfs_text_new();
	if (!f->text)
		return -ENOMEM;
	switch (f->node.kind) {
	case SDFS_K_STATUS: {
		struct sdfs_tracker_info info;
		uint64_t dirty = 0;
		int r = -EAGAIN;
		for (int i = 0; i < SDFS_SCAN_RETRIES && r == -EAGAIN; i++) {
			dirty = 0;
			r = sdfs_tracker_scan(f->tracker, 0, UINT64_MAX,
					      count_fn, &dirty);
		}
		if (r < 0)
			return r;
		sdfs_tracker_info(f->tracker, &info);
		sdfs_render_status(f->text, &info, dirty);
		return 0;
	}
	case SDFS_K_CLEAR: {
		struct sdfs_tracker_info info;
		sdfs_tracker_info(f->tracker, &info);
		sdfs_text_printf(f->text, "%" PRIu64 "\n", info.epoch);
		return 0;
	}
	default:
		sdfs_text_free(f->text);
		f->text = NULL;
		return 0;
	}
}

void sdfs_op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct sdfs_mount *m = mnt_of(req);
	struct sdfs_cred_saved saved;
	struct sdfs_proc_id id;
	struct fileh *f = g_try_new0(struct fileh, 1);
	int r;

	if (!f) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	sdfs_handle_init(&f->h, fileh_free_cb);
	if (sdfs_ino_decode(ino, &f->node) < 0 || f->node.kind == SDFS_K_ROOT) {
		fileh_free(f);
		fuse_reply_err(req, ENOENT);
		return;
	}
	if (sdfs_kind_is_dir(f->node.kind)) {
		fileh_free(f);
		fuse_reply_err(req, EISDIR);
		return;
	}
	/* only clear can be written (SPEC §3.5: EPERM for the others) */
	if ((fi->flags & O_ACCMODE) != O_RDONLY && f->node.kind != SDFS_K_CLEAR) {
		fileh_free(f);
		fuse_reply_err(req, EPERM);
		return;
	}
	r = sdfs_req_enter(req, &saved);
	if (r < 0) {
		fileh_free(f);
		fuse_reply_err(req, -r);
		return;
	}
	r = sdfs_req_process(m, f->node.pid, sdfs_node_access(f->node.kind), &id);
	if (r == 0)
		r = sdfs_req_tracker(m, &id, &f->tracker);
	if (r == 0)
		r = render(f);
	if (r == 0 && f->text && f->text->failed)
		r = -ENOMEM;
	sdfs_cred_leave(&saved);
	if (r < 0) {
		fileh_free(f);
		fuse_reply_err(req, r == -ESRCH ? ENOENT : -r);
		return;
	}
	/*
	 * Since Linux 6.5 splice and sendfile (busybox cat) read a direct_io
	 * file through the page cache up to i_size, which is 0 for text that
	 * is computed at open. Tell the kernel the length: storing the last
	 * byte extends i_size (a later short read shrinks it again). read(2)
	 * does not depend on it.
	 */
	size_t tlen = f->text ? f->text->len : f->ranges ? f->rt.len : 0;
	if (tlen && m->se) {
		/* every text ends with a newline */
		static char nl = '\n';
		struct fuse_bufvec last = FUSE_BUFVEC_INIT(1);
		last.buf[0].mem = &nl;
		fuse_lowlevel_notify_store(m->se, ino, (off_t)tlen - 1, &last,
					   0);
	}
	/*
	 * Text is computed here: its st_size (0) means nothing, so no page
	 * cache (direct_io). A page file is exactly one page, so the page
	 * cache may serve it within one open (no read past EOF, and mmap
	 * works); keep_cache = 0 drops it at every open, so reads are live.
	 */
	fi->direct_io = f->text || f->ranges ? 1 : 0;
	fi->keep_cache = 0;
	fi->fh = sdfs_handle_publish(&f->h);
	/* the open was interrupted (its caller killed): no RELEASE comes */
	if (fuse_reply_open(req, fi) == -ENOENT)
		sdfs_handle_release(fi->fh);
}

void sdfs_op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	sdfs_handle_release(fi->fh);
	fuse_reply_err(req, 0);
}

static void read_page(fuse_req_t req, struct fileh *f, size_t size, off_t off)
{
	struct sdfs_mount *m = mnt_of(req);
	struct sdfs_cred_saved saved;

	if ((uint64_t)off >= m->page_size) {
		fuse_reply_buf(req, NULL, 0);
		return;
	}
	size_t len = m->page_size - (size_t)off;
	if (len > size)
		len = size;
	char *buf = g_try_malloc(len);
	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	int r = sdfs_req_enter(req, &saved);
	if (r == 0) {
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
	}
	if (r < 0)
		fuse_reply_err(req, -r);
	else
		fuse_reply_buf(req, buf, len);
	g_free(buf);
}

static void op_read(fuse_req_t req, struct fileh *f, size_t size, off_t off)
{

	if (off < 0) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	if (f->ranges) {
		char *buf = g_try_malloc(size ? size : 1);
		if (!buf) {
			fuse_reply_err(req, ENOMEM);
			return;
		}
		g_mutex_lock(&f->rt_lock);
		ssize_t n = sdfs_rangetext_read(&f->rt, buf, size, (size_t)off);
		g_mutex_unlock(&f->rt_lock);
		if (n < 0)
			fuse_reply_err(req, (int)-n);
		else
			fuse_reply_buf(req, buf, (size_t)n);
		g_free(buf);
		return;
	}
	if (f->text) {
		size_t len = f->text->len;
		if ((uint64_t)off >= len) {
			fuse_reply_buf(req, NULL, 0);
			return;
		}
		size_t n = len - (size_t)off < size ? len - (size_t)off : size;
		fuse_reply_buf(req, f->text->str + off, n);
		return;
	}
	if (f->node.kind == SDFS_K_PAGE || f->node.kind == SDFS_K_LAST_PAGE) {
		read_page(req, f, size, off);
		return;
	}
	fuse_reply_err(req, EINVAL);
}

void sdfs_op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		  struct fuse_file_info *fi)
{
	/* h is the first member of struct fileh */
	struct fileh *f = (struct fileh *)sdfs_handle_get(fi->fh);

	if (!f) {
		fuse_reply_err(req, EBADF);
		return;
	}
	op_read(req, f, size, off);
	sdfs_handle_drop(&f->h);
}

static void op_write(fuse_req_t req, struct fileh *f, const char *buf,
		     size_t size);

void sdfs_op_write(fuse_req_t req, fuse_ino_t ino, const char *buf,
		   size_t size, off_t off, struct fuse_file_info *fi)
{
	/* h is the first member of struct fileh */
	struct fileh *f = (struct fileh *)sdfs_handle_get(fi->fh);

	if (!f) {
		fuse_reply_err(req, EBADF);
		return;
	}
	op_write(req, f, buf, size);
	sdfs_handle_drop(&f->h);
}

static void op_write(fuse_req_t req, struct fileh *f, const char *buf,
		     size_t size)
{
	struct sdfs_mount *m = mnt_of(req);
	struct sdfs_cred_saved saved;
	struct sdfs_proc_id id;

	if (f->node.kind != SDFS_K_CLEAR) {
		fuse_reply_err(req, EPERM);
		return;
	}
	if (!sdfs_clear_request_valid(buf, size)) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	int r = sdfs_req_enter(req, &saved);
	if (r == 0) {
		r = sdfs_tracker_alive(f->tracker);
		/* re-check: rights may have changed since open (setuid exec) */
		if (r == 0)
			r = sdfs_req_process(m, f->node.pid, SDFS_ACCESS_ATTACH, &id);
		if (r == 0 && id.starttime != sdfs_tracker_starttime(f->tracker))
			r = -ESRCH;
		if (r == -ENOENT)
			r = -ESRCH;
		if (r == 0)
			r = sdfs_tracker_clear(f->tracker);
		sdfs_cred_leave(&saved);
	}
	/* last/pages/ is another set now: drop what the kernel cached of
	 * it before the writer learns the clear is done (never called
	 * single-threaded: the kernel may hold the directory's lock while
	 * it waits for a lookup this very thread would have to serve) */
	if (r == 0 && m->cache_last && m->se) {
		struct sdfs_node last = {.kind = SDFS_K_LAST,
					 .pid = f->node.pid};
		fuse_lowlevel_notify_inval_entry(m->se, sdfs_ino_encode(&last),
						 "pages", 5);
	}
	if (r < 0)
		fuse_reply_err(req, -r);
	else
		fuse_reply_write(req, size);
}

void sdfs_op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
		     int to_set, struct fuse_file_info *fi)
{
	struct sdfs_mount *m = mnt_of(req);
	struct sdfs_node n;
	struct timespec ts;
	struct stat st;

	if (sdfs_ino_decode(ino, &n) < 0) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	/* `echo 1 > clear` truncates first: a no-op, not an error */
	if (n.kind == SDFS_K_CLEAR && to_set == FUSE_SET_ATTR_SIZE &&
	    attr->st_size == 0) {
		struct sdfs_proc_id id;
		struct sdfs_cred_saved saved;
		int r = sdfs_req_enter(req, &saved);
		if (r == 0) {
			r = sdfs_req_process(m, n.pid, SDFS_ACCESS_ATTACH, &id);
			sdfs_cred_leave(&saved);
		}
		if (r < 0) {
			fuse_reply_err(req, -r);
			return;
		}
		clock_gettime(CLOCK_REALTIME, &ts);
		sdfs_node_attr(m, &n, &id, &ts, &st);
		fuse_reply_attr(req, &st, 0);
		return;
	}
	fuse_reply_err(req, EPERM);
}
