/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The rows of the snapshot files (sdfs(5): last/changes, the recipe of
 * the README) and the daemon's peak RSS with a large process: a round of
 * `rsync --files-from=last/changes`, `cat last/changes` at a million
 * pages. A daemon without last/changes (older trees, for before/after
 * runs) gets a note in those rows instead of numbers.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

#define NAME_LINE 17 /* a name of last/changes: 16 hex digits, newline */

int write_all(const char *path, const struct sbuf *b)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	for (size_t off = 0; off < b->len;) {
		ssize_t n = write(fd, b->p + off, b->len - off);
		if (n < 0) {
			int e = errno;
			close(fd);
			return -e;
		}
		off += (size_t)n;
	}
	return close(fd) < 0 ? -errno : 0;
}

void recipe_rows(const char *size, const char *dirty, const char *pat,
		 struct row *r[2])
{
	r[0] = row_new("b. rsync round: --files-from=last/changes last/pages/ "
		       "to tmpfs / the same rsync and list from tmpfs",
		       size, dirty, pat);
	r[1] = row_new("b. rsync round, list piped: cat last/changes | rsync "
		       "--files-from=- … / the same from tmpfs",
		       size, dirty, pat);
}

/* One round of the recipe from src with the list at list, into a fresh
 * dst: --files-from=LIST, or the list piped from cat. The exit status. */
int recipe_run(bool piped, const char *list, const char *src,
	       const char *dst, double *secs)
{
	char from[4400];

	rm_rf(dst);
	if (piped) {
		char *a[] = {
			"sh",
			"-c",
			"cat \"$1\" | rsync -a --ignore-times --files-from=- "
			"--delete-missing-args \"$2\" \"$3\"",
			"sh",
			(char *)list,
			(char *)src,
			(char *)dst,
			NULL};
		return run_timed(a, NULL, secs);
	}
	/* a round as the README gives it; --ignore-times: every listed
	 * file is copied, whatever its size and time */
	snprintf(from, sizeof(from), "--files-from=%s", list);
	char *a[] = {"rsync",
		     "-a",
		     "--ignore-times",
		     from,
		     "--delete-missing-args",
		     (char *)src,
		     (char *)dst,
		     NULL};
	return run_timed(a, NULL, secs);
}

void measure_recipe(struct row *r[2], const char *last, const char *copy,
		    uint64_t npages)
{
	char list[4300], src[4300], lcopy[4300], d1[4300], d2[4300];
	struct sbuf b = {0};

	snprintf(list, sizeof(list), "%s/changes", last);
	snprintf(src, sizeof(src), "%s/pages/", last);
	snprintf(lcopy, sizeof(lcopy), "%s/recipe-changes", workdir);
	snprintf(d1, sizeof(d1), "%s/recipe-from-sdfs/", workdir);
	snprintf(d2, sizeof(d2), "%s/recipe-from-tmpfs/", workdir);
	if (access(list, R_OK) < 0) {
		for (int k = 0; k < 2; k++)
			snprintf(r[k]->note, sizeof(r[k]->note),
				 "skipped: this daemon has no last/changes");
		return;
	}
	/* the list for the baseline: the same names, in tmpfs (not timed) */
	int e = read_whole(list, &b);
	if (e == 0)
		e = write_all(lcopy, &b);
	if (e < 0) {
		for (int k = 0; k < 2; k++)
			snprintf(r[k]->note, sizeof(r[k]->note),
				 "failed: copy of last/changes: %s",
				 strerror(-e));
		sbuf_free(&b);
		return;
	}
	/* dropped pages (not in last/dirty_ranges) add names */
	if (b.len < npages * NAME_LINE)
		fprintf(stderr,
			"bench: warning: last/changes has %zu names, "
			"last/dirty_ranges %" PRIu64 " pages\n",
			b.len / NAME_LINE, npages);
	sbuf_free(&b);
	for (int k = 0; k < 2; k++) {
		double t1, t2;
		int e1 = recipe_run(k, list, src, d1, &t1);
		int e2 = recipe_run(k, lcopy, copy, d2, &t2);
		if (e1 != 0 || e2 != 0)
			snprintf(r[k]->note, sizeof(r[k]->note),
				 "failed: rsync exit %d/%d", e1, e2);
		else
			row_add(r[k], t1, t2);
	}
	rm_rf(d1);
	rm_rf(d2);
	unlink(lcopy);
}

/* The part of a names text (NAME_LINE bytes per name, ascending) whose
 * addresses lie in [from, to). */
static void names_in(const struct sbuf *t, uint64_t from, uint64_t to,
		     const char **b, size_t *len)
{
	size_t n = t->len / NAME_LINE, i = 0, j;

	while (i < n && strtoull(t->p + i * NAME_LINE, NULL, 16) < from)
		i++;
	for (j = i; j < n && strtoull(t->p + j * NAME_LINE, NULL, 16) < to; j++)
		;
	*b = t->p + i * NAME_LINE;
	*len = (j - i) * NAME_LINE;
}

/*
 * A large process with about a million dirty pages (random, so many
 * runs): per run, write them; the direct baseline prints their names from
 * a PAGEMAP_SCAN; clear; `cat last/changes` and `cat last/dirty_ranges`.
 * Then every other file of last/ is served (ls and cat of last/pages/
 * unless --rss-no-read) and the daemon's peak RSS over all of it is the
 * RSS row.
 */
void bench_rss(void)
{
	size_t size = 0;
	for (int i = 0; i < o.nsizes; i++)
		if (o.sizes[i] > size)
			size = o.sizes[i];
	if (!have_daemon() || !size)
		return;
	char sz[32], dz[32];
	fmt_size(sz, sizeof(sz), size);
	uint64_t npages = size / page_size, want = o.rss_pages;
	if (want > npages / 4)
		want = npages / 4; /* random pages with gaps: many ranges */
	snprintf(dz, sizeof(dz), "%" PRIu64 " pages", want);
	struct row *rc = row_new("e. cat last/changes / direct PAGEMAP_SCAN "
				 "printing the same names",
				 sz, dz, "rand");
	struct row *rd = row_new("e. cat last/changes / cat last/dirty_ranges "
				 "of the same clear",
				 sz, dz, "rand");
	struct row *r = row_new("daemon peak RSS serving dirty_ranges, clear, "
				"last/ (changes, dirty_ranges, maps, ls, cat)",
				sz, dz, "rand");
	r->unit = U_MIB;
	r->no_base = true;
	row_target(r, size >= (16UL << 30) && want >= 1000000 ? T_MIB : T_NONE,
		   32, "≤ 32 MiB (16 GiB, 1M pages)");
	if (mem_available() < size + (512UL << 20)) {
		snprintf(r->note, sizeof(r->note),
			 "skipped: not enough free memory");
		snprintf(rc->note, sizeof(rc->note), "%s", r->note);
		snprintf(rd->note, sizeof(rd->note), "%s", r->note);
		return;
	}
	struct bw w;
	check(bw_start(o.bigwork, size, 1, o.thp, false, &w), "start bigwork");
	char clear[4200], p[4200], changes[4200], last_dr[4200];
	struct sbuf b = {0}, names = {0}, direct = {0};
	uint64_t n, files, bytes, dpages;
	piddir_path(clear, sizeof(clear), w.pid, "clear");
	piddir_path(changes, sizeof(changes), w.pid, "last/changes");
	piddir_path(last_dr, sizeof(last_dr), w.pid, "last/dirty_ranges");
	check(write_clear(clear), "first clear");
	reset_hwm();
	unsigned long ppm =
		(unsigned long)((want * 1000000 + npages - 1) / npages);
	bool have_changes = access(changes, R_OK) == 0;
	if (!have_changes) {
		snprintf(rc->note, sizeof(rc->note),
			 "skipped: this daemon has no last/changes");
		snprintf(rd->note, sizeof(rd->note), "%s", rc->note);
	}
	for (int run = 0; run < o.runs; run++) {
		double t;
		check(bw_write(&w, ppm, "rand", 4711 + (uint64_t)run * 7, &n),
		      "workload write");
		if (run == 0) {
			t = now_s();
			piddir_path(p, sizeof(p), w.pid, "dirty_ranges");
			check(read_whole(p, &b), "read dirty_ranges");
			note("rss: %" PRIu64
			     " pages written, dirty_ranges %zu bytes (%.2f s)",
			     n, b.len, now_s() - t);
		}
		if (have_changes) {
			/* before the clear: the written pages still read
			 * WRITTEN */
			t = now_s();
			check(direct_names_ioctl(w.pid, BIT_WRITTEN, o.vec,
						 &direct, &dpages),
			      "PAGEMAP_SCAN names");
			row_add_b(rc, now_s() - t);
		}
		check(write_clear(clear), "clear");
		if (!have_changes) {
			check(read_whole(last_dr, &b),
			      "read last/dirty_ranges");
			continue;
		}
		t = now_s();
		check(read_whole(changes, &names), "read last/changes");
		double ts = now_s() - t;
		t = now_s();
		check(read_whole(last_dr, &b), "read last/dirty_ranges");
		row_add_s(rc, ts);
		row_add(rd, ts, now_s() - t);
		if (run == 0) {
			const char *x, *y;
			size_t xl, yl;
			names_in(&names, w.base, w.base + w.size, &x, &xl);
			names_in(&direct, w.base, w.base + w.size, &y, &yl);
			note("rss: last/changes %zu names (%zu in the "
			     "workload), "
			     "direct %" PRIu64 " names (%zu)",
			     names.len / NAME_LINE, xl / NAME_LINE, dpages,
			     yl / NAME_LINE);
			if (xl != yl || memcmp(x, y, xl))
				fprintf(stderr, "bench: warning: last/changes "
						"differs from "
						"the direct names in the "
						"workload's region\n");
		}
	}
	const char *more[] = {"last/dropped_ranges", "last/maps"};
	for (size_t i = 0; have_changes && i < 2; i++) {
		piddir_path(p, sizeof(p), w.pid, more[i]);
		check(read_whole(p, &b), more[i]);
	}
	piddir_path(p, sizeof(p), w.pid, "last/pages");
	double t = now_s();
	check(list_dir(p, false, &files), "ls last/pages");
	note("rss: ls last/pages: %" PRIu64 " entries (%.2f s)", files,
	     now_s() - t);
	if (!o.rss_no_read) {
		t = now_s();
		check(cat_dir(p, &files, &bytes), "cat last/pages");
		note("rss: cat last/pages: %" PRIu64 " files (%.2f s)", files,
		     now_s() - t);
	}
	row_add_s(r, daemon_hwm_mib());
	sbuf_free(&b);
	sbuf_free(&names);
	sbuf_free(&direct);
	bw_stop(&w);
}
