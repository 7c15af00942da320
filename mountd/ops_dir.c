/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* lookup, getattr and directory listings. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <glib.h>

#include "ops.h"

/* readdir offsets: 1 after ".", 2 after "..", then per-directory */
#define OFF_FIRST 2

struct dirh {
	struct sdfs_handle h; /* first: retired and freed through it */
	struct sdfs_node node;
	struct sdfs_proc_id id;
	GArray *pids; /* root: visible pids, taken at opendir */
	struct sdfs_tracker *tracker; /* pages/ */
	struct sdfs_snapshot *snap; /* last/pages/ */
};

static void now_ts(struct timespec *ts)
{
	clock_gettime(CLOCK_REALTIME, ts);
}

/*
 * How long the kernel may keep what it was told of node n. Only
 * last/pages/ files, which change only at a clear: their attributes on
 * every mount (reaching one takes a lookup or an open, both checked as
 * the caller); their entries where one user reaches the mount and a
 * clear drops them (ops.h).
 */
static double attr_timeout(const struct sdfs_mount *m, const struct sdfs_node *n)
{
	return n->kind == SDFS_K_LAST_PAGE ? SDFS_LAST_CACHE_S : 0;
}

static double entry_timeout(const struct sdfs_mount *m,
			    const struct sdfs_node *n)
{
	return m->cache_last ? attr_timeout(m, n) : 0;
}

static void reply_entry(fuse_req_t req, struct sdfs_mount *m,
			const struct sdfs_node *n, const struct sdfs_proc_id *id,
			const struct timespec *ts)
{
	struct fuse_entry_param e;

	memset(&e, 0, sizeof(e));
	e.ino = sdfs_ino_encode(n);
	if (!e.ino) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	e.generation = id ? id->starttime : 0;
	/* pages come and go with every write: no caching (DESIGN.md §2);
	 * last/pages/ changes only at a clear, which invalidates it */
	e.attr_timeout = attr_timeout(m, n);
	e.entry_timeout = entry_timeout(m, n);
	sdfs_node_attr(m, n, id, ts, &e.attr);
	fuse_reply_entry(req, &e);
}

/* Find a page of a pages/ or last/pages/ directory. */
static int lookup_page(struct sdfs_mount *m, const struct sdfs_node *parent,
		       const char *name, const struct sdfs_proc_id *id,
		       struct sdfs_node *child, struct timespec *ts)
{
	uint64_t addr;

	if (sdfs_parse_page_name(name, &addr) < 0 || addr % m->page_size)
		return -ENOENT;
	child->pid = parent->pid;
	child->pageno = addr / m->page_size;
	struct sdfs_tracker *t;
	int r = sdfs_req_tracker(m, id, &t);
	if (r < 0)
		return r;
	if (parent->kind == SDFS_K_PAGES) {
		child->kind = SDFS_K_PAGE;
		r = sdfs_tracker_page_dirty(t, addr);
		if (r == 0)
			r = -ENOENT;
		now_ts(ts);
	} else {
		child->kind = SDFS_K_LAST_PAGE;
		struct sdfs_snapshot *s = sdfs_tracker_last(t);
		r = s && sdfs_dirtyset_contains(&s->set, addr) ? 1 : -ENOENT;
		if (s)
			*ts = s->at;
		sdfs_snapshot_put(s);
	}
	sdfs_tracker_put(t);
	if (r == -ESRCH)
		r = -ENOENT;
	return r < 0 ? r : 0;
}

void sdfs_op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct sdfs_mount *m = mnt_of(req);
	struct sdfs_node pn, child = {0};
	struct sdfs_proc_id id;
	struct sdfs_cred_saved saved;
	struct timespec ts;
	int r;

	if (sdfs_ino_decode(parent, &pn) < 0) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	if (!sdfs_kind_is_dir(pn.kind)) {
		fuse_reply_err(req, ENOTDIR);
		return;
	}
	r = sdfs_req_enter(req, &saved);
	if (r < 0) {
		fuse_reply_err(req, -r);
		return;
	}
	now_ts(&ts);
	switch (pn.kind) {
	case SDFS_K_ROOT:
		child.kind = SDFS_K_PIDDIR;
		child.pid = sdfs_parse_pid_name(name);
		r = child.pid > 0 ? sdfs_req_process(m, child.pid, SDFS_ACCESS_READ, &id)
				  : -ENOENT;
		/* a process the caller may not see does not exist for it */
		if (r == -EACCES)
			r = -ENOENT;
		break;
	case SDFS_K_PIDDIR:
	case SDFS_K_LAST:
		r = sdfs_kind_child(pn.kind, name);
		if (r < 0)
			break;
		child.kind = (enum sdfs_kind)r;
		child.pid = pn.pid;
		r = sdfs_req_process(m, pn.pid, SDFS_ACCESS_READ, &id);
		if (r == -EACCES)
			r = -ENOENT;
		break;
	case SDFS_K_PAGES:
	case SDFS_K_LAST_PAGES:
		r = sdfs_req_process(m, pn.pid, SDFS_ACCESS_ATTACH, &id);
		if (r == 0)
			r = lookup_page(m, &pn, name, &id, &child, &ts);
		break;
	default:
		r = -ENOTDIR;
		break;
	}
	sdfs_cred_leave(&saved);
	if (r < 0)
		fuse_reply_err(req, -r);
	else
		reply_entry(req, m, &child, &id, &ts);
}

void sdfs_op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct sdfs_mount *m = mnt_of(req);
	struct sdfs_node n;
	struct sdfs_proc_id id;
	struct sdfs_cred_saved saved;
	struct timespec ts;
	struct stat st;
	int r;

	if (sdfs_ino_decode(ino, &n) < 0) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	now_ts(&ts);
	if (n.kind == SDFS_K_ROOT) {
		r = sdfs_req_allowed(req);
		if (r < 0) {
			fuse_reply_err(req, -r);
			return;
		}
		sdfs_node_attr(m, &n, NULL, &ts, &st);
		fuse_reply_attr(req, &st, 0);
		return;
	}
	r = sdfs_req_enter(req, &saved);
	if (r < 0) {
		fuse_reply_err(req, -r);
		return;
	}
	r = sdfs_req_process(m, n.pid, SDFS_ACCESS_READ, &id);
	/* through an open file (fstat, or a read revalidating the size) a
	 * process that is gone is ESRCH (SPEC §3.4) */
	if (r < 0 && r != -EACCES && fi && !sdfs_kind_is_dir(n.kind))
		r = -ESRCH;
	if (r == 0 && n.kind == SDFS_K_LAST_PAGE) {
		/* mtime: the time of the clear that captured the page */
		struct sdfs_tracker *t;
		r = sdfs_req_tracker(m, &id, &t);
		if (r == 0) {
			struct sdfs_snapshot *s = sdfs_tracker_last(t);
			uint64_t addr = n.pageno * m->page_size;
			if (s && sdfs_dirtyset_contains(&s->set, addr))
				ts = s->at;
			else if (!fi)
				r = -ENOENT;
			/* else: an open file of a page a later clear did not
			 * capture keeps reading its address (sdfs(5)) */
			sdfs_snapshot_put(s);
			sdfs_tracker_put(t);
		}
	}
	sdfs_cred_leave(&saved);
	if (r < 0) {
		fuse_reply_err(req, -r);
		return;
	}
	sdfs_node_attr(m, &n, &id, &ts, &st);
	fuse_reply_attr(req, &st, attr_timeout(m, &n));
}

/* ---- listings ---------------------------------------------------------- */

static void dirh_free(struct dirh *d)
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

static void dirh_free_cb(void *p)
{
	dirh_free(p);
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
		} else if (r == -EMFILE || r == -ENFILE || r == -ENOMEM) {
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

void sdfs_op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct sdfs_mount *m = mnt_of(req);
	struct sdfs_cred_saved saved;
	struct dirh *d = g_new0(struct dirh, 1);
	int r;

	sdfs_handle_init(&d->h, dirh_free_cb);
	if (sdfs_ino_decode(ino, &d->node) < 0 || !sdfs_kind_is_dir(d->node.kind)) {
		dirh_free(d);
		fuse_reply_err(req, ENOTDIR);
		return;
	}
	r = sdfs_req_enter(req, &saved);
	if (r < 0) {
		dirh_free(d);
		fuse_reply_err(req, -r);
		return;
	}
	switch (d->node.kind) {
	case SDFS_K_ROOT:
		sdfs_engine_reap(m->engine);
		d->pids = g_array_new(false, false, sizeof(pid_t));
		r = list_pids(d->pids);
		g_array_sort(d->pids, cmp_pid);
		break;
	case SDFS_K_PIDDIR:
	case SDFS_K_LAST:
		r = sdfs_req_process(m, d->node.pid, SDFS_ACCESS_READ, &d->id);
		break;
	case SDFS_K_PAGES:
	case SDFS_K_LAST_PAGES:
		r = sdfs_req_process(m, d->node.pid, SDFS_ACCESS_ATTACH, &d->id);
		if (r == 0)
			r = sdfs_req_tracker(m, &d->id, &d->tracker);
		if (r == 0 && d->node.kind == SDFS_K_LAST_PAGES)
			d->snap = sdfs_tracker_last(d->tracker);
		break;
	default:
		r = -ENOTDIR;
	}
	sdfs_cred_leave(&saved);
	if (r < 0) {
		dirh_free(d);
		fuse_reply_err(req, -r);
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
	fuse_reply_err(req, 0);
}

struct dirbuf {
	fuse_req_t req;
	struct sdfs_mount *m;
	char *buf;
	size_t size, used;
	const struct sdfs_proc_id *id;
	enum sdfs_kind child_kind;
	bool plus; /* READDIRPLUS */
	const struct timespec *mtime; /* last/pages/: the clear's time */
};

/* Add an entry; false when the reply buffer is full. */
static bool dirbuf_add(struct dirbuf *b, const char *name,
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
	/* full entries only for what the kernel may keep (last/pages/);
	 * nodeid 0 makes the others plain directory entries */
	if (n && entry_timeout(b->m, n) > 0) {
		e.ino = e.attr.st_ino;
		e.generation = b->id->starttime;
		e.attr_timeout = attr_timeout(b->m, n);
		e.entry_timeout = entry_timeout(b->m, n);
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

static bool add_page(struct dirbuf *b, uint64_t addr)
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
	struct dirbuf *b = ctx;

	for (uint64_t a = start; a < end; a += b->m->page_size)
		if (!add_page(b, a))
			return 1; /* full: stop the scan */
	return 0;
}

static int fill_fixed(struct dirbuf *b, const struct dirh *d, off_t off)
{
	static const enum sdfs_kind piddir[] = {SDFS_K_CLEAR, SDFS_K_DIRTY,
						SDFS_K_PAGES, SDFS_K_LAST,
						SDFS_K_STATUS};
	static const enum sdfs_kind last[] = {SDFS_K_LAST_DIRTY,
					      SDFS_K_LAST_PAGES};
	const enum sdfs_kind *list = d->node.kind == SDFS_K_PIDDIR ? piddir : last;
	size_t n = d->node.kind == SDFS_K_PIDDIR ? G_N_ELEMENTS(piddir)
						 : G_N_ELEMENTS(last);

	for (size_t i = (size_t)(off - OFF_FIRST); i < n; i++) {
		struct sdfs_node c = {.kind = list[i], .pid = d->node.pid};
		if (!dirbuf_add(b, sdfs_kind_name(list[i]), &c,
				(off_t)(i + 1 + OFF_FIRST)))
			break;
	}
	return 0;
}

static int fill_root(struct dirbuf *b, const struct dirh *d, off_t off)
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

static int fill_pages(struct dirbuf *b, struct dirh *d, off_t off)
{
	uint64_t from = (uint64_t)(off - OFF_FIRST) * b->m->page_size;

	size_t used = b->used;
	int r = -EAGAIN;

	b->child_kind = SDFS_K_PAGE;
	for (int i = 0; i < SDFS_SCAN_RETRIES && r == -EAGAIN; i++) {
		b->used = used;
		r = sdfs_tracker_scan(d->tracker, from, UINT64_MAX,
				      pages_run_fn, b);
	}
	return r < 0 ? r : 0;
}

static int fill_last_pages(struct dirbuf *b, struct dirh *d, off_t off)
{
	uint64_t from = (uint64_t)(off - OFF_FIRST) * b->m->page_size;
	const struct sdfs_dirtyset *s;

	if (!d->snap)
		return 0;
	s = &d->snap->set;
	b->child_kind = SDFS_K_LAST_PAGE;
	b->mtime = &d->snap->at;
	struct sdfs_run_iter it;
	struct sdfs_run r;
	sdfs_dirtyset_seek(s, from, &it);
	while (sdfs_run_iter_next(&it, &r)) {
		uint64_t a = r.start > from ? r.start : from;
		for (; a < r.end; a += b->m->page_size)
			if (!add_page(b, a))
				return 0;
	}
	return 0;
}

static void op_readdir(fuse_req_t req, struct dirh *d, size_t size,
		       off_t off, bool plus);

void sdfs_op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size,
			 off_t off, struct fuse_file_info *fi)
{
	/* h is the first member of struct dirh */
	struct dirh *d = (struct dirh *)sdfs_handle_get(fi->fh);

	if (!d) {
		fuse_reply_err(req, EBADF);
		return;
	}
	op_readdir(req, d, size, off, true);
	sdfs_handle_drop(&d->h);
}

void sdfs_op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		     struct fuse_file_info *fi)
{
	/* h is the first member of struct dirh */
	struct dirh *d = (struct dirh *)sdfs_handle_get(fi->fh);

	if (!d) {
		fuse_reply_err(req, EBADF);
		return;
	}
	op_readdir(req, d, size, off, false);
	sdfs_handle_drop(&d->h);
}

static void op_readdir(fuse_req_t req, struct dirh *d, size_t size,
		       off_t off, bool plus)
{
	struct sdfs_mount *m = mnt_of(req);
	struct dirbuf b = {
		.req = req, .m = m, .size = size, .id = &d->id, .plus = plus};
	struct sdfs_cred_saved saved;
	int r = 0;

	if (off < 0) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	b.buf = g_try_malloc(size);
	if (!b.buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	if (off < 1 && !dirbuf_add(&b, ".", &d->node, 1))
		goto out;
	if (off < 2 && !dirbuf_add(&b, "..", NULL, 2))
		goto out;
	if (off < OFF_FIRST)
		off = OFF_FIRST;
	switch (d->node.kind) {
	case SDFS_K_ROOT:
		r = fill_root(&b, d, off);
		break;
	case SDFS_K_PIDDIR:
	case SDFS_K_LAST:
		r = fill_fixed(&b, d, off);
		break;
	case SDFS_K_PAGES:
		r = sdfs_req_enter(req, &saved);
		if (r == 0) {
			r = fill_pages(&b, d, off);
			sdfs_cred_leave(&saved);
		}
		break;
	case SDFS_K_LAST_PAGES:
		r = fill_last_pages(&b, d, off);
		break;
	default:
		r = -ENOTDIR;
	}
out:
	if (r < 0)
		fuse_reply_err(req, -r);
	else
		fuse_reply_buf(req, b.buf, b.used);
	g_free(b.buf);
}
