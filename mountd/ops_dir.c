/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* lookup, getattr and directory listings. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <glib.h>

#include "req.h"
#include "trace.h"

/* readdir offsets: 1 after ".", 2 after "..", then per-directory */
#define OFF_FIRST 2

struct sdfs_dir {
	struct sdfs_handle h; /* first: retired and freed through it */
	struct sdfs_node node;
	const struct sdfs_kind_info *info;
	struct sdfs_proc_id id;
	GArray *pids; /* root: visible pids, taken at opendir */
	struct sdfs_tracker *tracker; /* pages/ */
	struct sdfs_snapshot *snap; /* last/pages/ */
};

struct sdfs_dirbuf {
	fuse_req_t req;
	struct sdfs_mount *m;
	char *buf;
	size_t size, used;
	const struct sdfs_proc_id *id;
	enum sdfs_kind child_kind;
	size_t used_before; /* where a restarted scan starts again */
	bool plus; /* READDIRPLUS */
	const struct timespec *mtime; /* last/pages/: the clear's time */
};

static void now_ts(struct timespec *ts)
{
	clock_gettime(CLOCK_REALTIME, ts);
}

/* ---- lookup and getattr ----------------------------------------------- */

static void reply_entry(fuse_req_t req, struct sdfs_mount *m,
			const struct sdfs_node *n, const struct sdfs_proc_id *id,
			const struct stat *st)
{
	struct fuse_entry_param e;

	memset(&e, 0, sizeof(e));
	e.ino = sdfs_ino_encode(n);
	if (!e.ino) {
		sdfs_reply_errno(req, ENOENT);
		return;
	}
	e.generation = id ? id->starttime : 0;
	/* pages come and go with every write: no caching; last/pages/
	 * changes only at a clear, which invalidates it */
	e.attr_timeout = sdfs_attr_timeout(m, n);
	e.entry_timeout = sdfs_entry_timeout(m, n);
	e.attr = *st;
	fuse_reply_entry(req, &e);
}

/* The attributes of r's node, checked by its row's attr hook. */
static int node_stat(struct sdfs_req *r, const struct timespec *ts,
		     bool open_file, struct stat *st)
{
	sdfs_node_attr(r->m, &r->node, r->node.kind == SDFS_K_ROOT ? NULL : &r->id,
		       ts, st);
	if (!r->info->attr)
		return 0;
	/* the hooks read the tracker; a lookup in last/ comes without it */
	if (!r->tracker) {
		int err = sdfs_req_tracker(r->m, &r->id, &r->tracker);
		if (err < 0)
			return err;
	}
	return r->info->attr(r, open_file, st);
}

/* A child of a directory with fixed children (the table's rows). */
static int fixed_lookup(struct sdfs_req *r, const char *name,
			struct sdfs_node *child, struct timespec *ts)
{
	int k = sdfs_kind_child(r->node.kind, name);
	if (k < 0)
		return k;
	child->kind = (enum sdfs_kind)k;
	child->pid = r->node.pid;
	return 0;
}

void sdfs_op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct sdfs_node pn, child = {0};
	struct sdfs_req r;
	struct timespec ts;
	struct stat st;

	if (sdfs_ino_decode(parent, &pn) < 0) {
		sdfs_reply_errno(req, ENOENT);
		return;
	}
	if (!sdfs_kind_is_dir(pn.kind)) {
		sdfs_reply_errno(req, ENOTDIR);
		return;
	}
	const struct sdfs_kind_info *pi = sdfs_kind(pn.kind);
	/* the parent's access is what its children's names need; a
	 * process the caller may not see does not exist for it */
	unsigned flags = pi->access == SDFS_ACCESS_READ ? SDFS_REQ_HIDE : 0;
	if (pn.kind == SDFS_K_PAGES || pn.kind == SDFS_K_LAST_PAGES)
		flags |= SDFS_REQ_TRACKER;
	int err = sdfs_req_begin(&r, req, &pn, pi->access, flags);
	now_ts(&ts);
	if (err == 0)
		err = pi->dir->lookup ? pi->dir->lookup(&r, name, &child, &ts)
				      : fixed_lookup(&r, name, &child, &ts);
	if (err == 0) {
		/* the child's own hook checks it with the same request */
		r.node = child;
		r.info = sdfs_kind(child.kind);
		err = node_stat(&r, &ts, false, &st);
	}
	sdfs_req_end(&r);
	if (err < 0)
		sdfs_reply_err(req, err, SDFS_AT_NAME);
	else
		reply_entry(req, r.m, &child, &r.id, &st);
}

void sdfs_op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct sdfs_node n;
	struct sdfs_req r;
	struct timespec ts;
	struct stat st;
	int err;

	if (sdfs_ino_decode(ino, &n) < 0) {
		sdfs_reply_errno(req, ENOENT);
		return;
	}
	now_ts(&ts);
	if (n.kind == SDFS_K_ROOT) {
		err = sdfs_req_allowed(req);
		if (err < 0) {
			sdfs_reply_errno(req, -err);
			return;
		}
		sdfs_node_attr(mnt_of(req), &n, NULL, &ts, &st);
		fuse_reply_attr(req, &st, 0);
		return;
	}
	const struct sdfs_kind_info *i = sdfs_kind(n.kind);
	err = sdfs_req_begin(&r, req, &n, SDFS_ACCESS_READ,
			     i && i->attr ? SDFS_REQ_TRACKER : 0);
	if (err == 0)
		err = node_stat(&r, &ts, fi != NULL, &st);
	sdfs_req_end(&r);
	if (err < 0) {
		/* through an open file (fstat, or a read revalidating the
		 * size) a process that is gone is ESRCH */
		sdfs_reply_err(req, err,
			       fi && !sdfs_kind_is_dir(n.kind) ? SDFS_AT_FILE
							       : SDFS_AT_NAME);
		return;
	}
	fuse_reply_attr(req, &st, sdfs_attr_timeout(r.m, &n));
}

/* ---- root: the processes --------------------------------------------- */

static int root_lookup(struct sdfs_req *r, const char *name,
		       struct sdfs_node *child, struct timespec *ts)
{
	child->kind = SDFS_K_PIDDIR;
	child->pid = sdfs_parse_pid_name(name);
	if (child->pid <= 0)
		return -ENOENT;
	int err = sdfs_req_process(r->m, child->pid, SDFS_ACCESS_READ, &r->id);
	/* a process the caller may not see does not exist for it */
	return err == -EACCES ? -ENOENT : err;
}

/* The processes the caller may see. */
static int list_pids(GArray *out)
{
	DIR *d = opendir("/proc");
	if (!d)
		return -errno;
	struct dirent *de;
	while ((de = readdir(d))) {
		pid_t pid = sdfs_parse_pid_name(de->d_name);
		struct sdfs_proc_id id;
		if (pid <= 0)
			continue;
		/* /proc lists thread-group leaders only */
		int r = sdfs_proc_identify_flags(pid, SDFS_ID_LEADER_KNOWN, &id);
		if (r == 0)
			r = sdfs_access_check(pid, SDFS_ACCESS_READ);
		if (r == 0) {
			g_array_append_val(out, pid);
		} else if (sdfs_err_resource(r)) {
			/* an error, not a listing with holes */
			closedir(d);
			return r;
		}
	}
	closedir(d);
	return 0;
}

static gint cmp_pid(gconstpointer a, gconstpointer b)
{
	pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;
	return x < y ? -1 : x > y;
}

static int root_open(struct sdfs_req *r, struct sdfs_dir *d)
{
	sdfs_engine_reap(r->m->engine);
	d->pids = g_array_new(false, false, sizeof(pid_t));
	int err = list_pids(d->pids);
	g_array_sort(d->pids, cmp_pid);
	return err;
}

static bool dirbuf_add(struct sdfs_dirbuf *b, const char *name,
		       const struct sdfs_node *n, off_t next);

static int root_fill(fuse_req_t req, struct sdfs_dirbuf *b, struct sdfs_dir *d,
		     off_t off)
{
	for (guint i = (guint)(off - OFF_FIRST); i < d->pids->len; i++) {
		char name[16];
		pid_t pid = g_array_index(d->pids, pid_t, i);
		struct sdfs_node c = {.kind = SDFS_K_PIDDIR, .pid = pid};
		snprintf(name, sizeof(name), "%d", (int)pid);
		if (!dirbuf_add(b, name, &c, (off_t)(i + 1 + OFF_FIRST)))
			break;
	}
	return 0;
}

const struct sdfs_dir_class sdfs_dir_root = {
	.open = root_open,
	.lookup = root_lookup,
	.fill = root_fill,
};

/* ---- PID directories and last/: the table's rows ---------------------- */

static int fixed_fill(fuse_req_t req, struct sdfs_dirbuf *b,
		      struct sdfs_dir *d, off_t off)
{
	off_t i = OFF_FIRST;

	for (int k = 0; k < SDFS_K_MAX; k++) {
		const struct sdfs_kind_info *ki = sdfs_kind((enum sdfs_kind)k);
		if (!ki || !ki->name || ki->parent != d->node.kind)
			continue;
		i++;
		if (i <= off)
			continue;
		struct sdfs_node c = {.kind = (enum sdfs_kind)k,
				      .pid = d->node.pid};
		if (!dirbuf_add(b, ki->name, &c, i))
			break;
	}
	return 0;
}

const struct sdfs_dir_class sdfs_dir_fixed = {.fill = fixed_fill};

/* ---- pages/ and last/pages/ ------------------------------------------- */

static int pages_open(struct sdfs_req *r, struct sdfs_dir *d)
{
	return sdfs_req_tracker(r->m, &r->id, &d->tracker);
}

/* A page name: its address, page aligned, or -ENOENT. */
static int page_child(struct sdfs_req *r, const char *name,
		      enum sdfs_kind kind, struct sdfs_node *child)
{
	uint64_t addr;

	if (sdfs_parse_page_name(name, &addr) < 0 || addr % r->m->page_size)
		return -ENOENT;
	child->kind = kind;
	child->pid = r->node.pid;
	child->pageno = addr / r->m->page_size;
	return 0;
}

static int pages_lookup(struct sdfs_req *r, const char *name,
			struct sdfs_node *child, struct timespec *ts)
{
	int err = page_child(r, name, SDFS_K_PAGE, child);
	if (err == 0)
		err = sdfs_tracker_page_dirty(r->tracker,
					      child->pageno * r->m->page_size);
	return err == 0 ? -ENOENT : err < 0 ? err : 0;
}

static bool add_page(struct sdfs_dirbuf *b, uint64_t addr)
{
	char name[17];
	uint64_t pageno = addr / b->m->page_size;
	struct sdfs_node n = {.kind = b->child_kind,
			      .pid = b->id->pid,
			      .pageno = pageno};

	/* a page whose number has no inode has no file (sdfs(5)) */
	if (!sdfs_ino_encode(&n))
		return true;
	snprintf(name, sizeof(name), "%016" G_GINT64_MODIFIER "x",
		 (guint64)addr);
	/* the next entry starts at the next page */
	return dirbuf_add(b, name, &n, (off_t)(pageno + 1 + OFF_FIRST));
}

static int pages_run_fn(void *ctx, const struct sdfs_vma *vma, uint64_t start,
			uint64_t end)
{
	struct sdfs_dirbuf *b = ctx;

	if (!vma) { /* the scan starts over */
		b->used = b->used_before;
		return 0;
	}
	for (uint64_t a = start; a < end; a += b->m->page_size)
		if (!add_page(b, a))
			return 1; /* full: stop the scan */
	return 0;
}

static int pages_fill(fuse_req_t req, struct sdfs_dirbuf *b,
		      struct sdfs_dir *d, off_t off)
{
	uint64_t from = (uint64_t)(off - OFF_FIRST) * b->m->page_size;
	struct sdfs_cred_saved saved;
	int r = sdfs_req_enter(req, &saved);

	if (r < 0)
		return r;
	b->child_kind = SDFS_K_PAGE;
	b->used_before = b->used;
	r = sdfs_tracker_scan(d->tracker, from, UINT64_MAX, pages_run_fn, b);
	sdfs_cred_leave(&saved);
	return r < 0 ? r : 0;
}

const struct sdfs_dir_class sdfs_dir_pages = {
	.open = pages_open,
	.lookup = pages_lookup,
	.fill = pages_fill,
};

static int last_pages_open(struct sdfs_req *r, struct sdfs_dir *d)
{
	int err = pages_open(r, d);
	if (err == 0)
		d->snap = sdfs_tracker_last(d->tracker);
	return err;
}

/* whether it is captured: the row's attr hook (file_page.c) */
static int last_pages_lookup(struct sdfs_req *r, const char *name,
			     struct sdfs_node *child, struct timespec *ts)
{
	return page_child(r, name, SDFS_K_LAST_PAGE, child);
}

static int last_pages_fill(fuse_req_t req, struct sdfs_dirbuf *b,
			   struct sdfs_dir *d, off_t off)
{
	uint64_t from = (uint64_t)(off - OFF_FIRST) * b->m->page_size;
	struct sdfs_run_iter it;
	struct sdfs_run r;

	if (!d->snap)
		return 0;
	b->child_kind = SDFS_K_LAST_PAGE;
	b->mtime = &d->snap->at;
	sdfs_dirtyset_seek(&d->snap->set, from, &it);
	while (sdfs_run_iter_next(&it, &r)) {
		uint64_t a = r.start > from ? r.start : from;
		for (; a < r.end; a += b->m->page_size)
			if (!add_page(b, a))
				return 0;
	}
	return 0;
}

const struct sdfs_dir_class sdfs_dir_last_pages = {
	.open = last_pages_open,
	.lookup = last_pages_lookup,
	.fill = last_pages_fill,
};

/* ---- listings ---------------------------------------------------------- */

static void dir_free(struct sdfs_dir *d)
{
	if (!d)
		return;
	if (d->pids)
		g_array_unref(d->pids);
	if (d->tracker)
		sdfs_tracker_put(d->tracker);
	sdfs_snapshot_put(d->snap);
	g_free(d);
}

static void dir_free_cb(void *p)
{
	dir_free(p);
}

void sdfs_op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct sdfs_req r;
	struct sdfs_dir *d = g_try_new0(struct sdfs_dir, 1);

	if (!d) {
		sdfs_reply_errno(req, ENOMEM);
		return;
	}
	sdfs_handle_init(&d->h, dir_free_cb);
	if (sdfs_ino_decode(ino, &d->node) < 0 || !sdfs_kind_is_dir(d->node.kind)) {
		dir_free(d);
		sdfs_reply_errno(req, ENOTDIR);
		return;
	}
	d->info = sdfs_kind(d->node.kind);
	int err = sdfs_req_begin(&r, req, &d->node, d->info->access, 0);
	d->id = r.id;
	if (err == 0 && d->info->dir->open)
		err = d->info->dir->open(&r, d);
	sdfs_req_end(&r);
	if (err < 0) {
		dir_free(d);
		sdfs_reply_err(req, err, SDFS_AT_NAME);
		return;
	}
	fi->fh = sdfs_handle_publish(&d->h);
	/* the open was interrupted (its caller killed): no RELEASE comes */
	if (fuse_reply_open(req, fi) == -ENOENT)
		sdfs_handle_release(fi->fh);
}

void sdfs_op_releasedir(fuse_req_t req, fuse_ino_t ino,
			struct fuse_file_info *fi)
{
	sdfs_handle_release(fi->fh);
	sdfs_reply_errno(req, 0);
}

/* Add an entry; false when the reply buffer is full. */
static bool dirbuf_add(struct sdfs_dirbuf *b, const char *name,
		       const struct sdfs_node *n, off_t next)
{
	struct fuse_entry_param e;

	memset(&e, 0, sizeof(e));
	e.attr.st_ino = n ? sdfs_ino_encode(n) : SDFS_ROOT_INO;
	e.attr.st_mode = (!n || sdfs_kind_is_dir(n->kind)) ? S_IFDIR : S_IFREG;
	if (!b->plus) {
		size_t need = fuse_add_direntry(b->req, NULL, 0, name, NULL, 0);
		if (b->used + need > b->size)
			return false;
		fuse_add_direntry(b->req, b->buf + b->used, b->size - b->used,
				  name, &e.attr, next);
		b->used += need;
		return true;
	}
	/* full entries only for the files of last/pages/, which the kernel
	 * may keep and whose attributes need no hook here (the listing is
	 * of the capture); nodeid 0 makes the others plain entries */
	if (n && n->kind == SDFS_K_LAST_PAGE && sdfs_entry_timeout(b->m, n) > 0) {
		e.ino = e.attr.st_ino;
		e.generation = b->id->starttime;
		e.attr_timeout = sdfs_attr_timeout(b->m, n);
		e.entry_timeout = sdfs_entry_timeout(b->m, n);
		sdfs_node_attr(b->m, n, b->id, b->mtime, &e.attr);
	}
	size_t need = fuse_add_direntry_plus(b->req, NULL, 0, name, NULL, 0);
	if (b->used + need > b->size)
		return false;
	fuse_add_direntry_plus(b->req, b->buf + b->used, b->size - b->used,
			       name, &e, next);
	b->used += need;
	return true;
}

static void op_readdir(fuse_req_t req, struct sdfs_dir *d, size_t size,
		       off_t off, bool plus)
{
	struct sdfs_dirbuf b = {.req = req,
				.m = mnt_of(req),
				.size = size,
				.id = &d->id,
				.plus = plus};
	int r = 0;

	if (off < 0) {
		sdfs_reply_errno(req, EINVAL);
		return;
	}
	b.buf = g_try_malloc(size);
	if (!b.buf) {
		sdfs_reply_errno(req, ENOMEM);
		return;
	}
	if (off < 1 && !dirbuf_add(&b, ".", &d->node, 1))
		goto out;
	if (off < 2 && !dirbuf_add(&b, "..", NULL, 2))
		goto out;
	if (off < OFF_FIRST)
		off = OFF_FIRST;
	r = d->info->dir->fill(req, &b, d, off);
out:
	if (r < 0)
		sdfs_reply_errno(req, -r);
	else
		fuse_reply_buf(req, b.buf, b.used);
	g_free(b.buf);
}

static void op_readdir_fh(fuse_req_t req, struct fuse_file_info *fi,
			  size_t size, off_t off, bool plus)
{
	/* h is the first member of struct sdfs_dir */
	struct sdfs_dir *d = (struct sdfs_dir *)sdfs_handle_get(fi->fh);

	if (!d) {
		sdfs_reply_errno(req, EBADF);
		return;
	}
	op_readdir(req, d, size, off, plus);
	sdfs_handle_drop(&d->h);
}

void sdfs_op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size,
			 off_t off, struct fuse_file_info *fi)
{
	op_readdir_fh(req, fi, size, off, true);
}

void sdfs_op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		     struct fuse_file_info *fi)
{
	op_readdir_fh(req, fi, size, off, false);
}
