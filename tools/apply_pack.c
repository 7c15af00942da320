/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * sdfs-apply -p: apply a round read as one stream, last/pack (sdfs(5)):
 * a first line, the round's dropped ranges and captured runs (one
 * fixed-width line each), then the captured pages back to back. The
 * stream is read front to back in large reads (it may be a pipe), the
 * dropped ranges are punched into BASE, then each run is written at its
 * address.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "apply.h"

#define LINE 39		   /* "data " HEX16 "-" HEX16 "\n" */
#define MAX_FIRST_LINE 200 /* the first line is far shorter */

/* ---- a buffered reader that hands out pointers into its buffer -------- */

struct stream {
	int fd;
	const char *name;
	char *buf;
	size_t pos, len; /* unread: buf[pos, len) */
	bool eof;
};

/* At least need bytes unread (need <= CHUNK), fewer only where the stream
 * ends: the bytes unread, or -errno (reported). */
static ssize_t buffer(struct stream *s, size_t need)
{
	while (s->len - s->pos < need && !s->eof) {
		if (s->pos) { /* keep the unread bytes, at the start */
			memmove(s->buf, s->buf + s->pos, s->len - s->pos);
			s->len -= s->pos;
			s->pos = 0;
		}
		ssize_t n = read(s->fd, s->buf + s->len, CHUNK - s->len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return fail(errno, "read of", s->name);
		s->eof = n == 0;
		s->len += (size_t)n;
	}
	return (ssize_t)(s->len - s->pos);
}

/* The next len bytes (len <= CHUNK), or NULL at a short stream. */
static const char *take_exact(struct stream *s, size_t len, int *err)
{
	ssize_t have = buffer(s, len);

	*err = have < 0 ? (int)have : 0;
	if (have < (ssize_t)len)
		return NULL;
	const char *p = s->buf + s->pos;
	s->pos += len;
	return p;
}

/* Up to want bytes (a multiple of unit), whole units unless the stream
 * ends inside one: *got says how many (0 at the end). */
static const char *take_units(struct stream *s, size_t want, size_t unit,
			      size_t *got, int *err)
{
	ssize_t n = buffer(s, want < unit ? want : unit);

	*got = 0;
	*err = n < 0 ? (int)n : 0;
	if (n < 0)
		return NULL;
	size_t have = (size_t)n < want ? (size_t)n : want;
	if (have >= unit)
		have -= have % unit;
	const char *p = s->buf + s->pos;
	s->pos += have;
	*got = have;
	return p;
}

/* ---- the header -----------------------------------------------------------
 */

struct range {
	uint64_t start, end;
};

struct header {
	uint64_t epoch, pages;
	size_t page_size, ndrop, ndata;
	struct range *drop, *data;
};

static int bad(const struct stream *s, const char *what)
{
	fprintf(msgs(), "%s: %s: not an sdfs pack: %s\n", prog, s->name, what);
	return -EINVAL;
}

/* The literal word at *p, then a decimal number without sign or
 * overflow: 0 and *p past both, or -1. */
static int word_number(const char **p, const char *word, uint64_t *v)
{
	size_t n = strlen(word);
	const char *c = *p + n;
	uint64_t x = 0;

	if (strncmp(*p, word, n) || *c < '0' || *c > '9')
		return -1;
	for (; *c >= '0' && *c <= '9'; c++) {
		unsigned d = (unsigned)(*c - '0');
		if (x > (UINT64_MAX - d) / 10)
			return -1;
		x = x * 10 + d;
	}
	*p = c;
	*v = x;
	return 0;
}

static int parse_first(struct stream *s, struct header *h)
{
	char line[MAX_FIRST_LINE + 1];
	size_t n = 0;
	int err;

	for (;;) {
		const char *c = take_exact(s, 1, &err);
		if (!c)
			return err ? err : bad(s, "no first line");
		if (n == MAX_FIRST_LINE)
			return bad(s, "first line too long");
		line[n++] = *c;
		if (*c == '\n')
			break;
	}
	line[n] = '\0';
	/* exactly the daemon's line: single spaces, decimal digits */
	const char *p = line;
	uint64_t version, page_size, ndrop, ndata;
	if (word_number(&p, "sdfs-pack ", &version) ||
	    word_number(&p, " epoch ", &h->epoch) ||
	    word_number(&p, " page_size ", &page_size) ||
	    word_number(&p, " drop ", &ndrop) ||
	    word_number(&p, " data ", &ndata) ||
	    word_number(&p, " pages ", &h->pages) || p != line + n - 1 ||
	    ndrop > SIZE_MAX || ndata > SIZE_MAX)
		return bad(s, "first line not \"sdfs-pack 1 epoch E page_size "
			      "P drop N data N pages N\"");
	if (version != 1)
		return bad(s, "version not 1");
	if (page_size < 512 || page_size > (1u << 20) ||
	    (page_size & (page_size - 1)))
		return bad(s, "page_size not a power of two from 512 to 1M");
	h->page_size = (size_t)page_size;
	h->ndrop = (size_t)ndrop;
	h->ndata = (size_t)ndata;
	return 0;
}

static int hex16(const char *p, uint64_t *v)
{
	*v = 0;
	for (int i = 0; i < 16; i++) {
		int c = p[i], d;
		if (c >= '0' && c <= '9')
			d = c - '0';
		else if (c >= 'a' && c <= 'f')
			d = c - 'a' + 10;
		else
			return -1;
		*v = *v << 4 | (uint64_t)d;
	}
	return 0;
}

/* n lines "TAG START-END", ascending, page aligned, into *out. The
 * array grows with the lines read, never from the count the stream
 * claims: a short or hostile stream costs what it holds. */
static int parse_lines(struct stream *s, const char *tag, size_t n,
		       size_t page_size, struct range **out, uint64_t *pages)
{
	struct range *r = NULL;
	size_t cap = 0;
	uint64_t prev = 0, total = 0;
	int err;

	for (size_t i = 0; i < n; i++) {
		const char *l = take_exact(s, LINE, &err);
		uint64_t a, b;
		if (!l) {
			free(r);
			return err ? err : bad(s, "short header");
		}
		if (memcmp(l, tag, 4) || l[4] != ' ' || hex16(l + 5, &a) ||
		    l[21] != '-' || hex16(l + 22, &b) || l[38] != '\n' ||
		    a >= b || b > (uint64_t)INT64_MAX || a % page_size ||
		    b % page_size || a < prev) {
			free(r);
			fprintf(msgs(),
				"%s: %s: not an sdfs pack: %s line %zu is "
				"not \"%s START-END\" (ascending, page "
				"aligned)\n",
				prog, s->name, tag, i + 1, tag);
			return -EINVAL;
		}
		if (i == cap) {
			cap = cap ? 2 * cap : 256;
			struct range *g = realloc(r, cap * sizeof(*r));
			if (!g) {
				free(r);
				return fail(ENOMEM, "ranges of", s->name);
			}
			r = g;
		}
		r[i] = (struct range){a, b};
		prev = b;
		total += (b - a) / page_size;
	}
	*out = r;
	if (pages)
		*pages = total;
	return 0;
}

/* ---- applying -------------------------------------------------------------
 */

/* The pages of the data runs, each written at its address (in whole
 * pages: zero pages are found in BASE's blocks), and nothing after. */
static int write_runs(struct stream *s, const struct header *h, int out,
		      const char *oname, size_t blk, struct stats *st)
{
	int err;

	for (size_t i = 0; i < h->ndata; i++) {
		uint64_t a = h->data[i].start, b = h->data[i].end;
		while (a < b) {
			size_t got;
			uint64_t want = b - a < CHUNK ? b - a : CHUNK;
			const char *p = take_units(s, (size_t)want,
						   h->page_size, &got, &err);
			if (err)
				return err;
			if (!got)
				return bad(s, "pages cut short");
			int r = put(out, p, got, a, blk, st);
			if (r < 0)
				return fail(-r, "write to", oname);
			a += got;
		}
		st->extents++;
	}
	size_t extra;
	take_units(s, 1, 1, &extra, &err);
	if (err)
		return err;
	if (extra)
		return bad(s, "bytes after the last page");
	return 0;
}

int apply_pack(const char *pname, int in, int *outp, const char *oname,
	       bool verbose, struct stats *st)
{
	struct stream s = {.fd = in, .name = pname};
	struct header h = {0};
	uint64_t pages = 0;
	size_t blk = 4096;
	int r, out = *outp;

	s.buf = malloc(CHUNK);
	if (!s.buf)
		return fail(ENOMEM, "buffer for", pname);
	r = parse_first(&s, &h);
	if (r == 0)
		r = parse_lines(&s, "drop", h.ndrop, h.page_size, &h.drop,
				NULL);
	if (r == 0)
		r = parse_lines(&s, "data", h.ndata, h.page_size, &h.data,
				&pages);
	if (r == 0 && pages != h.pages)
		r = bad(&s, "the data lines do not add up to its pages");
	if (r == 0 && verbose)
		fprintf(msgs(),
			"%s: %s: epoch %" PRIu64 ", %zu dropped ranges, %zu "
			"runs, %" PRIu64 " pages of %zu bytes\n",
			prog, pname, h.epoch, h.ndrop, h.ndata, h.pages,
			h.page_size);
	/* the header is whole and valid: now BASE */
	if (r == 0 && out < 0) {
		out = *outp = open_base(oname, &blk);
		if (out < 0)
			r = -EIO; /* reported */
	}
	/* the dropped pages first: a page captured again wins */
	for (size_t i = 0; r == 0 && i < h.ndrop; i++) {
		r = zero_range(out, h.drop[i].start,
			       h.drop[i].end - h.drop[i].start);
		if (r < 0)
			r = fail(-r, "punching a dropped range in", oname);
		st->dropped++;
		st->dropped_bytes += h.drop[i].end - h.drop[i].start;
	}
	if (r == 0)
		r = write_runs(&s, &h, out, oname, blk, st);
	/* BASE is at least as long as the round's image */
	struct stat ost;
	if (r == 0 && h.ndata) {
		uint64_t end = h.data[h.ndata - 1].end;
		if (fstat(out, &ost) < 0)
			r = fail(errno, "cannot stat", oname);
		else if ((uint64_t)ost.st_size < end &&
			 ftruncate(out, (off_t)end) < 0)
			r = fail(errno, "cannot extend", oname);
	}
	free(h.drop);
	free(h.data);
	free(s.buf);
	return r;
}
