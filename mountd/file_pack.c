/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * last/pack: the round the last clear ended as one stream -- its dropped
 * ranges and captured runs in a text header, then the captured pages
 * back to back (pack.h, sdfs(5)). Like last/image, an open file keeps the
 * capture of the clear before its open, and the pages are read from the
 * process when the stream is read.
 */
#include <errno.h>
#include <stdlib.h>

#include <glib.h>

#include "file.h"
#include "pack.h"

/* before the first clear: no page, nothing dropped */
static const struct sdfs_dirtyset empty_set;

struct pack_open {
	struct sdfs_snapshot *snap; /* NULL before the first clear */
	struct sdfs_pack pack;
};

static void pack_free(void *priv)
{
	struct pack_open *o = priv;
	sdfs_pack_free(&o->pack);
	sdfs_snapshot_put(o->snap);
	g_free(o);
}

static int pack_open(struct sdfs_req *r, struct sdfs_file *f)
{
	struct pack_open *o = g_try_new0(struct pack_open, 1);

	if (!o)
		return -ENOMEM;
	o->snap = sdfs_tracker_last(f->tracker);
	const struct sdfs_snapshot *s = o->snap;
	int e = sdfs_pack_init(&o->pack, s ? &s->set : &empty_set,
			       s ? &s->dropped : &empty_set, s ? s->epoch : 0,
			       r->m->page_size);
	if (e < 0) {
		sdfs_snapshot_put(o->snap);
		g_free(o);
		return e;
	}
	f->priv = o;
	f->priv_free = pack_free;
	return 0;
}

static ssize_t pack_fill(const void *src, const struct sdfs_image_reader *rd,
			 uint64_t off, void *buf, size_t size)
{
	return sdfs_pack_read(src, rd, off, buf, size);
}

static ssize_t pack_read(fuse_req_t req, struct sdfs_file *f, char *buf,
			 size_t size, off_t off)
{
	const struct pack_open *o = f->priv;

	if ((uint64_t)off >= o->pack.size)
		return 0;
	/* the header alone needs no process */
	if ((uint64_t)off + size <= o->pack.header_len) {
		struct sdfs_image_reader none = {0};
		return sdfs_pack_read(&o->pack, &none, (uint64_t)off, buf,
				      size);
	}
	return sdfs_bulk_read(req, f, pack_fill, &o->pack, buf, size, off);
}

const struct sdfs_file_class sdfs_file_last_pack = {
	.open = pack_open,
	.read = pack_read,
	/* reads go to the process, in the kernel's largest pieces */
	.direct_io = true,
};

/* The size of the stream of the last capture (its first line alone
 * before the first clear); mtime the time of that clear. */
int sdfs_last_pack_attr(struct sdfs_req *r, bool open_file, struct stat *st)
{
	struct sdfs_snapshot *s = sdfs_tracker_last(r->tracker);
	(void)open_file;

	st->st_size = (off_t)sdfs_pack_size(s ? &s->set : &empty_set,
					    s ? &s->dropped : &empty_set,
					    s ? s->epoch : 0, r->m->page_size);
	st->st_blocks = (blkcnt_t)((st->st_size + 511) / 512);
	if (s)
		st->st_atim = st->st_mtim = st->st_ctim = s->at;
	st->st_blksize = SDFS_BULK_IO_SIZE;
	sdfs_snapshot_put(s);
	return 0;
}
