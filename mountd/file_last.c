/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * last/changes (the names of the pages to copy or delete) and last/maps
 * (the mappings at the clear), both of the snapshot taken at open.
 */
#include <errno.h>

#include <glib.h>

#include "changetext.h"
#include "file.h"

struct snapfile {
	struct sdfs_snapshot *snap; /* NULL before the first clear */
	struct sdfs_dirtyset none;  /* what an empty last/ shows */
	struct sdfs_changetext ct;
	GMutex lock; /* the cursor of ct */
};

static void snapfile_free(void *p)
{
	struct snapfile *s = p;

	sdfs_snapshot_put(s->snap);
	g_mutex_clear(&s->lock);
	g_free(s);
}

static struct snapfile *snapfile_open(struct sdfs_file *f)
{
	struct snapfile *s = g_try_new0(struct snapfile, 1);

	if (s) {
		sdfs_dirtyset_init(&s->none);
		g_mutex_init(&s->lock);
		s->snap = sdfs_tracker_last(f->tracker);
		f->priv = s;
		f->priv_free = snapfile_free;
	}
	return s;
}

static int changes_open(struct sdfs_req *r, struct sdfs_file *f)
{
	struct snapfile *s = snapfile_open(f);

	if (!s)
		return -ENOMEM;
	if (s->snap)
		sdfs_changetext_init(&s->ct, &s->snap->set, &s->snap->dropped);
	else
		sdfs_changetext_init(&s->ct, &s->none, &s->none);
	f->len = s->ct.len;
	return 0;
}

static ssize_t changes_read(fuse_req_t req, struct sdfs_file *f, char *buf,
			    size_t size, off_t off)
{
	struct snapfile *s = f->priv;

	g_mutex_lock(&s->lock);
	size_t n = sdfs_changetext_read(&s->ct, buf, size, (size_t)off);
	g_mutex_unlock(&s->lock);
	return (ssize_t)n;
}

/*
 * Not direct_io: rsync reads --files-from one byte per read(2), which
 * with direct_io is one request to the daemon per byte (17 per page).
 * Through the page cache the kernel asks for large pieces and serves the
 * small reads itself. So st_size is the text's true length (attr hook
 * below), the kernel may keep the attributes (the row's cache: without
 * them every read(2) would first ask for them), a clear drops them
 * (file_text.c), and every open drops what the cache held (keep_cache 0).
 */
const struct sdfs_file_class sdfs_file_last_changes = {
	.open = changes_open,
	.read = changes_read,
};

int sdfs_last_changes_attr(struct sdfs_req *r, bool open_file, struct stat *st)
{
	g_autoptr(SdfsSnapshot) s = sdfs_tracker_last(r->tracker);

	st->st_size = s ? (off_t)((s->set.pages + s->dropped.pages) *
				  SDFS_CHANGE_LINE)
			: 0;
	return 0;
}

static int maps_open(struct sdfs_req *r, struct sdfs_file *f)
{
	struct snapfile *s = snapfile_open(f);

	if (!s)
		return -ENOMEM;
	f->len = s->snap ? s->snap->maps_len : 0;
	return 0;
}

static ssize_t maps_read(fuse_req_t req, struct sdfs_file *f, char *buf,
			 size_t size, off_t off)
{
	struct snapfile *s = f->priv;

	if (!s->snap)
		return 0;
	return sdfs_file_copy_out(buf, size, off, s->snap->maps,
				  s->snap->maps_len);
}

const struct sdfs_file_class sdfs_file_last_maps = {
	.open = maps_open,
	.read = maps_read,
	.direct_io = true,
};
