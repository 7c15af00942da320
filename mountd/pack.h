/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * last/pack (sdfs(5)): one round of a snapshot as a stream -- a text
 * header naming the round's dropped ranges and captured runs, then the
 * captured pages back to back -- so that a round whose pages are scattered
 * is copied with a few large sequential reads instead of a seek and a
 * read per extent (last/image). This part needs no FUSE: the layout, and
 * the read of any [off, off + len) of the stream.
 *
 *   sdfs-pack 1 epoch E page_size P drop ND data NR pages N\n
 *   drop 0000START0000000-00000END00000000\n      ND lines
 *   data 0000START0000000-00000END00000000\n      NR lines
 *   the N pages of the data runs, in that order
 *
 * Lines after the first have one length (SDFS_PACK_LINE), so any offset
 * of the header maps to a line without rendering the ones before it.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "image.h"
#include "ranges.h"

#define SDFS_PACK_LINE 39 /* "data " 16 hex digits "-" 16 hex digits "\n" */

/* An iterator over one set, every SDFS_PACK_MARK_EVERY runs. */
struct sdfs_pack_mark {
	struct sdfs_run_iter it;
	uint64_t pages; /* pages of the runs before it */
};

struct sdfs_pack {
	const struct sdfs_dirtyset *data, *drop; /* not owned */
	size_t page_size;
	char head[160]; /* the first line */
	size_t head_len;
	uint64_t header_len;			/* head and the lines */
	uint64_t size;				/* header and pages */
	struct sdfs_pack_mark *dmarks, *xmarks; /* of data, of drop */
	size_t ndmarks, nxmarks;
};

/* The size of the stream of data and drop (for stat, without an open). */
uint64_t sdfs_pack_size(const struct sdfs_dirtyset *data,
			const struct sdfs_dirtyset *drop, uint64_t epoch,
			size_t page_size);

/* Lay out the stream; the sets must outlive p. 0, or -ENOMEM. */
int sdfs_pack_init(struct sdfs_pack *p, const struct sdfs_dirtyset *data,
		   const struct sdfs_dirtyset *drop, uint64_t epoch,
		   size_t page_size);
void sdfs_pack_free(struct sdfs_pack *p);

/*
 * Fill buf with [off, off + len) of the stream, clipped at its size; the
 * pages are read with rd (sdfs_image_gather: one vm_readv for the runs
 * of the range; a captured page that cannot be read reads as zeros).
 * Returns the bytes filled (0 at or past the end), or the -errno of a
 * reader that failed otherwise than EFAULT / EIO.
 */
ssize_t sdfs_pack_read(const struct sdfs_pack *p,
		       const struct sdfs_image_reader *rd, uint64_t off,
		       void *buf, size_t len);
