/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Text files: status and clear's epoch, rendered at open; dirty_ranges
 * and last/dirty_ranges, whose set is taken at open and whose text is
 * made as it is read. And clear's write.
 */
#include <errno.h>
#include <inttypes.h>

#include <glib.h>

#include "clearparse.h"
#include "file.h"
#include "rangetext.h"
#include "render.h"
#include "scan.h"

/* ---- text rendered at open ------------------------------------------- */

static void text_free(void *p)
{
	sdfs_text_free(p);
}

static ssize_t text_read(fuse_req_t req, struct sdfs_file *f, char *buf,
			 size_t size, off_t off)
{
	const struct sdfs_text *t = f->priv;
	return sdfs_file_copy_out(buf, size, off, t->str, t->len);
}

/* A new text for f; render it, then text_done(). */
static struct sdfs_text *text_start(struct sdfs_file *f)
{
	struct sdfs_text *t = sdfs_text_new();
	if (t) {
		f->priv = t;
		f->priv_free = text_free;
	}
	return t;
}

static int text_done(struct sdfs_file *f, struct sdfs_text *t)
{
	if (t->failed)
		return -ENOMEM;
	f->len = t->len;
	return 0;
}

static int count_fn(void *ctx, const struct sdfs_vma *vma, uint64_t start,
		    uint64_t end)
{
	uint64_t *n = ctx;
	*n = vma ? *n + (end - start) / sdfs_page_size() : 0;
	return 0;
}

static int status_open(struct sdfs_req *r, struct sdfs_file *f)
{
	struct sdfs_tracker_info info;
	uint64_t dirty = 0;
	int err = sdfs_tracker_scan(f->tracker, 0, UINT64_MAX, count_fn, &dirty);

	if (err < 0)
		return err;
	struct sdfs_text *t = text_start(f);
	if (!t)
		return -ENOMEM;
	sdfs_tracker_info(f->tracker, &info);
	sdfs_render_status(t, &info, dirty);
	return text_done(f, t);
}

const struct sdfs_file_class sdfs_file_status = {
	.open = status_open,
	.read = text_read,
	.direct_io = true,
};

/* ---- clear ------------------------------------------------------------ */

static int clear_open(struct sdfs_req *r, struct sdfs_file *f)
{
	struct sdfs_tracker_info info;
	struct sdfs_text *t = text_start(f);

	if (!t)
		return -ENOMEM;
	sdfs_tracker_info(f->tracker, &info);
	sdfs_text_printf(t, "%" PRIu64 "\n", info.epoch);
	return text_done(f, t);
}

static int clear_write(fuse_req_t req, struct sdfs_file *f, const char *buf,
		       size_t size)
{
	struct sdfs_mount *m = mnt_of(req);
	struct sdfs_req r = {0};

	if (!sdfs_clear_request_valid(buf, size))
		return -EINVAL;
	/* re-check: rights may have changed since open (setuid exec) */
	int err = sdfs_tracker_alive(f->tracker);
	if (err == 0)
		err = sdfs_req_begin(&r, req, &f->node, SDFS_ACCESS_ATTACH, 0);
	if (err == 0 && r.id.starttime != sdfs_tracker_starttime(f->tracker))
		err = -ESRCH;
	if (err == 0)
		err = sdfs_tracker_clear(f->tracker);
	sdfs_req_end(&r);
	/* last/ holds another capture now: drop what the kernel cached of
	 * last/pages/ before the writer learns the clear is done (never
	 * called single-threaded: the kernel may hold the directory's lock
	 * while it waits for a lookup this very thread would have to
	 * serve) */
	if (err == 0 && m->cache_last && m->se) {
		struct sdfs_node last = {.kind = SDFS_K_LAST,
					 .pid = f->node.pid};
		fuse_lowlevel_notify_inval_entry(m->se, sdfs_ino_encode(&last),
						 "pages", 5);
	}
	/* last/changes: its length (the kernel caches it: file_last.c) */
	if (err == 0 && m->se) {
		struct sdfs_node ch = {.kind = SDFS_K_LAST_CHANGES,
				       .pid = f->node.pid};
		fuse_lowlevel_notify_inval_inode(m->se, sdfs_ino_encode(&ch), 0,
						 0);
	}
	return err;
}

const struct sdfs_file_class sdfs_file_clear = {
	.open = clear_open,
	.read = text_read,
	.write = clear_write,
	.direct_io = true,
};

/* ---- dirty_ranges, last/dirty_ranges ----------------------------------- */

/* The set read at open (own, or a capture's), its text made as read. */
struct ranges {
	struct sdfs_dirtyset own;
	struct sdfs_snapshot *snap;
	struct sdfs_rangetext rt;
	bool rt_ready;
	GMutex lock; /* the cursor of rt */
};

static void ranges_free(void *p)
{
	struct ranges *g = p;

	if (g->rt_ready)
		sdfs_rangetext_free(&g->rt);
	sdfs_dirtyset_free(&g->own);
	sdfs_snapshot_put(g->snap);
	g_mutex_clear(&g->lock);
	g_free(g);
}

static struct ranges *ranges_start(struct sdfs_file *f)
{
	struct ranges *g = g_try_new0(struct ranges, 1);
	if (g) {
		sdfs_dirtyset_init(&g->own);
		g_mutex_init(&g->lock);
		f->priv = g;
		f->priv_free = ranges_free;
	}
	return g;
}

static int ranges_done(struct sdfs_file *f, struct ranges *g,
		       const struct sdfs_dirtyset *set)
{
	if (sdfs_rangetext_init(&g->rt, set) < 0)
		return -ENOMEM;
	g->rt_ready = true;
	f->len = g->rt.len;
	return 0;
}

static ssize_t ranges_read(fuse_req_t req, struct sdfs_file *f, char *buf,
			   size_t size, off_t off)
{
	struct ranges *g = f->priv;

	g_mutex_lock(&g->lock);
	ssize_t n = sdfs_rangetext_read(&g->rt, buf, size, (size_t)off);
	g_mutex_unlock(&g->lock);
	return n;
}

static int dirty_open(struct sdfs_req *r, struct sdfs_file *f)
{
	struct ranges *g = ranges_start(f);

	if (!g)
		return -ENOMEM;
	int err = sdfs_tracker_scan(f->tracker, 0, UINT64_MAX,
				    sdfs_scan_collect_fn, &g->own);
	return err < 0 ? err : ranges_done(f, g, &g->own);
}

const struct sdfs_file_class sdfs_file_dirty = {
	.open = dirty_open,
	.read = ranges_read,
	.direct_io = true,
};

static int last_dirty_open(struct sdfs_req *r, struct sdfs_file *f)
{
	struct ranges *g = ranges_start(f);

	if (!g)
		return -ENOMEM;
	g->snap = sdfs_tracker_last(f->tracker);
	return ranges_done(f, g, g->snap ? &g->snap->set : &g->own);
}

const struct sdfs_file_class sdfs_file_last_dirty = {
	.open = last_dirty_open,
	.read = ranges_read,
	.direct_io = true,
};

static int last_dropped_open(struct sdfs_req *r, struct sdfs_file *f)
{
	struct ranges *g = ranges_start(f);

	if (!g)
		return -ENOMEM;
	g->snap = sdfs_tracker_last(f->tracker);
	return ranges_done(f, g, g->snap ? &g->snap->dropped : &g->own);
}

const struct sdfs_file_class sdfs_file_last_dropped = {
	.open = last_dropped_open,
	.read = ranges_read,
	.direct_io = true,
};
