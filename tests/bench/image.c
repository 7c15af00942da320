/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * (e) last/image: `cp --sparse=always last/image` of a full round and of
 * rounds of --image-dirty (1 %), against /proc/PID/mem reading the same
 * pages in the same run, and against cp of the identical sparse file from
 * tmpfs; and, in the same rounds, sdfs-apply(1) of the round onto the
 * base the first round made: with SEEK_DATA/SEEK_HOLE, with -r
 * last/dirty_ranges (and each --apply-gaps), and -r from tmpfs; and the
 * round as one stream, last/pack: copied with cat (what a pipe to another
 * machine reads) and applied with sdfs-apply -p, from the mount and from
 * a copy on tmpfs.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench.h"

#define IO (1u << 20) /* bytes per read: what FUSE sends at most here */

/* pread every run of r from fd (1 MiB per call) into a reused buffer. */
static int read_runs(int fd, const struct runs *r, uint64_t *bytes)
{
	static char *buf;
	if (!buf && !(buf = malloc(IO)))
		return -ENOMEM;
	*bytes = 0;
	for (size_t i = 0; i < r->n; i++)
		for (uint64_t p = r->se[2 * i]; p < r->se[2 * i + 1];) {
			size_t n = r->se[2 * i + 1] - p < IO
					   ? (size_t)(r->se[2 * i + 1] - p)
					   : IO;
			ssize_t got = pread(fd, buf, n, (off_t)p);
			if (got <= 0)
				return got < 0 ? -errno : -EIO;
			p += (uint64_t)got;
			*bytes += (uint64_t)got;
		}
	return 0;
}

static int read_runs_of(const char *path, const struct runs *r, uint64_t *bytes,
			double *secs)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	double t = now_s();
	int e = read_runs(fd, r, bytes);
	*secs = now_s() - t;
	close(fd);
	return e;
}

static double cp_sparse(const char *src, const char *dst)
{
	char *argv[] = {"cp", "--sparse=always", (char *)src, (char *)dst,
			NULL};
	double t;
	unlink(dst);
	int e = run_timed(argv, NULL, &t);
	if (e != 0)
		die("cp --sparse=always %s %s: exit %d", src, dst, e);
	return t;
}

double apply_run(const char *dropped, const char *ranges, const char *gap,
		 const char *image, const char *base)
{
	char *argv[12];
	int n = 0;
	double t;

	argv[n++] = (char *)o.apply;
	if (dropped) {
		argv[n++] = "-d";
		argv[n++] = (char *)dropped;
	}
	if (ranges) {
		argv[n++] = "-r";
		argv[n++] = (char *)ranges;
	}
	if (gap) {
		argv[n++] = "-g";
		argv[n++] = (char *)gap;
	}
	argv[n++] = (char *)image;
	argv[n++] = (char *)base;
	argv[n] = NULL;
	int e = run_timed(argv, NULL, &t);
	if (e != 0)
		die("%s %s%s %s %s: exit %d", o.apply, ranges ? "-r " : "",
		    ranges ? ranges : "", image, base, e);
	return t;
}

double apply_pack_run(const char *pack, const char *base)
{
	char *argv[] = {(char *)o.apply, "-p", (char *)pack, (char *)base,
			NULL};
	double t;
	int e = run_timed(argv, NULL, &t);
	if (e != 0)
		die("%s -p %s %s: exit %d", o.apply, pack, base, e);
	return t;
}

double cat_to(const char *src, const char *dst)
{
	char *argv[] = {"cat", (char *)src, NULL};
	double t;
	int e = run_timed(argv, dst, &t);
	if (e != 0)
		die("cat %s > %s: exit %d", src, dst, e);
	return t;
}

/* The speed a round's copy aims at: 2 GB/s for a full round, 1 GB/s of
 * dirty data for a partial one. */
static void copy_target(struct row *r, const char *dirty)
{
	if (!strcmp(dirty, "all"))
		row_target(r, T_GBS, 2.0, "≥ 2 GB/s");
	else
		row_target(r, T_GBS, 1.0, "≥ 1 GB/s");
}

/* The files of one workload's rounds. */
struct img_paths {
	char img[4200], dr[4200], dropped[4200], copy[4200], copy2[4200];
	char base[4200], rcopy[4200], dcopy[4200], mem[64];
	char pack[4200], pcopy[4200];
	pid_t pid;
	uintptr_t region;
	size_t size;
};

/* The copies of a round that are timed against each other, in an order
 * that rotates from run to run: cp, cat of the pack, sdfs-apply
 * (SEEK_DATA), sdfs-apply -r, sdfs-apply -p, then sdfs-apply -r -g GAP for
 * each --apply-gaps. */
enum { V_CP, V_CAT, V_SEEK, V_RANGES, V_PACK, V_GAP0 };

static double copy_variant(const struct img_paths *p, int v)
{
	char gap[32];

	switch (v) {
	case V_CP:
		return cp_sparse(p->img, p->copy);
	case V_CAT:
		return cat_to(p->pack, p->pcopy);
	case V_PACK:
		return apply_pack_run(p->pack, p->base);
	case V_SEEK:
		return apply_run(p->dropped, NULL, NULL, p->img, p->base);
	case V_RANGES:
		return apply_run(p->dropped, p->dr, NULL, p->img, p->base);
	default:
		snprintf(gap, sizeof(gap), "%" PRIu64,
			 o.apply_gaps[v - V_GAP0]);
		return apply_run(p->dropped, p->dr, gap, p->img, p->base);
	}
}

/* BASE holds every round applied since the first: its copy of the
 * workload's region must be the region's memory (nothing writes it
 * between the clear and here). 0, or -EIO with a warning. */
static int check_base(const struct img_paths *p)
{
	int fb = open(p->base, O_RDONLY | O_CLOEXEC);
	int fm = open(p->mem, O_RDONLY | O_CLOEXEC);
	char *a = malloc(IO), *b = malloc(IO);
	int r = fb < 0 || fm < 0 || !a || !b ? -errno : 0;

	for (size_t off = 0; r == 0 && off < p->size; off += IO) {
		size_t n = p->size - off < IO ? p->size - off : IO;
		if (pread(fb, a, n, (off_t)(p->region + off)) != (ssize_t)n ||
		    pread(fm, b, n, (off_t)(p->region + off)) != (ssize_t)n ||
		    memcmp(a, b, n)) {
			fprintf(stderr,
				"sdfs-bench: warning: the base sdfs-apply "
				"built differs from the memory of %d near "
				"%#zx\n",
				(int)p->pid, (size_t)p->region + off);
			r = -EIO;
		}
	}
	free(a);
	free(b);
	if (fb >= 0)
		close(fb);
	if (fm >= 0)
		close(fm);
	return r;
}

static void fmt_gap(char *out, size_t len, uint64_t g)
{
	if (g && g % (1u << 20) == 0)
		snprintf(out, len, "%" PRIu64 " MiB", g >> 20);
	else if (g && g % 1024 == 0)
		snprintf(out, len, "%" PRIu64 " KiB", g >> 10);
	else
		snprintf(out, len, "%" PRIu64, g);
}

/* One round: the clear was just made. */
static void measure(const struct img_paths *p, int run, const char *sz,
		    const char *dirty, const char *pat)
{
	struct sbuf text = {0}, dtext = {0};
	struct runs r;
	struct stat st;
	uint64_t b1, b2;
	double tr, tm;
	double tv[V_GAP0 + MAX_LIST];
	int nv = o.apply ? V_GAP0 + o.napply_gaps : 2;
	int nuse[] = {V_CP, V_CAT}; /* without --apply: these two */

	if (read_whole(p->dr, &text) < 0 ||
	    runs_parse(text.p, text.len, page_size, &r) < 0)
		die("last/dirty_ranges of %d", (int)p->pid);
	if (read_whole(p->dropped, &dtext) < 0)
		die("read %s", p->dropped);
	if (stat(p->img, &st) < 0)
		die("stat %s: %s", p->img, strerror(errno));
	uint64_t bytes = (uint64_t)st.st_blocks * 512;

	struct row *rc =
		row_new("e. cp --sparse=always last/image / /proc/PID/mem "
			"pread of the same pages, 1 MiB",
			sz, dirty, pat);
	struct row *rg = row_new("e. cp --sparse=always last/image / cp of the "
				 "same sparse file from tmpfs",
				 sz, dirty, pat);
	struct row *rr = row_new("e. read(2) of last/image's pages, 1 MiB / "
				 "/proc/PID/mem, 1 MiB",
				 sz, dirty, pat);
	rc->bytes = rg->bytes = bytes;
	rr->bytes = r.pages * page_size;
	row_target(rc, T_RATIO, 2.5, "≥ 0.4× mem (≤ 2.5×)");
	copy_target(rg, dirty);

	/* BASE: the copy the first round made (not timed) */
	if (o.apply && access(p->base, F_OK) < 0)
		cp_sparse(p->img, p->base);
	for (int k = 0; k < nv; k++) {
		int v = o.apply ? (run + k) % nv : nuse[(run + k) % nv];
		tv[v] = copy_variant(p, v);
	}
	int e = read_runs_of(p->mem, &r, &b1, &tm);
	if (e < 0)
		die("read %s: %s", p->mem, strerror(-e));
	e = read_runs_of(p->img, &r, &b2, &tr);
	if (e < 0)
		die("read %s: %s", p->img, strerror(-e));
	double tt = cp_sparse(p->copy, p->copy2);
	row_add(rc, tv[V_CP], tm);
	row_add(rg, tv[V_CP], tt);
	row_add(rr, tr, tm);
	note("image %s %s %s: %" PRIu64 " bytes captured, %zu extents; cp "
	     "%.3f s, mem %.3f s, image reads %.3f s, tmpfs cp %.3f s",
	     sz, dirty, pat, bytes, r.n, tv[V_CP], tm, tr, tt);
	/* the pack: cat of the stream, against the same pages' /proc/PID/mem
	 * reads and against cat of its copy on tmpfs */
	double tpt = cat_to(p->pcopy, p->copy2);
	struct row *rpm = row_new("e. cat last/pack > tmpfs / /proc/PID/mem "
				  "pread of the same pages, 1 MiB",
				  sz, dirty, pat);
	struct row *rpt = row_new("e. cat last/pack > tmpfs / cat of its copy "
				  "on tmpfs",
				  sz, dirty, pat);
	rpm->bytes = rpt->bytes = bytes;
	copy_target(rpm, dirty);
	row_add(rpm, tv[V_CAT], tm);
	row_add(rpt, tv[V_CAT], tpt);
	note("pack %s %s %s: cat %.3f s, cat of the tmpfs copy %.3f s", sz,
	     dirty, pat, tv[V_CAT], tpt);
	if (o.apply) {
		/* the same apply with the image and the lists on tmpfs */
		if (write_all(p->rcopy, &text) < 0 ||
		    write_all(p->dcopy, &dtext) < 0)
			die("write %s", p->rcopy);
		double ta =
			apply_run(p->dcopy, p->rcopy, NULL, p->copy, p->base);
		struct row *rs = row_new(
			"e. sdfs-apply -d … last/image BASE (SEEK_DATA) / cp "
			"--sparse=always last/image",
			sz, dirty, pat);
		struct row *ra = row_new(
			"e. sdfs-apply -d … -r last/dirty_ranges last/image "
			"BASE / cp --sparse=always last/image",
			sz, dirty, pat);
		struct row *rt = row_new("e. sdfs-apply -d … -r … last/image "
					 "BASE / the same from tmpfs",
					 sz, dirty, pat);
		rs->bytes = ra->bytes = rt->bytes = bytes;
		row_add(rs, tv[V_SEEK], tv[V_CP]);
		row_add(ra, tv[V_RANGES], tv[V_CP]);
		row_add(rt, tv[V_RANGES], ta);
		for (int g = 0; g < o.napply_gaps; g++) {
			char m[128], gs[32];
			fmt_gap(gs, sizeof(gs), o.apply_gaps[g]);
			snprintf(m, sizeof(m),
				 "e. sdfs-apply -d … -r … -g %s last/image "
				 "BASE / cp --sparse=always last/image",
				 gs);
			struct row *rgap = row_new(m, sz, dirty, pat);
			rgap->bytes = bytes;
			row_add(rgap, tv[V_GAP0 + g], tv[V_CP]);
		}
		note("image %s %s %s: sdfs-apply %.3f s, -r %.3f s (from "
		     "tmpfs %.3f s)",
		     sz, dirty, pat, tv[V_SEEK], tv[V_RANGES], ta);
		double tpa = apply_pack_run(p->pcopy, p->base);
		struct row *rp = row_new("e. sdfs-apply -p last/pack BASE / "
					 "/proc/PID/mem pread of the same "
					 "pages, 1 MiB",
					 sz, dirty, pat);
		struct row *rpc =
			row_new("e. sdfs-apply -p last/pack BASE / cp "
				"--sparse=always last/image",
				sz, dirty, pat);
		struct row *rpa = row_new("e. sdfs-apply -p last/pack BASE / "
					  "the same from tmpfs",
					  sz, dirty, pat);
		rp->bytes = rpc->bytes = rpa->bytes = bytes;
		copy_target(rp, dirty);
		row_add(rp, tv[V_PACK], tm);
		row_add(rpc, tv[V_PACK], tv[V_CP]);
		row_add(rpa, tv[V_PACK], tpa);
		note("pack %s %s %s: sdfs-apply -p %.3f s (from tmpfs %.3f s)",
		     sz, dirty, pat, tv[V_PACK], tpa);
		if (check_base(p) < 0) {
			snprintf(ra->note, sizeof(ra->note),
				 "the base differs from the memory "
				 "(stderr)");
		}
	}
	unlink(p->copy);
	unlink(p->copy2);
	unlink(p->pcopy);
	runs_free(&r);
	sbuf_free(&text);
	sbuf_free(&dtext);
}

/* One round when memory holds the process but not the copies (16 GiB
 * here): the reads alone -- cat of the pack to /dev/null, the image's
 * pages in 1 MiB reads -- against /proc/PID/mem reading the same pages. */
static void measure_reads(const struct img_paths *p, const char *sz,
			  const char *dirty, const char *pat, uint64_t need)
{
	struct sbuf text = {0};
	struct runs r;
	uint64_t b1, b2;
	double tm, tr;

	if (read_whole(p->dr, &text) < 0 ||
	    runs_parse(text.p, text.len, page_size, &r) < 0)
		die("last/dirty_ranges of %d", (int)p->pid);
	double tc = cat_to(p->pack, "/dev/null");
	int e = read_runs_of(p->mem, &r, &b1, &tm);
	if (e == 0)
		e = read_runs_of(p->img, &r, &b2, &tr);
	if (e < 0)
		die("read %s: %s", p->img, strerror(-e));
	struct row *rc = row_new("e. cat last/pack > /dev/null / /proc/PID/mem "
				 "pread of the same pages, 1 MiB",
				 sz, dirty, pat);
	struct row *rr = row_new("e. read(2) of last/image's pages, 1 MiB / "
				 "/proc/PID/mem, 1 MiB",
				 sz, dirty, pat);
	rc->bytes = rr->bytes = r.pages * page_size;
	copy_target(rc, dirty);
	row_add(rc, tc, tm);
	row_add(rr, tr, tm);
	note("pack %s %s %s (reads only: the copies need %" PRIu64
	     " MiB free memory): cat %.3f s, image reads %.3f s, mem %.3f s",
	     sz, dirty, pat, need >> 20, tc, tr, tm);
	runs_free(&r);
	sbuf_free(&text);
}

void bench_image(size_t size)
{
	char sz[32], clear[4200], dirty[16];
	struct img_paths p = {0};
	struct bw w;

	fmt_size(sz, sizeof(sz), size);
	/* the process; on tmpfs its copy, the copy of the copy, the pack's
	 * copy, and the base sdfs-apply updates */
	uint64_t need = (o.apply ? 5 : 4) * (uint64_t)size + (512UL << 20);
	/* short of that: the reads alone, if the process fits */
	bool reads_only = mem_available() < need;
	if (reads_only && mem_available() < size + size / 4 + (1UL << 30)) {
		struct row *r = row_new("e. last/image rows", sz, "", "");
		snprintf(r->note, sizeof(r->note),
			 "skipped: needs %" PRIu64 " MiB free memory",
			 need >> 20);
		return;
	}
	if (bw_start(o.bigwork, size, 1, o.thp, false, &w) < 0)
		die("start bigwork");
	p.pid = w.pid;
	p.region = w.base;
	p.size = w.size;
	piddir_path(clear, sizeof(clear), w.pid, "clear");
	piddir_path(p.img, sizeof(p.img), w.pid, "last/image");
	piddir_path(p.dr, sizeof(p.dr), w.pid, "last/dirty_ranges");
	piddir_path(p.dropped, sizeof(p.dropped), w.pid, "last/dropped_ranges");
	piddir_path(p.pack, sizeof(p.pack), w.pid, "last/pack");
	snprintf(p.pcopy, sizeof(p.pcopy), "%s/pack.copy", workdir);
	snprintf(p.copy, sizeof(p.copy), "%s/image.copy", workdir);
	snprintf(p.copy2, sizeof(p.copy2), "%s/image.copy2", workdir);
	snprintf(p.base, sizeof(p.base), "%s/image.base", workdir);
	snprintf(p.rcopy, sizeof(p.rcopy), "%s/image.ranges", workdir);
	snprintf(p.dcopy, sizeof(p.dcopy), "%s/image.dropped", workdir);
	snprintf(p.mem, sizeof(p.mem), "/proc/%d/mem", (int)w.pid);
	for (int run = 0; run < o.runs; run++) {
		/* the first clear captures everything; later full rounds
		 * write every page of the region first */
		if (run > 0 && bw_write(&w, 1000000, "seq", 1, NULL) < 0)
			die("workload write");
		if (write_clear(clear) < 0)
			die("clear");
		if (reads_only)
			measure_reads(&p, sz, "all", "", need);
		else
			measure(&p, run, sz, "all", "");
	}
	for (int di = 0; di < o.nimage_dirty; di++) {
		unsigned long ppm =
			(unsigned long)llround(o.image_dirty[di] * 10000);
		snprintf(dirty, sizeof(dirty), "%g%%", o.image_dirty[di]);
		for (int pi = 0; pi < o.npats; pi++)
			for (int run = 0; run < o.runs; run++) {
				/* bigwork's rand is an affine permutation
				 * (a * i + b mod pages) and some multipliers
				 * cluster the pages (seed 5242 at 10 % of
				 * 1 GiB: 59 extents); 4330..4336 scatter them
				 * at 1 and 10 % of 256 MiB and 1 GiB */
				if (bw_write(&w, ppm, o.pats[pi],
					     4330 + (uint64_t)run, NULL) < 0)
					die("workload write");
				if (write_clear(clear) < 0)
					die("clear");
				if (reads_only)
					measure_reads(&p, sz, dirty, o.pats[pi],
						      need);
				else
					measure(&p, run, sz, dirty, o.pats[pi]);
			}
	}
	unlink(p.base);
	unlink(p.rcopy);
	unlink(p.dcopy);
	bw_stop(&w);
}
