/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * (e) last/image: `cp --sparse=always last/image` of a full round and of
 * a 1 % round, against /proc/PID/mem reading the same pages in the same
 * run, and against cp of the identical sparse file from tmpfs.
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

static uint64_t meminfo_available(void)
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

static int read_runs_of(const char *path, const struct runs *r,
			uint64_t *bytes, double *secs)
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
	char *argv[] = {"cp", "--sparse=always", (char *)src, (char *)dst, NULL};
	double t;
	unlink(dst);
	int e = run_timed(argv, NULL, &t);
	if (e != 0)
		die("cp --sparse=always %s %s: exit %d", src, dst, e);
	return t;
}

/* One round: the clear was just made. */
static void measure(pid_t pid, const char *sz, const char *dirty,
		    const char *pat)
{
	char img[4200], dr[4200], copy[4200], copy2[4200], mem[64];
	struct sbuf text = {0};
	struct runs r;
	struct stat st;
	uint64_t b1, b2;
	double tr, tm;

	snprintf(img, sizeof(img), "%s/%d/last/image", mnt, (int)pid);
	snprintf(dr, sizeof(dr), "%s/%d/last/dirty_ranges", mnt, (int)pid);
	snprintf(copy, sizeof(copy), "%s/image.copy", workdir);
	snprintf(copy2, sizeof(copy2), "%s/image.copy2", workdir);
	snprintf(mem, sizeof(mem), "/proc/%d/mem", (int)pid);
	if (read_whole(dr, &text) < 0 ||
	    runs_parse(text.p, text.len, page_size, &r) < 0)
		die("last/dirty_ranges of %d", (int)pid);
	if (stat(img, &st) < 0)
		die("stat %s: %s", img, strerror(errno));
	uint64_t bytes = (uint64_t)st.st_blocks * 512;

	struct row *rc = row_new("e. cp --sparse=always last/image / /proc/PID/mem "
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
	if (!strcmp(dirty, "all"))
		row_target(rg, T_GBS, 2.0, "≥ 2 GB/s");
	else
		row_target(rg, T_GBS, 1.0, "≥ 1 GB/s");

	double tc = cp_sparse(img, copy);
	int e = read_runs_of(mem, &r, &b1, &tm);
	if (e < 0)
		die("read %s: %s", mem, strerror(-e));
	e = read_runs_of(img, &r, &b2, &tr);
	if (e < 0)
		die("read %s: %s", img, strerror(-e));
	double tt = cp_sparse(copy, copy2);
	row_add(rc, tc, tm);
	row_add(rg, tc, tt);
	row_add(rr, tr, tm);
	note("image %s %s %s: %" PRIu64 " bytes captured; cp %.3f s, mem %.3f s, "
	     "image reads %.3f s, tmpfs cp %.3f s",
	     sz, dirty, pat, bytes, tc, tm, tr, tt);
	unlink(copy);
	unlink(copy2);
	runs_free(&r);
	sbuf_free(&text);
}

void bench_image(size_t size)
{
	char sz[32], clear[4200];
	struct bw w;

	if (size >= (1UL << 30) && size % (1UL << 30) == 0)
		snprintf(sz, sizeof(sz), "%zu GiB", size >> 30);
	else
		snprintf(sz, sizeof(sz), "%zu MiB", size >> 20);
	/* the process, its copy and the copy of the copy on tmpfs */
	uint64_t need = 3 * (uint64_t)size + (512UL << 20);
	if (meminfo_available() < need) {
		struct row *r = row_new("e. last/image rows", sz, "", "");
		snprintf(r->note, sizeof(r->note),
			 "skipped: needs %" PRIu64 " MiB free memory", need >> 20);
		return;
	}
	if (bw_start(o.bigwork, size, 1, o.thp, false, &w) < 0)
		die("start bigwork");
	snprintf(clear, sizeof(clear), "%s/%d/clear", mnt, (int)w.pid);
	for (int run = 0; run < o.runs; run++) {
		/* the first clear captures everything; later full rounds
		 * write every page of the region first */
		if (run > 0 && bw_write(&w, 1000000, "seq", 1, NULL) < 0)
			die("workload write");
		if (write_clear(clear) < 0)
			die("clear");
		measure(w.pid, sz, "all", "");
	}
	for (int pi = 0; pi < o.npats; pi++)
		for (int run = 0; run < o.runs; run++) {
			if (bw_write(&w, 10000, o.pats[pi],
				     4242 + (uint64_t)run, NULL) < 0)
				die("workload write");
			if (write_clear(clear) < 0)
				die("clear");
			measure(w.pid, sz, "1%", o.pats[pi]);
		}
	bw_stop(&w);
}
