/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* last/pack: the layout and the reads of a round's stream (pack.h). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pack.h"

#define MARK_EVERY 64 /* runs between two marks */

static size_t head_line(char *buf, size_t cap, const struct sdfs_dirtyset *data,
			const struct sdfs_dirtyset *drop, uint64_t epoch,
			size_t page_size)
{
	int n = snprintf(buf, cap,
			 "sdfs-pack 1 epoch %" PRIu64 " page_size %zu drop %zu"
			 " data %zu pages %" PRIu64 "\n",
			 epoch, page_size, drop->n, data->n, data->pages);
	return n > 0 ? (size_t)n : 0;
}

uint64_t sdfs_pack_size(const struct sdfs_dirtyset *data,
			const struct sdfs_dirtyset *drop, uint64_t epoch,
			size_t page_size)
{
	return head_line(NULL, 0, data, drop, epoch, page_size) +
	       (uint64_t)(drop->n + data->n) * SDFS_PACK_LINE +
	       data->pages * page_size;
}

/* A mark every MARK_EVERY runs of s, the first at run 0. */
static int make_marks(const struct sdfs_dirtyset *s, size_t page_size,
		      struct sdfs_pack_mark **out, size_t *nout)
{
	size_t n = s->n / MARK_EVERY + 1;
	struct sdfs_pack_mark *m = calloc(n, sizeof(*m));
	struct sdfs_run_iter it;
	struct sdfs_run r;
	uint64_t pages = 0;

	if (!m)
		return -ENOMEM;
	sdfs_dirtyset_iter(s, &it);
	for (size_t i = 0;; i++) {
		if (i % MARK_EVERY == 0)
			m[i / MARK_EVERY] = (struct sdfs_pack_mark){
				.it = it, .pages = pages};
		if (!sdfs_run_iter_next(&it, &r))
			break;
		pages += (r.end - r.start) / page_size;
	}
	*out = m;
	*nout = n;
	return 0;
}

int sdfs_pack_init(struct sdfs_pack *p, const struct sdfs_dirtyset *data,
		   const struct sdfs_dirtyset *drop, uint64_t epoch,
		   size_t page_size)
{
	memset(p, 0, sizeof(*p));
	p->data = data;
	p->drop = drop;
	p->page_size = page_size;
	p->head_len = head_line(p->head, sizeof(p->head), data, drop, epoch,
				page_size);
	p->header_len =
		p->head_len + (uint64_t)(drop->n + data->n) * SDFS_PACK_LINE;
	p->size = p->header_len + data->pages * page_size;
	if (make_marks(data, page_size, &p->dmarks, &p->ndmarks) < 0 ||
	    make_marks(drop, page_size, &p->xmarks, &p->nxmarks) < 0) {
		sdfs_pack_free(p);
		return -ENOMEM;
	}
	return 0;
}

void sdfs_pack_free(struct sdfs_pack *p)
{
	free(p->dmarks);
	free(p->xmarks);
	p->dmarks = p->xmarks = NULL;
}

/* An iterator at run i of a set. */
static struct sdfs_run_iter iter_at(const struct sdfs_pack_mark *m, size_t i)
{
	struct sdfs_run_iter it = m[i / MARK_EVERY].it;
	struct sdfs_run r;

	for (size_t k = i % MARK_EVERY; k; k--)
		sdfs_run_iter_next(&it, &r);
	return it;
}

/* [off, off + len) of the lines, off counted from the first line. */
static void read_lines(const struct sdfs_pack *p, uint64_t off, char *out,
		       size_t len)
{
	size_t ndrop = p->drop->n, line = (size_t)(off / SDFS_PACK_LINE);
	size_t skip = (size_t)(off % SDFS_PACK_LINE);
	struct sdfs_run_iter it = line < ndrop
					  ? iter_at(p->xmarks, line)
					  : iter_at(p->dmarks, line - ndrop);
	char text[SDFS_PACK_LINE + 1];
	struct sdfs_run r;

	while (len) {
		if (line == ndrop) /* from the drop lines to the data lines */
			it = iter_at(p->dmarks, 0);
		sdfs_run_iter_next(&it, &r);
		snprintf(text, sizeof(text),
			 "%s %016" PRIx64 "-%016" PRIx64 "\n",
			 line < ndrop ? "drop" : "data", r.start, r.end);
		size_t k = SDFS_PACK_LINE - skip < len ? SDFS_PACK_LINE - skip
						       : len;
		memcpy(out, text + skip, k);
		out += k;
		len -= k;
		skip = 0;
		line++;
	}
}

/* [off, off + len) of the pages, off counted from the first page. */
static int read_pages(const struct sdfs_pack *p,
		      const struct sdfs_image_reader *rd, uint64_t off,
		      char *out, size_t len)
{
	const size_t ps = p->page_size;
	uint64_t page = off / ps;
	struct sdfs_image_piece pc[257]; /* a 1 MiB read from inside a page */
	size_t n = 0, lo = 0, hi = p->ndmarks;
	struct sdfs_run r;

	/* the last mark at or before the page */
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;
		if (p->dmarks[mid].pages <= page)
			lo = mid;
		else
			hi = mid;
	}
	struct sdfs_run_iter it = p->dmarks[lo].it;
	uint64_t before = p->dmarks[lo].pages; /* pages of the runs before r */
	uint64_t at = off; /* where r is read from, in bytes of pages */
	while (len && sdfs_run_iter_next(&it, &r)) {
		uint64_t bytes = r.end - r.start;
		uint64_t first = before * ps; /* r's first byte in the stream */
		before += bytes / ps;
		if (first + bytes <= at)
			continue;
		uint64_t from = at - first;
		size_t k = bytes - from < len ? (size_t)(bytes - from) : len;
		pc[n++] = (struct sdfs_image_piece){
			.addr = r.start + from, .len = k, .out = out};
		out += k;
		len -= k;
		at += k;
		if (n == sizeof(pc) / sizeof(pc[0])) {
			int e = sdfs_image_gather(rd, ps, pc, n);
			if (e < 0)
				return e;
			n = 0;
		}
	}
	return sdfs_image_gather(rd, ps, pc, n);
}

ssize_t sdfs_pack_read(const struct sdfs_pack *p,
		       const struct sdfs_image_reader *rd, uint64_t off,
		       void *buf, size_t len)
{
	char *out = buf;

	if (off >= p->size)
		return 0;
	if (len > p->size - off)
		len = (size_t)(p->size - off);
	size_t done = 0;
	if (off < p->head_len) {
		size_t k = p->head_len - off < len ? p->head_len - (size_t)off
						   : len;
		memcpy(out, p->head + off, k);
		done += k;
	}
	if (done < len && off + done < p->header_len) {
		uint64_t at = off + done;
		size_t k = p->header_len - at < len - done
				   ? (size_t)(p->header_len - at)
				   : len - done;
		read_lines(p, at - p->head_len, out + done, k);
		done += k;
	}
	if (done < len) {
		int e = read_pages(p, rd, off + done - p->header_len,
				   out + done, len - done);
		if (e < 0)
			return e;
	}
	return (ssize_t)len;
}
