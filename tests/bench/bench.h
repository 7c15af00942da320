/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The sdfs benchmark: shared declarations. See README.md. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* ---- small helpers (bproc.c) ------------------------------------------ */

double now_s(void); /* CLOCK_MONOTONIC, seconds */
void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
extern bool verbose;

/* A growable byte buffer. */
struct sbuf {
	char *p;
	size_t len, cap;
};
void sbuf_reserve(struct sbuf *b, size_t more);
void sbuf_free(struct sbuf *b);

/* ---- children and cleanup (bproc.c) -------------------------------- */

/* Everything started is registered, so that an exit, a failure or a
 * signal kills it and unmounts what was mounted. */
void cleanup_install(void);
void cleanup_add_pid(pid_t pid);
void cleanup_del_pid(pid_t pid);
void cleanup_add_mount(const char *mp);
void cleanup_del_mount(const char *mp);
void cleanup_add_dir(const char *dir); /* removed recursively at exit */
void cleanup_run(void);

/* Remove a directory tree (not timed). */
void rm_rf(const char *path);

/* fork+exec argv, stdout to out_path (NULL: inherit), wait. Returns the
 * exit status (or -1) and the wall time. */
int run_timed(char *const argv[], const char *out_path, double *secs);

/* key from /proc/PID/status in KiB ("VmHWM", "VmRSS"), -1 if unknown. */
long proc_status_kib(pid_t pid, const char *key);
/* CPU time of every thread of pid (schedstat: on-CPU nanoseconds, so
 * what a request cost, whatever the wait for a CPU on a busy machine;
 * threads that exited are not counted), NAN if unknown; of the calling
 * thread. */
double proc_cpu_s(pid_t pid);
double thread_cpu_s(void);
/* write a string to a file; 0 or -errno */
int write_file(const char *path, const char *s);

/* ---- the workload (bproc.c) -------------------------------------------- */

struct bw {
	pid_t pid;
	int to, from; /* command pipe, answer pipe */
	uintptr_t base;
	size_t size, page_size;
	unsigned threads;
};

int bw_start(const char *exe, size_t size, unsigned threads, bool thp,
	     bool self_uffd, struct bw *w);
/* write ppm millionths of the pages; pattern "seq" or "rand" */
int bw_write(struct bw *w, unsigned long ppm, const char *pattern,
	     uint64_t seed, uint64_t *pages);
/* --self-uffd workloads: WP_MATCHING timed inside the workload */
int bw_self_wp(struct bw *w, uint64_t *us, long *pages);
void bw_stop(struct bw *w);

/* ---- the daemon (bproc.c) ------------------------------------------- */

struct daemon {
	pid_t pid;
	char mnt[4096];
	char log[4096];
};

int daemon_start(const char *exe, const char *backend, const char *mnt,
		 const char *log, struct daemon *d);
void daemon_stop(struct daemon *d);
/* tests/bench/nullfs: the FUSE floor, with sdfs's settings (no cache),
 * -o cached, or -o noopen (cached, and no OPEN/RELEASE round trips) */
enum nullfs_mode { NF_SDFS, NF_CACHED, NF_NOOPEN };
int nullfs_start(const char *exe, enum nullfs_mode mode, unsigned long files,
		 const char *mp, const char *log, struct daemon *d);

/* ---- direct baselines (direct.c) ----------------------------------- */

enum dirty_bit {
	BIT_WRITTEN, /* uffd: PAGE_IS_WRITTEN / pagemap bit 57 clear */
	BIT_SOFT_DIRTY, /* soft-dirty: PAGE_IS_SOFT_DIRTY / bit 55 */
};

/* dirty_ranges text of pid, computed directly. pages: total. */
int direct_scan_ioctl(pid_t pid, enum dirty_bit bit, size_t vec_len,
		      struct sbuf *out, uint64_t *pages);
int direct_scan_pread(pid_t pid, enum dirty_bit bit, struct sbuf *out,
		      uint64_t *pages);
/* The same pages as direct_scan_ioctl, printed as last/changes prints
 * them: a 16-digit hex address per page, one a line. */
int direct_names_ioctl(pid_t pid, enum dirty_bit bit, size_t vec_len,
		       struct sbuf *out, uint64_t *pages);
/* PAGEMAP_SCAN WP_MATCHING over every trackable mapping (capture and
 * re-protect; mappings not registered with a uffd are only scanned). */
int direct_wp_matching(pid_t pid, size_t vec_len, uint64_t *pages);
/* echo 4 > /proc/PID/clear_refs */
int direct_clear_refs(pid_t pid);

/* The pages of a dirty_ranges text, as [start,end) runs. */
struct runs {
	uint64_t *se; /* start, end pairs */
	size_t n;
	uint64_t pages;
	uint64_t skipped; /* pages of mappings without read permission */
};
int runs_parse(const char *text, size_t len, size_t page_size, struct runs *out);
void runs_free(struct runs *r);

/* process_vm_readv of every page of r into a reused buffer: one page per
 * call, or batched (up to IOV_MAX pages, adjacent pages merged). */
int pvread_pages(pid_t pid, const struct runs *r, size_t page_size,
		 bool batched, uint64_t *bytes);

/* ---- file-system side (fsops.c) ---------------------------------------- */

/* open, read to EOF into b (reset first), close */
int read_whole(const char *path, struct sbuf *b);
/* cat-style: open/read/close every file of dir in readdir order */
int cat_dir(const char *dir, uint64_t *files, uint64_t *bytes);
/* readdir to the end (with_stat: also fstatat every entry, as ls -l) */
int list_dir(const char *dir, bool with_stat, uint64_t *entries);
/* echo 1 > clear (open, write "1\n", close) */
int write_clear(const char *path);
/* the value of "key: N" in a status file, -1 if missing */
long long status_value(const char *path, const char *key);

/* ---- the table (table.c) ------------------------------------------------- */

enum target_kind {
	T_NONE, /* informational */
	T_RATIO, /* ratio = sdfs / baseline <= limit */
	T_SPEEDUP, /* baseline / sdfs >= limit */
	T_GBS, /* bytes / sdfs time >= limit GB/s */
	T_FROZEN, /* sdfs <= 1.2 * baseline + 1 ms */
	T_MIB, /* sdfs value (MiB) <= limit */
};

enum unit { U_TIME, U_MIB };

#define MAX_RUNS 64

struct row {
	char meas[128];
	char size[32];
	char dirty[16];
	char pat[16];
	enum unit unit;
	double s[MAX_RUNS], b[MAX_RUNS];
	int ns, nb;
	bool no_base;
	uint64_t bytes; /* for T_GBS and throughput display */
	enum target_kind tk;
	double limit;
	char target[48];
	char note[96]; /* replaces the numbers when the row was skipped */
};

struct row *row_new(const char *meas, const char *size, const char *dirty,
		    const char *pat);
void row_target(struct row *r, enum target_kind tk, double limit,
		const char *text);
void row_add(struct row *r, double sdfs, double base);
void row_add_s(struct row *r, double sdfs);
void row_add_b(struct row *r, double base);
void table_print(FILE *f);
/* 1 if every row with a target met it */
int table_all_met(void);

/* ---- configuration (bench.c) and scenarios (scenarios.c) --------------- */

#define MAX_LIST 16

struct opts {
	const char *sdfs, *bigwork, *nullfs, *backend, *tmp, *out, *criu;
	const char *apply; /* tools/sdfs-apply; NULL: its rows are skipped */
	size_t criu_size;
	size_t sizes[MAX_LIST];
	int nsizes;
	double dirty[MAX_LIST];
	int ndirty;
	const char *pats[2];
	int npats;
	unsigned threads[MAX_LIST];
	int nthreads;
	int runs;
	int procs;
	uint64_t max_files, rsync_max_files, rss_pages, floor_files;
	size_t vec;
	size_t image_sizes[MAX_LIST];
	int nimage_sizes;
	double image_dirty[MAX_LIST]; /* percent, for the e rows' rounds */
	int nimage_dirty;
	uint64_t apply_gaps[MAX_LIST]; /* extra sdfs-apply -r -g rows */
	int napply_gaps;
	bool image_only, criu_only, pf_only;
	const char *pf_spec; /* --pagefiles: "N,P%,..." */
	size_t pf_size;
	bool no_daemon, no_rsync, thp, rss_no_read;
};

extern struct opts o;
extern struct daemon dmn; /* pid 0 with --no-daemon */
extern char workdir[3900], mnt[4096];
extern size_t page_size;

void bench_ls(void);
void bench_size(size_t size);
void bench_rss(void); /* lastrows.c */
void bench_floor(void);
void bench_pagefiles(void); /* pagefiles.c */
void bench_image(size_t size); /* image.c */
/* sdfs-apply [-d dropped] [-r ranges [-g gap]] image base, timed; dies
 * when it fails. gap: NULL for sdfs-apply's default. */
double apply_run(const char *dropped, const char *ranges, const char *gap,
		 const char *image, const char *base);
/* sdfs-apply -p pack base, timed; dies when it fails. */
double apply_pack_run(const char *pack, const char *base);
/* cat src > dst, timed; dies when it fails. */
double cat_to(const char *src, const char *dst);
void bench_criu(size_t size); /* criu.c */

/* shared by the scenarios (scenarios.c) */
void fmt_size(char *out, size_t len, size_t bytes);
uint64_t mem_available(void);
void piddir_path(char *out, size_t len, pid_t pid, const char *rel);
void reset_hwm(void);
double daemon_hwm_mib(void);
bool have_daemon(void);
void check(int r, const char *what); /* dies on r < 0 */

/* A round of the snapshot recipe (lastrows.c): its rows (rsync
 * --files-from=LAST/changes; the list piped from cat), then both from
 * LAST/pages/ and from copy (the identical files in tmpfs) with a tmpfs
 * copy of the list. */
void recipe_rows(const char *size, const char *dirty, const char *pat,
		 struct row *r[2]);
void measure_recipe(struct row *r[2], const char *last, const char *copy,
		    uint64_t npages);
/* One round of the recipe from src with the list at list into a fresh
 * dst (--files-from=LIST, or the list piped from cat): rsync's exit
 * status and the wall time. */
int recipe_run(bool piped, const char *list, const char *src,
	       const char *dst, double *secs);
/* b's bytes to a new file at path: 0 or -errno */
int write_all(const char *path, const struct sbuf *b);
