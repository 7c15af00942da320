/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "ops.h"

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
