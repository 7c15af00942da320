/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * (f) CRIU side by side: what a user would run instead of sdfs to copy a
 * running process's memory round after round.
 *
 * Two identical workloads, A and B, are written with the same seed every
 * epoch. A is pre-dumped by CRIU (`criu pre-dump --track-mem` into a chain
 * of image directories, the first of each chain dumping every page); B is
 * copied by sdfs: a clear, then `cp --sparse=always last/image X` (image
 * rounds), `sdfs-apply -d last/dropped_ranges -r last/dirty_ranges
 * last/image BASE` onto the copy the first round made (apply rounds),
 * `sdfs-apply -p last/pack BASE` onto the same copy (pack rounds) or
 * the rsync recipe of the README (rsync rounds). Within an
 * epoch the two run one after the other, in alternating order; every
 * kind of round is preceded by one uncounted round of its own kind, so
 * that each is measured in its steady state (a clear after an rsync round
 * drops the entries that round cached). Frozen times come from
 * `--display-stats` and sdfs's `status`; a round is wall time of the
 * commands, as a user would run them.
 *
 * The parts of sdfs's rounds are timed too (clear, reading last/changes,
 * the copy), each copy also against the same copy from tmpfs: what the
 * round would cost if reading sdfs were free.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench.h"

/* What one CRIU pre-dump reported. */
struct criu_run {
	double wall;		  /* the whole command */
	double frozen;		  /* "Frozen time" */
	double memdump, memwrite; /* "Memory dump time", "Memory write time" */
	uint64_t written;	  /* "Memory pages written" */
};

/* A chain of pre-dump image directories under workdir/criu-C/N. */
struct chain {
	int id, n; /* n: dumps made so far */
};

static double stat_us(const char *text, const char *key)
{
	const char *p = strstr(text, key);
	if (!p)
		return NAN;
	return strtod(p + strlen(key), NULL) * 1e-6;
}

/* criu pre-dump of pid into the next directory of chain c. 0 or -errno;
 * on failure the last lines of criu's log are printed. */
static int criu_predump(struct chain *c, pid_t pid, struct criu_run *out)
{
	char dir[4200], prev[64], out_path[4300], log[16] = "log", spid[16];
	snprintf(dir, sizeof(dir), "%s/criu-%d/%d", workdir, c->id, c->n);
	snprintf(prev, sizeof(prev), "../%d", c->n - 1);
	snprintf(out_path, sizeof(out_path), "%s.stats", dir);
	snprintf(spid, sizeof(spid), "%d", (int)pid);
	char parent[4200];
	snprintf(parent, sizeof(parent), "%s/criu-%d", workdir, c->id);
	mkdir(parent, 0755);
	if (mkdir(dir, 0755) < 0)
		return -errno;
	char *argv[20] = {(char *)o.criu,
			  "pre-dump",
			  "-t",
			  spid,
			  "-D",
			  dir,
			  "--shell-job",
			  "--track-mem",
			  "--display-stats",
			  "-o",
			  log};
	int na = 11;
	if (c->n > 0) {
		argv[na++] = "--prev-images-dir";
		argv[na++] = prev;
	}
	argv[na] = NULL;
	int e = run_timed(argv, out_path, &out->wall);
	struct sbuf text = {0};
	int r = read_whole(out_path, &text);
	if (e != 0 || r < 0) {
		char cmd[8600];
		fprintf(stderr,
			"sdfs-bench: criu pre-dump exit %d; the end of "
			"%s/log:\n",
			e, dir);
		snprintf(cmd, sizeof(cmd), "tail -n 15 '%s/log' >&2", dir);
		if (system(cmd) != 0)
			fprintf(stderr, "(no log)\n");
		sbuf_free(&text);
		return -EIO;
	}
	out->frozen = stat_us(text.p, "Frozen time:");
	out->memdump = stat_us(text.p, "Memory dump time:");
	out->memwrite = stat_us(text.p, "Memory write time:");
	const char *w = strstr(text.p, "Memory pages written:");
	out->written = w ? strtoull(w + 21, NULL, 10) : 0;
	sbuf_free(&text);
	c->n++;
	return isnan(out->frozen) ? -EPROTO : 0;
}

static void chain_drop(struct chain *c)
{
	char d[4200];
	snprintf(d, sizeof(d), "%s/criu-%d", workdir, c->id);
	rm_rf(d);
}

/* frozen_us of the last clear, in seconds (NAN when missing) */
static double frozen_s(const char *status)
{
	long long us = status_value(status, "frozen_us");
	return us >= 0 ? (double)us * 1e-6 : NAN;
}

static double timed(char *const argv[])
{
	double t;
	int e = run_timed(argv, NULL, &t);
	if (e != 0)
		die("%s: exit %d", argv[0], e);
	return t;
}

/* the paths of B's files and of the copies */
struct paths {
	char clear[4200], status[4200], image[4200], changes[4200], pages[4200];
	char pack[4200];
	char dr[4200], dropped[4200], base[4200], rcopy[4200], dcopy[4200];
	char x[4200], x2[4200], snap[4200], snap2[4200], list[4200];
};

/* the kinds of sdfs rounds, in the order they run per dirty share */
enum kind { K_IMAGE, K_APPLY, K_PACK, K_RSYNC, NKINDS };
static const char *const kind_name[] = {"image", "apply", "pack", "rsync"};

/* One sdfs round of B; every part timed. */
struct round {
	double clear, frozen, listing, copy, copy_tmpfs;
	uint64_t pages; /* captured (from st_blocks or the listing) */
	size_t extents; /* runs of last/dirty_ranges (read after the round) */
};

/* The runs of last/dirty_ranges: what the round's copy had to find (read
 * after the timed part); its pages into *pages unless NULL. */
static size_t count_extents(const struct paths *p, uint64_t *pages)
{
	struct sbuf text = {0};
	struct runs ru;

	if (read_whole(p->dr, &text) < 0 ||
	    runs_parse(text.p, text.len, page_size, &ru) < 0)
		die("read %s", p->dr);
	size_t n = ru.n;
	if (pages)
		*pages = ru.pages;
	runs_free(&ru);
	sbuf_free(&text);
	return n;
}

/* The round's clear, timed, and the time B was stopped for it. */
static void timed_clear(const struct paths *p, struct round *r)
{
	double t = now_s();
	if (write_clear(p->clear) < 0)
		die("echo 1 > %s", p->clear);
	r->clear = now_s() - t;
	r->frozen = frozen_s(p->status);
}

static void sdfs_image_round(const struct paths *p, bool base, struct round *r)
{
	char *cp1[] = {"cp", "--sparse=always", (char *)p->image, (char *)p->x,
		       NULL};
	char *cp2[] = {"cp", "--sparse=always", (char *)p->x, (char *)p->x2,
		       NULL};
	struct stat st;

	unlink(p->x);
	unlink(p->x2);
	timed_clear(p, r);
	r->copy = timed(cp1);
	r->listing = NAN;
	r->pages = stat(p->x, &st) == 0
			   ? (uint64_t)st.st_blocks * 512 / page_size
			   : 0;
	r->copy_tmpfs = base ? timed(cp2) : NAN;
	r->extents = count_extents(p, NULL);
}

/* clear + sdfs-apply -d last/dropped_ranges -r last/dirty_ranges
 * last/image BASE; then (not timed) the image to X with the lists on
 * tmpfs, and the same apply from there (timed). */
static void sdfs_apply_round(const struct paths *p, bool base, struct round *r)
{
	struct sbuf text = {0}, dtext = {0};

	unlink(p->x);
	unlink(p->x2);
	timed_clear(p, r);
	r->copy = apply_run(p->dropped, p->dr, NULL, p->image, p->base);
	r->listing = NAN;
	r->copy_tmpfs = NAN;
	r->extents = count_extents(p, &r->pages);
	if (base) {
		if (read_whole(p->dr, &text) < 0 ||
		    read_whole(p->dropped, &dtext) < 0 ||
		    write_all(p->rcopy, &text) < 0 ||
		    write_all(p->dcopy, &dtext) < 0)
			die("copy %s and %s", p->dr, p->dropped);
		apply_run(NULL, p->rcopy, NULL, p->image, p->x);
		r->copy_tmpfs =
			apply_run(p->dcopy, p->rcopy, NULL, p->x, p->base);
	}
	sbuf_free(&text);
	sbuf_free(&dtext);
}

/* clear + sdfs-apply -p last/pack BASE; then (not timed) the pack to X,
 * and the same apply from there (timed). */
static void sdfs_pack_round(const struct paths *p, bool base, struct round *r)
{
	unlink(p->x);
	timed_clear(p, r);
	r->copy = apply_pack_run(p->pack, p->base);
	r->listing = NAN;
	r->copy_tmpfs = NAN;
	if (base) {
		cat_to(p->pack, p->x);
		r->copy_tmpfs = apply_pack_run(p->x, p->base);
	}
	r->extents = count_extents(p, &r->pages);
}

static void sdfs_rsync_round(const struct paths *p, bool base, struct round *r)
{
	char from[4300], ff[4300], ff2[4300], src2[4300], dst[4300], dst2[4300];
	snprintf(from, sizeof(from), "%s/", p->pages);
	snprintf(ff, sizeof(ff), "--files-from=%s", p->changes);
	snprintf(ff2, sizeof(ff2), "--files-from=%s", p->list);
	snprintf(src2, sizeof(src2), "%s/", p->snap);
	snprintf(dst, sizeof(dst), "%s/", p->snap);
	snprintf(dst2, sizeof(dst2), "%s/", p->snap2);
	char *rs1[] = {"rsync",
		       "-a",
		       "--ignore-times",
		       ff,
		       "--delete-missing-args",
		       from,
		       dst,
		       NULL};
	char *rs2[] = {"rsync",
		       "-a",
		       "--ignore-times",
		       ff2,
		       "--delete-missing-args",
		       src2,
		       dst2,
		       NULL};
	struct sbuf list = {0};

	timed_clear(p, r);
	/* the listing alone (rsync reads it again, as a user's would) */
	double t = now_s();
	if (read_whole(p->changes, &list) < 0)
		die("read %s", p->changes);
	r->listing = now_s() - t;
	r->pages = 0;
	for (size_t i = 0; i < list.len; i++)
		r->pages += list.p[i] == '\n';
	r->copy = timed(rs1);
	r->copy_tmpfs = NAN;
	if (base) {
		FILE *f = fopen(p->list, "we");
		if (!f || fwrite(list.p, 1, list.len, f) != list.len ||
		    fclose(f) != 0)
			die("write %s", p->list);
		r->copy_tmpfs = timed(rs2);
	}
	sbuf_free(&list);
	r->extents = count_extents(p, NULL);
}

/* the table's rows of one dirty share */
struct rows {
	struct row *frozen, *img, *rs, *clr_img, *clr_rs, *cp, *rsy, *lst;
	struct row *ap, *clr_ap, *apl;
	struct row *pk, *clr_pk, *pkl;
};

static void rows_new(struct rows *R, const char *sz, const char *dirty,
		     const char *pat)
{
	R->frozen =
		row_new("f. frozen: sdfs frozen_us / CRIU pre-dump frozen time",
			sz, dirty, pat);
	R->img = row_new("f. round: clear + cp --sparse=always last/image / "
			 "CRIU pre-dump",
			 sz, dirty, pat);
	R->ap = row_new("f. round: clear + sdfs-apply -d … -r "
			"last/dirty_ranges last/image BASE / CRIU pre-dump",
			sz, dirty, pat);
	R->pk = row_new("f. round: clear + sdfs-apply -p last/pack BASE / "
			"CRIU pre-dump",
			sz, dirty, pat);
	R->rs = row_new("f. round: clear + rsync recipe / CRIU pre-dump", sz,
			dirty, pat);
	R->clr_img = row_new("f. part: clear (wall) of an image round", sz,
			     dirty, pat);
	R->clr_ap = row_new("f. part: clear (wall) of an apply round", sz,
			    dirty, pat);
	R->clr_pk = row_new("f. part: clear (wall) of a pack round", sz, dirty,
			    pat);
	R->clr_rs = row_new("f. part: clear (wall) of an rsync round (drops "
			    "the last round's entries)",
			    sz, dirty, pat);
	R->cp = row_new("f. part: cp --sparse=always last/image / the same cp "
			"from tmpfs",
			sz, dirty, pat);
	R->apl = row_new("f. part: sdfs-apply -d … -r … last/image BASE / "
			 "the same from tmpfs",
			 sz, dirty, pat);
	R->pkl = row_new("f. part: sdfs-apply -p last/pack BASE / the same "
			 "from tmpfs",
			 sz, dirty, pat);
	R->lst = row_new("f. part: read last/changes (the listing)", sz, dirty,
			 pat);
	R->rsy = row_new("f. part: rsync recipe / the same rsync from tmpfs",
			 sz, dirty, pat);
	row_target(R->frozen, T_RATIO, 1.0, "< CRIU (≤ 1×)");
	row_target(R->img, T_RATIO, 1.0, "< CRIU (≤ 1×)");
	row_target(R->ap, T_RATIO, 1.0, "< CRIU (≤ 1×)");
	row_target(R->pk, T_RATIO, 1.0, "< CRIU (≤ 1×)");
	row_target(R->rs, T_RATIO, 1.0, "< CRIU (≤ 1×)");
	R->clr_img->no_base = R->clr_rs->no_base = R->lst->no_base = true;
	R->clr_ap->no_base = R->clr_pk->no_base = true;
	if (!o.apply) {
		struct row *skip[] = {R->ap, R->clr_ap, R->apl,
				      R->pk, R->clr_pk, R->pkl};
		for (int i = 0; i < 6; i++)
			snprintf(skip[i]->note, sizeof(skip[i]->note),
				 "skipped: no sdfs-apply (--apply PATH)");
	}
}

/* One epoch: both written alike, then CRIU on A and a round on B in the
 * order given by `criu_first`. Counted unless warm-up. */
static void epoch(struct bw *a, struct bw *b, struct chain *ch,
		  const struct paths *p, unsigned long ppm, const char *pat,
		  uint64_t seed, enum kind kind, bool criu_first, bool count,
		  const struct rows *R)
{
	struct criu_run c;
	struct round r;
	uint64_t na, nb;

	if (bw_write(a, ppm, pat, seed, &na) < 0 ||
	    bw_write(b, ppm, pat, seed, &nb) < 0)
		die("workload write");
	for (int k = 0; k < 2; k++) {
		if ((k == 0) == criu_first) {
			int e = criu_predump(ch, a->pid, &c);
			if (e < 0)
				die("criu pre-dump of %d: %s", (int)a->pid,
				    strerror(-e));
		} else if (kind == K_RSYNC) {
			sdfs_rsync_round(p, count, &r);
		} else if (kind == K_APPLY) {
			sdfs_apply_round(p, count, &r);
		} else if (kind == K_PACK) {
			sdfs_pack_round(p, count, &r);
		} else {
			sdfs_image_round(p, count, &r);
		}
	}
	note("criu %s %s: %.3f s (frozen %.1f ms, memory dump %.1f ms, write "
	     "%.1f ms, "
	     "%" PRIu64 " pages written); "
	     "sdfs %s: clear %.3f s (frozen %.1f ms), listing %.3f s, copy "
	     "%.3f s "
	     "(tmpfs %.3f s), %" PRIu64 " pages, %zu extents%s",
	     pat, kind_name[kind], c.wall, c.frozen * 1e3, c.memdump * 1e3,
	     c.memwrite * 1e3, c.written, kind_name[kind], r.clear,
	     r.frozen * 1e3, r.listing, r.copy, r.copy_tmpfs, r.pages,
	     r.extents, count ? "" : " (warm-up)");
	if (!count)
		return;
	row_add(R->frozen, r.frozen, c.frozen);
	struct row *round[] = {R->img, R->ap, R->pk, R->rs};
	struct row *clear[] = {R->clr_img, R->clr_ap, R->clr_pk, R->clr_rs};
	struct row *copy[] = {R->cp, R->apl, R->pkl, R->rsy};
	row_add(round[kind], r.clear + r.copy, c.wall);
	row_add_s(clear[kind], r.clear);
	row_add(copy[kind], r.copy, r.copy_tmpfs);
	if (kind == K_RSYNC)
		row_add_s(R->lst, r.listing);
}

void bench_criu(size_t size)
{
	char sz[32], dirty[16];
	struct bw a, b;
	struct paths p;
	static int chain_ids;

	fmt_size(sz, sizeof(sz), size);
	if (bw_start(o.bigwork, size, 1, o.thp, false, &a) < 0 ||
	    bw_start(o.bigwork, size, 1, o.thp, false, &b) < 0)
		die("start bigwork");
	piddir_path(p.clear, sizeof(p.clear), b.pid, "clear");
	piddir_path(p.status, sizeof(p.status), b.pid, "status");
	piddir_path(p.image, sizeof(p.image), b.pid, "last/image");
	piddir_path(p.pack, sizeof(p.pack), b.pid, "last/pack");
	piddir_path(p.changes, sizeof(p.changes), b.pid, "last/changes");
	piddir_path(p.pages, sizeof(p.pages), b.pid, "last/pages");
	piddir_path(p.dr, sizeof(p.dr), b.pid, "last/dirty_ranges");
	piddir_path(p.dropped, sizeof(p.dropped), b.pid, "last/dropped_ranges");
	snprintf(p.base, sizeof(p.base), "%s/criu-image.base", workdir);
	snprintf(p.rcopy, sizeof(p.rcopy), "%s/criu-ranges", workdir);
	snprintf(p.dcopy, sizeof(p.dcopy), "%s/criu-dropped", workdir);
	snprintf(p.x, sizeof(p.x), "%s/criu-image.copy", workdir);
	snprintf(p.x2, sizeof(p.x2), "%s/criu-image.copy2", workdir);
	snprintf(p.snap, sizeof(p.snap), "%s/criu-snap", workdir);
	snprintf(p.snap2, sizeof(p.snap2), "%s/criu-snap2", workdir);
	snprintf(p.list, sizeof(p.list), "%s/criu-changes", workdir);

	/* The first round: every page. */
	struct chain ch = {.id = chain_ids++};
	struct criu_run c;
	struct round r;
	struct row *first = row_new(
		"f. first round (all pages): clear + cp --sparse=always "
		"last/image / CRIU pre-dump",
		sz, "all", "");
	int e = criu_predump(&ch, a.pid, &c);
	if (e < 0)
		die("criu pre-dump of %d: %s", (int)a.pid, strerror(-e));
	sdfs_image_round(&p, false, &r);
	row_add(first, r.clear + r.copy, c.wall);
	note("first round: criu %.3f s (frozen %.1f ms, %" PRIu64
	     " pages); sdfs clear "
	     "%.3f s (frozen %.1f ms) + cp %.3f s, %" PRIu64 " pages",
	     c.wall, c.frozen * 1e3, c.written, r.clear, r.frozen * 1e3, r.copy,
	     r.pages);
	/* the base of the apply rounds: the copy the first round made */
	if (rename(p.x, p.base) < 0)
		die("rename %s: %s", p.x, strerror(errno));

	uint64_t seed = 777;
	int ep = 0;
	for (int di = 0; di < o.ndirty; di++) {
		unsigned long ppm = (unsigned long)llround(o.dirty[di] * 10000);
		snprintf(dirty, sizeof(dirty), "%g%%", o.dirty[di]);
		for (int pi = 0; pi < o.npats; pi++) {
			struct rows R;
			rows_new(&R, sz, dirty, o.pats[pi]);
			rm_rf(p.snap);
			rm_rf(p.snap2);
			for (int k = 0; k < NKINDS; k++) {
				if ((k == K_APPLY || k == K_PACK) && !o.apply)
					continue;
				/* a fresh chain per kind of round keeps CRIU's
				 * images (and the depth of its parent chain)
				 * bounded: with the base of the apply rounds
				 * they must fit the guest's tmpfs */
				if (ch.n > 0) {
					chain_drop(&ch);
					ch = (struct chain){.id = chain_ids++};
					if (criu_predump(&ch, a.pid, &c) < 0)
						die("criu pre-dump of %d",
						    (int)a.pid);
				}
				for (int run = -1; run < o.runs; run++, ep++)
					epoch(&a, &b, &ch, &p, ppm, o.pats[pi],
					      seed++, (enum kind)k, ep % 2 == 0,
					      run >= 0, &R);
			}
		}
	}
	chain_drop(&ch);
	rm_rf(p.snap);
	rm_rf(p.snap2);
	unlink(p.x);
	unlink(p.x2);
	unlink(p.list);
	unlink(p.base);
	unlink(p.rcopy);
	unlink(p.dcopy);
	bw_stop(&a);
	bw_stop(&b);
}
