/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * (b2) last/pages/ against the FUSE floor, in one run: cat-style reading
 * of the N page files of a round of sdfs, and of N page files of nullfs
 * in its best configuration (OPEN refused with ENOSYS: no OPEN/RELEASE
 * round trips; cached entries and attributes, READDIRPLUS) and with OPEN
 * answered (cached); then a round of the README recipe (rsync
 * --files-from=last/changes) against the same rsync from tmpfs.
 *
 * Every sample is cold, as a round is: sdfs is read right after a clear
 * (which drops what the kernel cached of last/pages/), and every nullfs
 * sample is a fresh mount. The three reads of a run are made in a
 * rotating order, next to each other.
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

#define PF_MODES 3 /* sdfs, nullfs -o noopen, nullfs -o cached */

/* the page counts of --pagefiles: N, or P% of the workload's pages */
static int pf_counts(uint64_t npages, uint64_t *out)
{
	char spec[256], *save = NULL;
	int n = 0;

	snprintf(spec, sizeof(spec), "%s", o.pf_spec);
	for (char *t = strtok_r(spec, ",", &save); t && n < MAX_LIST;
	     t = strtok_r(NULL, ",", &save)) {
		char *end;
		double v = strtod(t, &end);
		uint64_t c =
			*end == '%'
				? (uint64_t)llround(v * (double)npages / 100)
				: (uint64_t)v;
		if (c > 0 && c <= npages / 2)
			out[n++] = c;
		else
			fprintf(stderr,
				"bench: --pagefiles %s: not in 1..%" PRIu64
				", left out\n",
				t, npages / 2);
	}
	return n;
}

/* one cold cat of a fresh nullfs of n files: wall and CPU seconds */
static int cat_nullfs(enum nullfs_mode mode, uint64_t n, double *wall,
		      double *cpu, uint64_t *bytes)
{
	struct daemon nf;
	char mp[4200], log[4200];
	uint64_t files;

	snprintf(mp, sizeof(mp), "%s/pf-nullfs%d", workdir, (int)mode);
	snprintf(log, sizeof(log), "%s/pf-nullfs%d.log", workdir, (int)mode);
	mkdir(mp, 0755);
	int e = nullfs_start(o.nullfs, mode, n, mp, log, &nf);
	if (e < 0)
		return e;
	double c0 = proc_cpu_s(nf.pid), own = thread_cpu_s(), t = now_s();
	e = cat_dir(mp, &files, bytes);
	*wall = now_s() - t;
	*cpu = proc_cpu_s(nf.pid) - c0 + thread_cpu_s() - own;
	daemon_stop(&nf);
	return e < 0 ? e : files == n ? 0 : -EIO;
}

struct pf_rows {
	struct row *wall[2], *cpu[2], *recipe, *files;
};

static void pf_rows(const char *sz, const char *label, struct pf_rows *r)
{
	static const char *const floor[2] = {
		"no OPEN (ENOSYS), cached entries+attrs, readdirplus",
		"OPEN answered, cached entries+attrs, readdirplus"};
	char m[200];

	for (int k = 0; k < 2; k++) {
		snprintf(m, sizeof(m),
			 "b2. cat last/pages/ (cold round) / "
			 "cat of a null FUSE fs (fresh mount), %s",
			 floor[k]);
		r->wall[k] = row_new(m, sz, label, "rand");
		snprintf(m, sizeof(m),
			 "b2. … CPU time of daemon + reader / "
			 "the same of the null FUSE fs, %s",
			 floor[k]);
		r->cpu[k] = row_new(m, sz, label, "rand");
	}
	row_target(r->wall[0], T_RATIO, 1.25, "≥ 0.8× floor (≤ 1.25×)");
	r->recipe = row_new("b2. rsync round: --files-from=last/changes "
			    "last/pages/ to tmpfs / the same rsync and list "
			    "from tmpfs",
			    sz, label, "rand");
	row_target(r->recipe, T_RATIO, 1.2, "≤ 1.2×");
}

/* sdfs's cold cat of last/pages/ (a clear was just made) */
static void cat_sdfs(const char *pages, uint64_t n, struct pf_rows *r)
{
	uint64_t files, bytes;
	double c0 = proc_cpu_s(dmn.pid), own = thread_cpu_s(), t = now_s();
	check(cat_dir(pages, &files, &bytes), "cat last/pages");
	double wall = now_s() - t;
	double cpu = proc_cpu_s(dmn.pid) - c0 + thread_cpu_s() - own;
	if (files != n)
		fprintf(stderr,
			"bench: warning: last/pages has %" PRIu64
			" files, status last_pages %" PRIu64 "\n",
			files, n);
	for (int k = 0; k < 2; k++) {
		row_add_s(r->wall[k], wall);
		row_add_s(r->cpu[k], cpu);
		r->wall[k]->bytes = bytes;
	}
}

static void cat_floor(enum nullfs_mode mode, uint64_t n, struct pf_rows *r)
{
	int k = mode == NF_NOOPEN ? 0 : 1;
	double wall, cpu;
	uint64_t bytes;
	int e = cat_nullfs(mode, n, &wall, &cpu, &bytes);
	if (e < 0) {
		snprintf(r->wall[k]->note, sizeof(r->wall[k]->note),
			 "failed: nullfs: %s", strerror(-e));
		return;
	}
	row_add_b(r->wall[k], wall);
	row_add_b(r->cpu[k], cpu);
}

/* One round of the recipe from last/pages/ and from the tmpfs copy of
 * the identical files (made by the caller), in alternating order. */
static void recipe(const char *last, const char *copy, int run,
		   struct pf_rows *r)
{
	char list[4300], src[4300], lcopy[4300], d1[4300], d2[4300];
	struct sbuf b = {0};
	double t1 = NAN, t2 = NAN;
	int e1 = 0, e2 = 0;

	snprintf(list, sizeof(list), "%s/changes", last);
	snprintf(src, sizeof(src), "%s/pages/", last);
	snprintf(lcopy, sizeof(lcopy), "%s/pf-changes", workdir);
	snprintf(d1, sizeof(d1), "%s/pf-from-sdfs/", workdir);
	snprintf(d2, sizeof(d2), "%s/pf-from-tmpfs/", workdir);
	if (access(list, R_OK) < 0) {
		snprintf(r->recipe->note, sizeof(r->recipe->note),
			 "skipped: this daemon has no last/changes");
		return;
	}
	check(read_whole(list, &b), "read last/changes");
	check(write_all(lcopy, &b), "copy last/changes");
	sbuf_free(&b);
	for (int i = 0; i < 2; i++)
		if ((i + run) % 2 == 0)
			e1 = recipe_run(false, list, src, d1, &t1);
		else
			e2 = recipe_run(false, lcopy, copy, d2, &t2);
	if (e1 || e2)
		snprintf(r->recipe->note, sizeof(r->recipe->note),
			 "failed: rsync exit %d/%d", e1, e2);
	else
		row_add(r->recipe, t1, t2);
	rm_rf(d1);
	rm_rf(d2);
	unlink(lcopy);
}

static void one_count(struct bw *w, const char *sz, uint64_t n)
{
	char label[32], clear[4200], last[4200], pages[4200], copy[4300];
	char status[4200];
	struct pf_rows r;
	uint64_t npages = w->size / page_size;
	unsigned long ppm =
		(unsigned long)((n * 1000000 + npages - 1) / npages);

	snprintf(label, sizeof(label), "%" PRIu64 " pages", n);
	pf_rows(sz, label, &r);
	piddir_path(clear, sizeof(clear), w->pid, "clear");
	piddir_path(last, sizeof(last), w->pid, "last");
	piddir_path(pages, sizeof(pages), w->pid, "last/pages");
	piddir_path(status, sizeof(status), w->pid, "status");
	snprintf(copy, sizeof(copy), "%s/pf-copy/", workdir);
	for (int run = 0; run < o.runs; run++) {
		uint64_t seed = 9001 + (uint64_t)run * 13;
		check(bw_write(w, ppm, "rand", seed, NULL), "workload write");
		check(write_clear(clear), "clear");
		/* what the clear captured (the workload's pages and a few of
		 * its stack and libraries): the floor gets as many files */
		long long got = status_value(status, "last_pages");
		if (got <= 0)
			die("last_pages of %s: %lld", status, got);
		uint64_t written = (uint64_t)got;
		/* the three reads of the run, in a rotating order; sdfs's
		 * is cold wherever it comes: nothing else reads last/ */
		for (int i = 0; i < PF_MODES; i++)
			switch ((i + run) % PF_MODES) {
			case 0:
				cat_sdfs(pages, written, &r);
				break;
			case 1:
				cat_floor(NF_NOOPEN, written, &r);
				break;
			case 2:
				cat_floor(NF_CACHED, written, &r);
				break;
			}
		if (o.no_rsync)
			continue;
		/* the identical files in tmpfs (not timed), then a fresh
		 * round of the same pages: the kernel's entries are gone */
		char src[4300];
		snprintf(src, sizeof(src), "%s/", pages);
		char *a[] = {"rsync", "-a", src, copy, NULL};
		double t;
		rm_rf(copy);
		if (run_timed(a, NULL, &t) != 0)
			die("rsync -a %s %s", src, copy);
		check(bw_write(w, ppm, "rand", seed, NULL), "workload write");
		check(write_clear(clear), "clear");
		recipe(last, copy, run, &r);
		rm_rf(copy);
		note("pagefiles %s %s run %d done", sz, label, run);
	}
}

void bench_pagefiles(void)
{
	char sz[32];
	uint64_t counts[MAX_LIST];
	struct bw w;

	if (!have_daemon() || !o.nullfs || !o.pf_spec[0])
		return;
	fmt_size(sz, sizeof(sz), o.pf_size);
	if (mem_available() < o.pf_size + (512UL << 20)) {
		struct row *r =
			row_new("b2. page files against the floor", sz, "", "");
		snprintf(r->note, sizeof(r->note),
			 "skipped: not enough free memory");
		return;
	}
	int nc = pf_counts(o.pf_size / page_size, counts);
	check(bw_start(o.bigwork, o.pf_size, 1, o.thp, false, &w),
	      "start bigwork");
	char clear[4200];
	piddir_path(clear, sizeof(clear), w.pid, "clear");
	check(write_clear(clear), "first clear");
	for (int i = 0; i < nc; i++)
		one_count(&w, sz, counts[i]);
	bw_stop(&w);
}
