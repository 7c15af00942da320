/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "req.h"
#include "trace.h"

#define MAX_GROUPS 256

int sdfs_req_enter(fuse_req_t req, struct sdfs_cred_saved *s)
{
	const struct fuse_ctx *c = fuse_req_ctx(req);
	gid_t groups[MAX_GROUPS];
	int n = 0;

	/* supplementary groups matter only when we switch to a non-root
	 * caller; reading them costs a /proc read */
	if (geteuid() == 0 && c->uid != 0 && c->pid > 0) {
		n = fuse_req_getgroups(req, MAX_GROUPS, groups);
		if (n < 0 || n > MAX_GROUPS)
			n = 0; /* none: fail closed, never more rights */
	}
	struct sdfs_caller caller = {
		.uid = c->uid,
		.gid = c->gid,
		.pid = c->pid,
		.groups = groups,
		.ngroups = n,
	};
	return sdfs_cred_enter(&caller, s);
}

int sdfs_req_allowed(fuse_req_t req)
{
	const struct fuse_ctx *c = fuse_req_ctx(req);
	struct sdfs_caller caller = {.uid = c->uid, .gid = c->gid, .pid = c->pid};
	return sdfs_caller_allowed(&caller);
}

int sdfs_req_process(struct sdfs_mount *m, pid_t pid,
		     enum sdfs_access_mode mode, struct sdfs_proc_id *id)
{
	int r;

	/* a process sdfs tracks already: its pidfd says it is the same one */
	if (sdfs_engine_known(m->engine, pid, id) == 0)
		r = sdfs_proc_owner(pid, id);
	else
		r = sdfs_proc_identify(pid, id);
	if (r < 0)
		return r;
	return sdfs_access_check(pid, mode);
}

int sdfs_req_tracker(struct sdfs_mount *m, const struct sdfs_proc_id *id,
		     struct sdfs_tracker **ret)
{
	return sdfs_tracker_get(m->engine, id, ret);
}

int sdfs_req_begin(struct sdfs_req *r, fuse_req_t req,
		   const struct sdfs_node *n, enum sdfs_access_mode mode,
		   unsigned flags)
{
	memset(r, 0, sizeof(*r));
	r->req = req;
	r->m = mnt_of(req);
	r->node = *n;
	r->info = sdfs_kind(n->kind);
	if (!r->info)
		return -ENOENT;
	int err = sdfs_req_enter(req, &r->saved);
	if (err < 0)
		return err;
	r->entered = true;
	if (n->kind == SDFS_K_ROOT)
		return 0;
	err = sdfs_req_process(r->m, n->pid, mode, &r->id);
	if (err == -EACCES && (flags & SDFS_REQ_HIDE))
		err = -ENOENT;
	if (err == 0 && (flags & SDFS_REQ_TRACKER))
		err = sdfs_req_tracker(r->m, &r->id, &r->tracker);
	return err;
}

void sdfs_req_end(struct sdfs_req *r)
{
	if (r->entered)
		sdfs_cred_leave(&r->saved);
	r->entered = false;
	if (r->tracker)
		sdfs_tracker_put(r->tracker);
	r->tracker = NULL;
}

void sdfs_reply_err(fuse_req_t req, int err, enum sdfs_err_at at)
{
	if (err == -ESRCH && at == SDFS_AT_NAME)
		err = -ENOENT;
	else if (err == -ENOENT && at == SDFS_AT_FILE)
		err = -ESRCH;
	sdfs_reply_errno(req, -err);
}

void sdfs_node_attr(struct sdfs_mount *m, const struct sdfs_node *n,
		    const struct sdfs_proc_id *id, const struct timespec *ts,
		    struct stat *st)
{
	const struct sdfs_kind_info *i = sdfs_kind(n->kind);

	memset(st, 0, sizeof(*st));
	st->st_ino = sdfs_ino_encode(n);
	st->st_uid = id ? id->uid : 0;
	st->st_gid = id ? id->gid : 0;
	st->st_atim = st->st_mtim = st->st_ctim = *ts;
	st->st_blksize = (blksize_t)m->page_size;
	if (!i)
		return;
	st->st_mode = i->mode;
	st->st_nlink = i->dir ? 2 : 1;
	if (n->kind == SDFS_K_PAGE || n->kind == SDFS_K_LAST_PAGE) {
		st->st_size = (off_t)m->page_size;
		st->st_blocks = (blkcnt_t)(m->page_size / 512);
	}
}

/*
 * Only nodes whose row says so (last/pages/ files, which change only at
 * a clear): their attributes on every mount (reaching one takes a lookup
 * or an open, both checked as the caller); their entries where one user
 * reaches the mount and a clear drops them (ops.h).
 */
double sdfs_attr_timeout(const struct sdfs_mount *m, const struct sdfs_node *n)
{
	const struct sdfs_kind_info *i = sdfs_kind(n->kind);
	return i && i->cache ? SDFS_LAST_CACHE_S : 0;
}

double sdfs_entry_timeout(const struct sdfs_mount *m,
			  const struct sdfs_node *n)
{
	return m->cache_last ? sdfs_attr_timeout(m, n) : 0;
}
