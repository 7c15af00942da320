/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "ops.h"

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
	struct sdfs_tracker *t = sdfs_tracker_get(m->engine, id);
	if (!t)
		return errno ? -errno : -ENOENT;
	*ret = t;
	return 0;
}

enum sdfs_access_mode sdfs_node_access(enum sdfs_kind k)
{
	switch (k) {
	case SDFS_K_CLEAR:
	case SDFS_K_PAGES:
	case SDFS_K_LAST_PAGES:
	case SDFS_K_PAGE:
	case SDFS_K_LAST_PAGE:
		return SDFS_ACCESS_ATTACH;
	default:
		return SDFS_ACCESS_READ;
	}
}

void sdfs_node_attr(struct sdfs_mount *m, const struct sdfs_node *n,
		    const struct sdfs_proc_id *id, const struct timespec *ts,
		    struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = sdfs_ino_encode(n);
	st->st_uid = id ? id->uid : 0;
	st->st_gid = id ? id->gid : 0;
	st->st_atim = st->st_mtim = st->st_ctim = *ts;
	st->st_blksize = (blksize_t)m->page_size;
	switch (n->kind) {
	case SDFS_K_ROOT:
	case SDFS_K_PIDDIR:
	case SDFS_K_PAGES:
	case SDFS_K_LAST:
	case SDFS_K_LAST_PAGES:
		st->st_mode = S_IFDIR | 0555;
		st->st_nlink = 2;
		break;
	case SDFS_K_CLEAR:
		st->st_mode = S_IFREG | 0600;
		st->st_nlink = 1;
		break;
	case SDFS_K_DIRTY:
	case SDFS_K_LAST_DIRTY:
	case SDFS_K_STATUS:
		st->st_mode = S_IFREG | 0444;
		st->st_nlink = 1;
		break;
	case SDFS_K_PAGE:
	case SDFS_K_LAST_PAGE:
		st->st_mode = S_IFREG | 0400;
		st->st_nlink = 1;
		st->st_size = (off_t)m->page_size;
		st->st_blocks = (blkcnt_t)(m->page_size / 512);
		break;
	default:
		break;
	}
}

/* ---- handles ------------------------------------------------------------ */

static GMutex handle_lock;
static GHashTable *handles; /* fh number -> struct sdfs_handle (handle_lock) */
static uint64_t handle_next = 1;

void sdfs_handle_init(struct sdfs_handle *h, void (*free_fn)(void *))
{
	h->fh = 0;
	h->busy = 0;
	h->released = false;
	h->free_fn = free_fn;
}

uint64_t sdfs_handle_publish(struct sdfs_handle *h)
{
	g_mutex_lock(&handle_lock);
	if (!handles)
		handles = g_hash_table_new(g_int64_hash, g_int64_equal);
	h->fh = handle_next++;
	g_hash_table_insert(handles, &h->fh, h);
	g_mutex_unlock(&handle_lock);
	return h->fh;
}

struct sdfs_handle *sdfs_handle_get(uint64_t fh)
{
	g_mutex_lock(&handle_lock);
	struct sdfs_handle *h = handles ? g_hash_table_lookup(handles, &fh)
					: NULL;
	if (h)
		h->busy++;
	g_mutex_unlock(&handle_lock);
	return h;
}

/* The last operation on a released handle frees it. */
void sdfs_handle_drop(struct sdfs_handle *h)
{
	g_mutex_lock(&handle_lock);
	bool free_now = --h->busy == 0 && h->released;
	g_mutex_unlock(&handle_lock);
	if (free_now)
		h->free_fn(h);
}

void sdfs_handle_release(uint64_t fh)
{
	bool free_now = false;

	g_mutex_lock(&handle_lock);
	struct sdfs_handle *h = handles ? g_hash_table_lookup(handles, &fh)
					: NULL;
	if (h) {
		g_hash_table_remove(handles, &fh);
		h->released = true;
		free_now = h->busy == 0;
	}
	g_mutex_unlock(&handle_lock);
	if (free_now)
		h->free_fn(h);
}

void sdfs_handles_free_all(void)
{
	GHashTableIter it;
	gpointer v;

	g_mutex_lock(&handle_lock);
	GHashTable *t = handles;
	handles = NULL;
	g_mutex_unlock(&handle_lock);
	if (!t)
		return;
	g_hash_table_iter_init(&it, t);
	while (g_hash_table_iter_next(&it, NULL, &v)) {
		struct sdfs_handle *h = v;
		g_hash_table_iter_remove(&it);
		h->free_fn(h);
	}
	g_hash_table_unref(t);
}
