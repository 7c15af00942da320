/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * sdfs-apply (sdfs-apply(1)): apply one round of an sdfs snapshot onto a
 * base image. Copies the data extents of IMAGE -- as SEEK_DATA/SEEK_HOLE
 * report them, so the holes of a sparse last/image are never read -- into
 * BASE at the same offsets, and punches into BASE the ranges of a
 * dropped_ranges file. Pages of IMAGE that are all zeros are punched too
 * (BASE stays sparse; they read as zeros either way). With -r, the data
 * extents are taken from the round's dirty_ranges instead, and extents
 * close to each other are read together: on a FUSE mount every lseek and
 * every read is a round trip to the daemon. With -p, the round comes as
 * one stream, last/pack (apply_pack.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "apply.h"

#define DEFAULT_GAP (256u << 10)


static int copy_extents(int in, int out, const char *iname, const char *oname,
			size_t blk, struct stats *st)
{
	char *buf = malloc(CHUNK);
	uint64_t off = 0;
	int r = 0;

	if (!buf)
		return fail(ENOMEM, "buffer for", iname);
	for (;;) {
		off_t d = lseek(in, (off_t)off, SEEK_DATA);
		if (d < 0) {
			if (errno != ENXIO) /* ENXIO: no data past off */
				r = fail(errno, "SEEK_DATA in", iname);
			break;
		}
		off_t h = lseek(in, d, SEEK_HOLE);
		if (h < 0) {
			r = fail(errno, "SEEK_HOLE in", iname);
			break;
		}
		st->extents++;
		uint64_t p = (uint64_t)d;
		while (p < (uint64_t)h) {
			size_t want = (uint64_t)h - p < CHUNK ? (size_t)(h - p)
							      : CHUNK;
			ssize_t n = read_at(in, buf, want, p);
			if (n < 0) {
				r = fail((int)-n, "read of", iname);
				goto out;
			}
			if (n == 0)
				break; /* the file shrank under us */
			r = put(out, buf, (size_t)n, p, blk, st);
			if (r < 0) {
				r = fail(-r, "write to", oname);
				goto out;
			}
			p += (uint64_t)n;
		}
		off = (uint64_t)h;
	}
out:
	free(buf);
	return r;
}

/* Call fn for each range of a dirty_ranges-format file ("START-END ...",
 * - for stdin). 0, or the first error (reported). */
static int each_range(const char *path,
		      int (*fn)(uint64_t a, uint64_t b, void *ctx), void *ctx)
{
	FILE *f = strcmp(path, "-") ? fopen(path, "re") : stdin;
	char *line = NULL;
	size_t cap = 0;
	unsigned long lineno = 0;
	int r = 0;

	if (!f)
		return fail(errno, "cannot open", path);
	while (getline(&line, &cap, f) >= 0) {
		char *e1, *e2;
		lineno++;
		if (line[0] == '\n' || line[0] == '\0')
			continue;
		errno = 0;
		uint64_t a = strtoull(line, &e1, 16);
		uint64_t b = *e1 == '-' ? strtoull(e1 + 1, &e2, 16) : 0;
		if (errno || *e1 != '-' || e2 == e1 + 1 ||
		    (*e2 != ' ' && *e2 != '\n' && *e2 != '\0') || b <= a ||
		    b > (uint64_t)INT64_MAX) {
			fprintf(stderr, "%s: %s:%lu: not a START-END line\n",
				prog, path, lineno);
			r = -EINVAL;
			break;
		}
		r = fn(a, b, ctx);
		if (r < 0)
			break;
	}
	if (r == 0 && ferror(f))
		r = fail(EIO, "read of", path);
	free(line);
	if (f != stdin)
		fclose(f);
	return r;
}

struct punch_ctx {
	int out;
	const char *oname;
	struct stats *st;
};

static int punch_one(uint64_t a, uint64_t b, void *p)
{
	struct punch_ctx *c = p;
	int r = zero_range(c->out, a, b - a);

	if (r < 0)
		return fail(-r, "punching a dropped range in", c->oname);
	c->st->dropped++;
	c->st->dropped_bytes += b - a;
	return 0;
}

/* Punch the ranges of a dirty_ranges-format file. */
static int punch_dropped(const char *path, int out, const char *oname,
			 struct stats *st)
{
	struct punch_ctx c = {out, oname, st};
	return each_range(path, punch_one, &c);
}

/*
 * -r: the extents of IMAGE are the lines of RANGES (ascending, as
 * dirty_ranges is). Extents at most gap apart are gathered into one
 * window of at most CHUNK bytes, read with one pread (the holes between
 * them read as zeros and are not written: BASE keeps what it has there).
 */
struct window_ctx {
	int in, out;
	const char *iname, *oname;
	size_t blk;
	uint64_t gap;
	struct stats *st;
	char *buf;
	uint64_t start, end; /* the window: [start, end), empty if equal */
	uint64_t (*ext)[2];  /* its extents */
	size_t next, cap;
};

static int window_flush(struct window_ctx *w)
{
	size_t len = (size_t)(w->end - w->start);
	ssize_t got = read_at(w->in, w->buf, len, w->start);

	if (got < 0)
		return fail((int)-got, "read of", w->iname);
	/* past the image's end: zeros */
	memset(w->buf + got, 0, len - (size_t)got);
	for (size_t i = 0; i < w->next; i++) {
		uint64_t a = w->ext[i][0], b = w->ext[i][1];
		int r = put(w->out, w->buf + (a - w->start), (size_t)(b - a), a,
			    w->blk, w->st);
		if (r < 0)
			return fail(-r, "write to", w->oname);
		w->st->extents++;
	}
	w->start = w->end = 0;
	w->next = 0;
	return 0;
}

static int window_add(uint64_t a, uint64_t b, void *p)
{
	struct window_ctx *w = p;

	if (w->next && a < w->end) {
		fprintf(stderr, "%s: ranges not ascending at %" PRIx64 "\n",
			prog, a);
		return -EINVAL;
	}
	/* an extent larger than a window goes in pieces */
	while (b - a > CHUNK) {
		int r = window_add(a, a + CHUNK, p);
		if (r < 0)
			return r;
		a += CHUNK;
	}
	if (w->next && (a - w->end > w->gap || b - w->start > CHUNK)) {
		int r = window_flush(w);
		if (r < 0)
			return r;
	}
	if (w->next == w->cap) {
		size_t cap = w->cap ? 2 * w->cap : 64;
		void *n = realloc(w->ext, cap * sizeof(*w->ext));
		if (!n)
			return fail(ENOMEM, "extents of", w->iname);
		w->ext = n;
		w->cap = cap;
	}
	if (!w->next)
		w->start = a;
	w->ext[w->next][0] = a;
	w->ext[w->next][1] = b;
	w->next++;
	w->end = b;
	return 0;
}

static int copy_ranges(const char *ranges, int in, int out, const char *iname,
		       const char *oname, size_t blk, uint64_t gap,
		       struct stats *st)
{
	struct window_ctx w = {.in = in,
			       .out = out,
			       .iname = iname,
			       .oname = oname,
			       .blk = blk,
			       .gap = gap,
			       .st = st};
	w.buf = malloc(CHUNK);
	if (!w.buf)
		return fail(ENOMEM, "buffer for", iname);
	int r = each_range(ranges, window_add, &w);
	if (r == 0 && w.next)
		r = window_flush(&w);
	free(w.ext);
	free(w.buf);
	return r;
}

static void print_stats(const struct stats *st)
{
	fprintf(stderr,
		"%s: %" PRIu64 " extents, %" PRIu64 " bytes written, %" PRIu64
		" bytes of zeros punched, %" PRIu64 " dropped ranges (%" PRIu64
		" bytes) punched\n",
		prog, st->extents, st->written, st->zero_punched, st->dropped,
		st->dropped_bytes);
}

/* -p PACK BASE: the exit status. */
static int apply_pack_main(const char *pack, const char *oname, bool verbose)
{
	struct stats st = {0};
	bool std_in = !strcmp(pack, "-");
	int in = std_in ? 0 : open(pack, O_RDONLY | O_CLOEXEC);

	if (in < 0)
		return fail(errno, "cannot open", pack), 1;
	/* BASE is opened (created) once the header has been checked */
	int out = -1;
	int r = apply_pack(std_in ? "stdin" : pack, in, &out, oname, verbose,
			   &st);
	if (out >= 0 && close(out) < 0 && r == 0)
		r = fail(errno, "close of", oname);
	if (!std_in)
		close(in);
	if (verbose)
		print_stats(&st);
	return r < 0 ? 1 : 0;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: %s [-v] [-d DROPPED] [-r RANGES [-g GAP]] IMAGE BASE\n"
		"       %s [-v] -d DROPPED BASE\n"
		"       %s [-v] -p PACK BASE\n"
		"Apply a round of an sdfs snapshot onto BASE: punch the ranges "
		"of\n"
		"DROPPED (dirty_ranges format, - for stdin), then copy the "
		"data\n"
		"extents of IMAGE (SEEK_DATA/SEEK_HOLE, or the lines of "
		"RANGES,\n"
		"the round's dirty_ranges, read GAP bytes or closer together)\n"
		"to the same offsets; or apply the round in PACK (last/pack,\n"
		"- for stdin). See sdfs-apply(1).\n",
		prog, prog, prog);
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {{"dropped", 1, 0, 'd'},
					   {"ranges", 1, 0, 'r'},
					   {"gap", 1, 0, 'g'},
					   {"pack", 1, 0, 'p'},
					   {"verbose", 0, 0, 'v'},
					   {"help", 0, 0, 'h'},
					   {"version", 0, 0, 'V'},
					   {0, 0, 0, 0}};
	const char *dropped = NULL, *ranges = NULL, *iname = NULL, *oname;
	const char *pack = NULL;
	bool gap_set = false;
	uint64_t gap = DEFAULT_GAP;
	char *end;
	bool verbose = false;
	struct stats st = {0};
	int c;

	while ((c = getopt_long(argc, argv, "d:r:g:p:vh", lo, NULL)) != -1) {
		switch (c) {
		case 'd':
			dropped = optarg;
			break;
		case 'r':
			ranges = optarg;
			break;
		case 'p':
			pack = optarg;
			break;
		case 'g':
			errno = 0;
			gap = strtoull(optarg, &end, 0);
			if (errno || end == optarg || *end || optarg[0] == '-') {
				fprintf(stderr, "%s: -g %s: not a byte count\n",
					prog, optarg);
				return 2;
			}
			gap_set = true;
			break;
		case 'v':
			verbose = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("sdfs-apply %s\n", SDFS_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	int nargs = argc - optind;
	if (pack) {
		if (nargs != 1 || dropped || ranges || gap_set) {
			fprintf(stderr,
				"%s: -p takes BASE alone (the pack holds the "
				"dropped ranges and the runs)\n",
				prog);
			usage(stderr);
			return 2;
		}
		return apply_pack_main(pack, argv[optind], verbose);
	}
	if (nargs == 2) {
		iname = argv[optind];
		oname = argv[optind + 1];
	} else if (nargs == 1 && dropped) {
		oname = argv[optind];
	} else {
		usage(stderr);
		return 2;
	}
	if (ranges && !iname) {
		usage(stderr);
		return 2;
	}
	if (ranges && dropped && !strcmp(ranges, "-") && !strcmp(dropped, "-")) {
		fprintf(stderr, "%s: -d and -r cannot both read stdin\n", prog);
		return 2;
	}

	int in = -1;
	if (iname) {
		in = open(iname, O_RDONLY | O_CLOEXEC);
		if (in < 0)
			return fail(errno, "cannot open", iname), 1;
	}
	size_t blk;
	int out = open_base(oname, &blk);
	if (out < 0)
		return 1;

	int r = 0;
	/* the dropped pages first: a page captured again wins */
	if (dropped)
		r = punch_dropped(dropped, out, oname, &st);
	if (r == 0 && in >= 0)
		r = ranges ? copy_ranges(ranges, in, out, iname, oname, blk,
					 gap, &st)
			   : copy_extents(in, out, iname, oname, blk, &st);
	/* BASE is at least as long as IMAGE, even where IMAGE ends in
	 * zeros that were punched (never shortened) */
	if (r == 0 && in >= 0) {
		struct stat ist, ost;
		if (fstat(in, &ist) < 0)
			r = fail(errno, "cannot stat", iname);
		else if (fstat(out, &ost) < 0)
			r = fail(errno, "cannot stat", oname);
		else if (ist.st_size > ost.st_size &&
			 ftruncate(out, ist.st_size) < 0)
			r = fail(errno, "cannot extend", oname);
	}
	if (close(out) < 0 && r == 0)
		r = fail(errno, "close of", oname);
	if (in >= 0)
		close(in);
	if (verbose)
		print_stats(&st);
	return r < 0 ? 1 : 0;
}
