/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The measurements: (a) dirty_ranges, (b) page contents, (c) clear,
 * (d) ls of the root, and the daemon's peak RSS. Every sdfs number has a
 * baseline taken on the same workload, in the same run, right next to it.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

void fmt_size(char *out, size_t len, size_t bytes)
{
	if (bytes >= (1UL << 30) && bytes % (1UL << 30) == 0)
		snprintf(out, len, "%zu GiB", bytes >> 30);
	else
		snprintf(out, len, "%zu MiB", bytes >> 20);
}

uint64_t mem_available(void)
{
	FILE *f = fopen("/proc/meminfo", "re");
	char line[256];
	uint64_t kb = 0;
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "MemAvailable: %" SCNu64, &kb) == 1)
			break;
	if (f)
		fclose(f);
	return kb * 1024;
}

void piddir_path(char *out, size_t len, pid_t pid, const char *rel)
{
	snprintf(out, len, "%s/%d/%s", mnt, (int)pid, rel);
}

void reset_hwm(void)
{
	char path[64];
	if (dmn.pid <= 0)
		return;
	/* "5" resets the peak RSS (VmHWM) of the daemon */
	snprintf(path, sizeof(path), "/proc/%d/clear_refs", (int)dmn.pid);
	write_file(path, "5");
}

double daemon_hwm_mib(void)
{
	return dmn.pid > 0 ? (double)proc_status_kib(dmn.pid, "VmHWM") / 1024.0 : NAN;
}

bool have_daemon(void)
{
	return !o.no_daemon && dmn.pid > 0;
}

void check(int r, const char *what)
{
	if (r < 0)
		die("%s: %s", what, strerror(-r));
}

/* ---- (d) ls of the root ------------------------------------------------ */

void bench_ls(void)
{
	char label[32];
	pid_t *kids = calloc((size_t)o.procs, sizeof(pid_t));

	if (!have_daemon())
		return;
	snprintf(label, sizeof(label), "%d procs", o.procs);
	for (int i = 0; i < o.procs; i++) {
		pid_t p = fork();
		if (p < 0)
			die("fork: %s", strerror(errno));
		if (p == 0) {
			signal(SIGINT, SIG_DFL);
			signal(SIGTERM, SIG_DFL);
			signal(SIGHUP, SIG_DFL);
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			for (;;)
				pause();
		}
		cleanup_add_pid(p);
		kids[i] = p;
	}
	note("ls: %d sleepers started", o.procs);
	for (int run = 0; run < o.runs; run++) {
		uint64_t n1, n2;
		double t;
		for (int st = 0; st < 2; st++) {
			t = now_s();
			check(list_dir(mnt, st, &n1), "ls sdfs");
			double ts = now_s() - t;
			t = now_s();
			check(list_dir("/proc", st, &n2), "ls /proc");
			double tb = now_s() - t;
			struct row *r = row_new(st ? "d. ls -l ROOT (readdir+lstat) / same on /proc"
						   : "d. ls ROOT (readdir) / same on /proc",
						label, "", "");
			row_add(r, ts, tb);
			note("ls%s: sdfs %" PRIu64 " entries %.2f ms, /proc %" PRIu64
			     " entries %.2f ms", st ? " -l" : "", n1, ts * 1e3, n2, tb * 1e3);
		}
		char *a1[] = {"ls", "-l", mnt, NULL}, *a2[] = {"ls", "-l", "/proc", NULL};
		double ts, tb;
		if (run_timed(a1, "/dev/null", &ts) == 0 && run_timed(a2, "/dev/null", &tb) == 0)
			row_add(row_new("d. exec `ls -l ROOT` / `ls -l /proc`", label, "", ""),
				ts, tb);
	}
	for (int i = 0; i < o.procs; i++) {
		kill(kids[i], SIGKILL);
		waitpid(kids[i], NULL, 0);
		cleanup_del_pid(kids[i]);
	}
	free(kids);
}

/* ---- one configuration ------------------------------------------------- */

struct cfg {
	struct bw *w;
	char size[32], dirty[16], pat[16];
	unsigned long ppm;
	unsigned ti; /* index into o.threads */
	char clear[4200], dr[4200], status[4200], last_dr[4200], last_pages[4200];
	char last[4200];
};

static struct sbuf sd_text, io_text, pr_text;

/* The lines of a dirty_ranges text whose start lies in [from, to). */
static void lines_in(const struct sbuf *t, uint64_t from, uint64_t to,
		     const char **b, const char **e)
{
	const char *p = t->p, *end = t->p + t->len;
	*b = *e = NULL;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		uint64_t s = strtoull(p, NULL, 16);
		if (s >= from && !*b)
			*b = p;
		if (s >= to) {
			*e = p;
			break;
		}
		p = nl ? nl + 1 : end;
	}
	if (!*b)
		*b = end;
	if (!*e)
		*e = end;
}

static bool same_lines(const struct sbuf *x, const struct sbuf *y, uint64_t from,
		       uint64_t to)
{
	const char *xb, *xe, *yb, *ye;
	if (!x->len || !y->len)
		return x->len == y->len;
	lines_in(x, from, to, &xb, &xe);
	lines_in(y, from, to, &yb, &ye);
	return xe - xb == ye - yb && !memcmp(xb, yb, (size_t)(xe - xb));
}

#define MEAS_A_CPU                                                             \
	"a. cat dirty_ranges, CPU time of the daemon and the reader / of the "  \
	"direct PAGEMAP_SCAN"

/* (a): dirty_ranges against the direct scans, same dirty set */
static void measure_scan(struct cfg *c, int run)
{
	uint64_t p_io, p_pr;
	double t;

	if (have_daemon()) {
		double cpu = proc_cpu_s(dmn.pid), own = thread_cpu_s();
		t = now_s();
		check(read_whole(c->dr, &sd_text), "read dirty_ranges");
		double ts = now_s() - t;
		own = thread_cpu_s() - own;
		double dcpu = proc_cpu_s(dmn.pid) - cpu;
		row_add_s(row_new("a. cat dirty_ranges / direct PAGEMAP_SCAN", c->size,
				  c->dirty, c->pat), ts);
		row_add_s(row_new("a. cat dirty_ranges / direct pagemap pread", c->size,
				  c->dirty, c->pat), ts);
		row_add_s(row_new(MEAS_A_CPU, c->size, c->dirty, c->pat),
			  dcpu + own);
	}
	t = now_s();
	double cpu = thread_cpu_s();
	check(direct_scan_ioctl(c->w->pid, BIT_WRITTEN, o.vec, &io_text, &p_io),
	      "PAGEMAP_SCAN");
	double tio = now_s() - t;
	row_add_b(row_new(MEAS_A_CPU, c->size, c->dirty, c->pat),
		  thread_cpu_s() - cpu);
	t = now_s();
	check(direct_scan_pread(c->w->pid, BIT_WRITTEN, &pr_text, &p_pr), "pagemap pread");
	double tpr = now_s() - t;

	struct row *r = row_new("a. cat dirty_ranges / direct PAGEMAP_SCAN", c->size,
				c->dirty, c->pat);
	row_target(r, T_RATIO, 1.25, "≤ 1.25×");
	row_add_b(r, tio);
	r = row_new("a. cat dirty_ranges / direct pagemap pread", c->size, c->dirty,
		    c->pat);
	if (!strcmp(c->size, "16 GiB") && !strcmp(c->dirty, "1%"))
		row_target(r, T_SPEEDUP, 5, "≥ 5× faster");
	row_add_b(r, tpr);

	if (run == 0) {
		note("%s %s %s: direct scan %" PRIu64 " pages, pread %" PRIu64
		     " pages; %zu bytes of text", c->size, c->dirty, c->pat, p_io,
		     p_pr, io_text.len);
		if (!same_lines(&io_text, &pr_text, 0, UINT64_MAX))
			fprintf(stderr, "bench: warning: PAGEMAP_SCAN and pread scans differ\n");
		/* sdfs leaves out mappings it knows to be clean (never
		 * writable); the workload's region must agree exactly */
		if (have_daemon() &&
		    !same_lines(&sd_text, &io_text, c->w->base, c->w->base + c->w->size))
			fprintf(stderr, "bench: warning: sdfs dirty_ranges differs from the direct scan in the workload's region\n");
	}
}

/* (b): read the pages of the last clear */
static void measure_pages(struct cfg *c, const struct runs *pl)
{
	uint64_t files = 0, bytes = 0, pbytes;
	double t, ts = NAN;
	char skip[96];
	struct row *r1 = row_new("b. cat last/pages/* / process_vm_readv, 1 page per call",
				 c->size, c->dirty, c->pat);
	struct row *r2 = row_new("b. cat last/pages/* / process_vm_readv, batched",
				 c->size, c->dirty, c->pat);
	struct row *r3 = row_new("b. rsync -a last/pages/ to tmpfs / rsync -a of the same files from tmpfs",
				 c->size, c->dirty, c->pat);
	row_target(r1, T_GBS, 1.0, "≥ 1 GB/s");
	row_target(r3, T_RATIO, 1.3, "≤ 1.3×");

	uint64_t npages = pl->pages + pl->skipped;
	if (npages > o.max_files) {
		snprintf(skip, sizeof(skip), "skipped: %" PRIu64 " files > --max-files", npages);
		snprintf(r1->note, sizeof(r1->note), "%s", skip);
		snprintf(r2->note, sizeof(r2->note), "%s", skip);
	} else {
		if (have_daemon()) {
			t = now_s();
			check(cat_dir(c->last_pages, &files, &bytes), "cat last/pages");
			ts = now_s() - t;
			r1->bytes = r2->bytes = bytes;
			row_add_s(r1, ts);
			row_add_s(r2, ts);
			if (files != npages)
				fprintf(stderr, "bench: warning: last/pages has %" PRIu64
					" files, last/dirty_ranges %" PRIu64 " pages\n",
					files, npages);
		}
		t = now_s();
		check(pvread_pages(c->w->pid, pl, page_size, false, &pbytes), "process_vm_readv");
		row_add_b(r1, now_s() - t);
		t = now_s();
		check(pvread_pages(c->w->pid, pl, page_size, true, &pbytes), "process_vm_readv");
		row_add_b(r2, now_s() - t);
	}

	if (o.no_rsync || !have_daemon()) {
		snprintf(skip, sizeof(skip), "skipped: %s",
			 o.no_rsync ? "--no-rsync" : "no daemon");
	} else if (npages > o.rsync_max_files) {
		snprintf(skip, sizeof(skip),
			 "skipped: %" PRIu64 " files > --rsync-max-files", npages);
	} else {
		skip[0] = '\0';
	}
	struct row *r4[2];
	recipe_rows(c->size, c->dirty, c->pat, r4);
	if (skip[0]) {
		snprintf(r3->note, sizeof(r3->note), "%s", skip);
		for (int k = 0; k < 2; k++)
			snprintf(r4[k]->note, sizeof(r4[k]->note), "%s", skip);
		return;
	}
	char src[4300], d1[4300], d2[4300];
	snprintf(src, sizeof(src), "%s/", c->last_pages);
	snprintf(d1, sizeof(d1), "%s/rsync-from-sdfs/", workdir);
	snprintf(d2, sizeof(d2), "%s/rsync-from-tmpfs/", workdir);
	rm_rf(d1);
	rm_rf(d2);
	char *a1[] = {"rsync", "-a", src, d1, NULL};
	char *a2[] = {"rsync", "-a", d1, d2, NULL};
	double t1, t2;
	int e1 = run_timed(a1, NULL, &t1);
	/* the files rsync just made from sdfs are the identical tmpfs copy */
	int e2 = e1 == 0 ? run_timed(a2, NULL, &t2) : -1;
	if (e1 != 0 || e2 != 0) {
		snprintf(r3->note, sizeof(r3->note), "failed: rsync exit %d/%d", e1, e2);
		for (int k = 0; k < 2; k++)
			snprintf(r4[k]->note, sizeof(r4[k]->note),
				 "not run: the tmpfs copy failed");
	} else {
		row_add(r3, t1, t2);
		/* the new recipe, from sdfs and from that same tmpfs copy */
		measure_recipe(r4, c->last, d1, npages);
	}
	rm_rf(d1);
	rm_rf(d2);
}

/* (c) and (b): clear, read what it captured, then the bare baselines on
 * the same workload with the same fraction written again */
static void measure_clear(struct cfg *c, int run, uint64_t seed)
{
	char m1[96], m2[96], m3[128];
	unsigned thr = o.threads[c->ti];
	struct runs pl = {0};
	double t;

	snprintf(m1, sizeof(m1), "c. clear wall, %u thr / bare PAGEMAP_SCAN WP_MATCHING", thr);
	snprintf(m2, sizeof(m2), "c. clear frozen, %u thr / bare clear_refs 4", thr);
	snprintf(m3, sizeof(m3), "c. clear, CPU time of the daemon, %u thr / of the bare PAGEMAP_SCAN WP_MATCHING", thr);
	struct row *rw = row_new(m1, c->size, c->dirty, c->pat);
	struct row *rc = row_new(m3, c->size, c->dirty, c->pat);
	struct row *rf = row_new(m2, c->size, c->dirty, c->pat);
	row_target(rf, T_FROZEN, 0, "≤ 1.2× + 1 ms");

	if (have_daemon()) {
		double cpu = proc_cpu_s(dmn.pid);
		t = now_s();
		check(write_clear(c->clear), "echo 1 > clear");
		row_add_s(rw, now_s() - t);
		row_add_s(rc, proc_cpu_s(dmn.pid) - cpu);
		long long fz = status_value(c->status, "frozen_us");
		row_add_s(rf, fz >= 0 ? (double)fz * 1e-6 : NAN);
		if (c->ti == 0) {
			check(read_whole(c->last_dr, &sd_text), "read last/dirty_ranges");
			check(runs_parse(sd_text.p, sd_text.len, page_size, &pl), "parse last/dirty_ranges");
		}
	} else if (c->ti == 0) {
		/* the page list of the epoch, as the direct scan sees it */
		check(runs_parse(io_text.p, io_text.len, page_size, &pl), "parse scan");
	}
	if (c->ti == 0)
		measure_pages(c, &pl);
	runs_free(&pl);

	/* the same amount of writing again, then the bare operations */
	check(bw_write(c->w, c->ppm, c->pat, seed ^ 0x5555, NULL), "workload write");
	uint64_t pages;
	t = now_s();
	double cpu = thread_cpu_s();
	check(direct_wp_matching(c->w->pid, o.vec, &pages), "WP_MATCHING");
	row_add_b(rc, thread_cpu_s() - cpu);
	row_add_b(rw, now_s() - t);
	t = now_s();
	check(direct_clear_refs(c->w->pid), "clear_refs");
	row_add_b(rf, now_s() - t);
	if (run == 0)
		note("%s %s %s %u thr: WP_MATCHING captured %" PRIu64 " pages", c->size,
		     c->dirty, c->pat, thr, pages);
}

void bench_size(size_t size)
{
	char sz[32];
	fmt_size(sz, sizeof(sz), size);
	uint64_t need = size + (512UL << 20);
	if (mem_available() < need) {
		struct row *r = row_new("all rows", sz, "", "");
		snprintf(r->note, sizeof(r->note), "skipped: needs %" PRIu64 " MiB free memory",
			 need >> 20);
		return;
	}
	reset_hwm();
	for (int ti = 0; ti < o.nthreads; ti++) {
		struct bw w;
		struct cfg c = {.w = &w, .ti = (unsigned)ti};
		double t = now_s();
		check(bw_start(o.bigwork, size, o.threads[ti], o.thp, o.no_daemon, &w),
		      "start bigwork");
		note("%s, %u threads: workload %d ready in %.1f s", sz, o.threads[ti],
		     (int)w.pid, now_s() - t);
		snprintf(c.size, sizeof(c.size), "%s", sz);
		piddir_path(c.clear, sizeof(c.clear), w.pid, "clear");
		piddir_path(c.dr, sizeof(c.dr), w.pid, "dirty_ranges");
		piddir_path(c.status, sizeof(c.status), w.pid, "status");
		piddir_path(c.last_dr, sizeof(c.last_dr), w.pid, "last/dirty_ranges");
		piddir_path(c.last_pages, sizeof(c.last_pages), w.pid, "last/pages");
		piddir_path(c.last, sizeof(c.last), w.pid, "last");
		if (have_daemon()) {
			char m[96];
			snprintf(m, sizeof(m), "c. first clear (attach, capture all), %u thr",
				 o.threads[ti]);
			t = now_s();
			check(write_clear(c.clear), "first clear");
			struct row *r = row_new(m, sz, "all", "");
			r->no_base = true;
			row_add_s(r, now_s() - t);
		}
		for (int di = 0; di < o.ndirty; di++)
			for (int pi = 0; pi < o.npats; pi++) {
				snprintf(c.dirty, sizeof(c.dirty), "%g%%", o.dirty[di]);
				snprintf(c.pat, sizeof(c.pat), "%s", o.pats[pi]);
				c.ppm = (unsigned long)llround(o.dirty[di] * 1e4);
				for (int run = 0; run < o.runs; run++) {
					uint64_t seed = (uint64_t)size * 31 + (uint64_t)di * 1009 +
							(uint64_t)pi * 101 + (uint64_t)run * 7;
					check(bw_write(&w, c.ppm, c.pat, seed, NULL), "workload write");
					if (ti == 0)
						measure_scan(&c, run);
					measure_clear(&c, run, seed);
				}
				note("%s %s %s %u thr done", sz, c.dirty, c.pat, o.threads[ti]);
			}
		bw_stop(&w);
	}
	if (have_daemon()) {
		struct row *r = row_new("daemon peak RSS (VmHWM) over the rows above", sz, "", "");
		r->unit = U_MIB;
		r->no_base = true;
		row_add_s(r, daemon_hwm_mib());
	}
}

/* The FUSE floor: cat-style reading of page-sized files from a FUSE file
 * system that does no work per request (tests/bench/nullfs). */
void bench_floor(void)
{
	for (int cached = 0; cached < 2; cached++) { /* NF_SDFS, NF_CACHED */
		struct daemon nf;
		char mp[4200], log[4200], m[128], n[32];
		snprintf(mp, sizeof(mp), "%s/nullfs%d", workdir, cached);
		snprintf(log, sizeof(log), "%s/nullfs%d.log", workdir, cached);
		mkdir(mp, 0755);
		snprintf(m, sizeof(m), "b. FUSE floor: cat of a null FUSE fs%s",
			 cached ? ", cached entries+attrs, readdirplus, page cache"
				: ", sdfs's settings (timeouts 0, direct_io)");
		snprintf(n, sizeof(n), "%" PRIu64 " files", o.floor_files);
		struct row *r = row_new(m, "4 KiB", n, "");
		r->no_base = true;
		row_target(r, T_NONE, 0, "(bound for ≥ 1 GB/s)");
		int e = nullfs_start(o.nullfs, cached ? NF_CACHED : NF_SDFS, o.floor_files, mp, log, &nf);
		if (e < 0) {
			snprintf(r->note, sizeof(r->note), "failed: %s", strerror(-e));
			continue;
		}
		for (int run = 0; run < o.runs; run++) {
			uint64_t files, bytes;
			double t = now_s();
			check(cat_dir(mp, &files, &bytes), "cat nullfs");
			row_add_s(r, now_s() - t);
			r->bytes = bytes;
		}
		daemon_stop(&nf);
	}
}
