/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * sdfs-bench: mounts sdfs, runs bigwork workloads, and measures sdfs
 * against direct baselines on the same workload in the same invocation
 * (tests/bench/README.md). Prints one Markdown table of medians.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

struct opts o = {
	.backend = "uffd",
	.tmp = "/dev/shm",
	.runs = 5,
	.procs = 2000,
	.max_files = 200000,
	.rsync_max_files = 50000,
	.rss_pages = 1000000,
	.vec = 4096,
	.floor_files = 10000,
	.pf_spec = "10000,1%,10%",
	.pf_size = 1UL << 30,
	.criu_size = 256UL << 20,
};

struct daemon dmn;
char workdir[3900], mnt[4096];
size_t page_size;

/* ---- option parsing -------------------------------------------------- */

static size_t parse_size(const char *s)
{
	char *end;
	double v = strtod(s, &end);
	double mult = 1024.0 * 1024 * 1024; /* bare numbers are GiB */
	if (*end == 'M' || *end == 'm')
		mult = 1024.0 * 1024;
	else if (*end == 'K' || *end == 'k')
		mult = 1024.0;
	if (v <= 0)
		die("bad size '%s'", s);
	return (size_t)(v * mult);
}

/* a byte count: N, NK, NM */
static uint64_t parse_bytes(const char *s)
{
	char *end;
	double v = strtod(s, &end);
	double mult = 1;
	if (*end == 'M' || *end == 'm')
		mult = 1024.0 * 1024;
	else if (*end == 'K' || *end == 'k')
		mult = 1024.0;
	else if (*end)
		die("bad byte count '%s'", s);
	if (v < 0)
		die("bad byte count '%s'", s);
	return (uint64_t)(v * mult);
}

/* sdfs-apply next to the daemon: BUILD/tools/ beside BUILD/mountd/sdfs,
 * or the same directory (an installed tree, the VM's /usr/local/bin) */
static const char *find_apply(const char *sdfs)
{
	static char path[4200];
	const char *slash = strrchr(sdfs, '/');
	int dl = slash ? (int)(slash - sdfs) : 1;
	const char *dir = slash ? sdfs : ".";

	snprintf(path, sizeof(path), "%.*s/../tools/sdfs-apply", dl, dir);
	if (access(path, X_OK) == 0)
		return path;
	snprintf(path, sizeof(path), "%.*s/sdfs-apply", dl, dir);
	return access(path, X_OK) == 0 ? path : NULL;
}

static int split(char *s, char **out)
{
	int n = 0;
	for (char *tok = strtok(s, ","); tok && n < MAX_LIST; tok = strtok(NULL, ","))
		out[n++] = tok;
	return n;
}

static void usage(void)
{
	printf("usage: sdfs-bench --sdfs PATH --bigwork PATH [options]\n"
	       "  --sizes LIST        workload sizes, GiB or with M suffix (1,4,16)\n"
	       "  --dirty LIST        percent of pages written per epoch (0.1,1,10)\n"
	       "  --patterns LIST     rand,seq\n"
	       "  --threads LIST      target threads for the clear rows (1,64)\n"
	       "  --runs N            runs per measurement, median reported (5)\n"
	       "  --procs N           sleeping processes for the ls rows (2000; 0: skip)\n"
	       "  --max-files N       largest page set read file by file (200000)\n"
	       "  --rsync-max-files N largest page set copied with rsync (50000)\n"
	       "  --rss-pages N       dirty pages for the RSS row (1000000; 0: skip)\n"
	       "  --image-sizes LIST  sizes for the last/image rows (1,16; 0: skip)\n"
	       "  --image-only        only the last/image rows\n"
	       "  --image-dirty LIST  percent written in the last/image rows' rounds (1)\n"
	       "  --apply PATH        tools/sdfs-apply, for its rows in e and f (default:\n"
	       "                      ../tools/sdfs-apply or sdfs-apply next to --sdfs)\n"
	       "  --apply-gaps LIST   also sdfs-apply -r with each -g GAP (bytes, K/M suffix)\n"
	       "  --criu PATH         the CRIU rows (f): criu pre-dump against sdfs rounds\n"
	       "  --criu-size SIZE    workload size for the CRIU rows (256M)\n"
	       "  --criu-only         only the CRIU rows\n"
	       "  --nullfs PATH       tests/bench/nullfs: adds the FUSE-floor rows\n"
	       "  --floor-files N     files in the FUSE-floor rows (10000)\n"
	       "  --pagefiles LIST    page counts of the b2 rows: N or P%% of --pagefiles-size\n"
	       "                      (10000,1%%,10%%; 0: skip)\n"
	       "  --pagefiles-size S  workload size of the b2 rows (1)\n"
	       "  --pagefiles-only    only the b2 rows\n"
	       "  --rss-no-read       the RSS row does not read every page file\n"
	       "  --backend NAME      sdfs backend (uffd)\n"
	       "  --tmp DIR           tmpfs for rsync targets (/dev/shm)\n"
	       "  --vec N             page_region entries per PAGEMAP_SCAN in the baselines (4096)\n"
	       "  --no-daemon         baselines only (workloads use their own userfaultfd)\n"
	       "  --no-rsync          skip the rsync rows\n"
	       "  --thp               workloads use transparent huge pages\n"
	       "  --quick             16 MiB, 1%%, rand, 1 and 4 threads, 1 run, 50 procs\n"
	       "  --out FILE          also write the table to FILE\n"
	       "  -v                  progress on stderr\n");
}

static void parse_opts(int argc, char **argv)
{
	static const struct option lo[] = {
		{"sdfs", 1, 0, 'S'}, {"bigwork", 1, 0, 'W'}, {"nullfs", 1, 0, 'F'},
		{"floor-files", 1, 0, 'f'}, {"sizes", 1, 0, 's'},
		{"pagefiles", 1, 0, 'L'}, {"pagefiles-size", 1, 0, 'Z'},
		{"pagefiles-only", 0, 0, 'Y'},
		{"dirty", 1, 0, 'd'}, {"patterns", 1, 0, 'p'}, {"threads", 1, 0, 't'},
		{"runs", 1, 0, 'r'}, {"procs", 1, 0, 'P'}, {"max-files", 1, 0, 'm'},
		{"rsync-max-files", 1, 0, 'M'}, {"rss-pages", 1, 0, 'R'},
		{"backend", 1, 0, 'b'}, {"tmp", 1, 0, 'T'}, {"vec", 1, 0, 'V'},
		{"rss-no-read", 0, 0, 'x'}, {"no-daemon", 0, 0, 'N'}, {"no-rsync", 0, 0, 'n'}, {"thp", 0, 0, 'H'},
		{"image-sizes", 1, 0, 'I'}, {"image-only", 0, 0, 'O'},
		{"image-dirty", 1, 0, 'i'}, {"apply", 1, 0, 'A'}, {"apply-gaps", 1, 0, 'G'},
		{"criu", 1, 0, 'C'}, {"criu-size", 1, 0, 'c'}, {"criu-only", 0, 0, 'D'},
		{"quick", 0, 0, 'q'}, {"out", 1, 0, 'o'}, {"help", 0, 0, 'h'},
		{0, 0, 0, 0}};
	char *items[MAX_LIST];
	int c, n;

	o.sizes[0] = 1UL << 30;
	o.sizes[1] = 4UL << 30;
	o.sizes[2] = 16UL << 30;
	o.nsizes = 3;
	o.dirty[0] = 0.1;
	o.dirty[1] = 1;
	o.dirty[2] = 10;
	o.ndirty = 3;
	o.pats[0] = "rand";
	o.pats[1] = "seq";
	o.npats = 2;
	o.threads[0] = 1;
	o.threads[1] = 64;
	o.nthreads = 2;
	o.image_sizes[0] = 1UL << 30;
	o.image_sizes[1] = 16UL << 30;
	o.nimage_sizes = 2;
	o.image_dirty[0] = 1;
	o.nimage_dirty = 1;
	while ((c = getopt_long(argc, argv, "vh", lo, NULL)) != -1) {
		switch (c) {
		case 'S': o.sdfs = optarg; break;
		case 'W': o.bigwork = optarg; break;
		case 'F': o.nullfs = optarg; break;
		case 'f': o.floor_files = strtoull(optarg, NULL, 10); break;
		case 'L': o.pf_spec = strcmp(optarg, "0") ? optarg : ""; break;
		case 'Z': o.pf_size = parse_size(optarg); break;
		case 'Y': o.pf_only = true; break;
		case 's':
			n = split(optarg, items);
			for (int i = 0; i < n; i++)
				o.sizes[i] = parse_size(items[i]);
			o.nsizes = n;
			break;
		case 'd':
			n = split(optarg, items);
			for (int i = 0; i < n; i++)
				o.dirty[i] = strtod(items[i], NULL);
			o.ndirty = n;
			break;
		case 'p':
			n = split(optarg, items);
			o.npats = 0;
			for (int i = 0; i < n && o.npats < 2; i++)
				if (!strcmp(items[i], "rand") || !strcmp(items[i], "seq"))
					o.pats[o.npats++] = !strcmp(items[i], "rand") ? "rand" : "seq";
				else
					die("bad pattern '%s' (rand, seq)", items[i]);
			break;
		case 't':
			n = split(optarg, items);
			for (int i = 0; i < n; i++)
				o.threads[i] = (unsigned)strtoul(items[i], NULL, 10);
			o.nthreads = n;
			break;
		case 'I':
			n = split(optarg, items);
			o.nimage_sizes = 0;
			for (int i = 0; i < n; i++)
				if (strcmp(items[i], "0"))
					o.image_sizes[o.nimage_sizes++] = parse_size(items[i]);
			break;
		case 'O': o.image_only = true; break;
		case 'i':
			n = split(optarg, items);
			for (int i = 0; i < n; i++)
				o.image_dirty[i] = strtod(items[i], NULL);
			o.nimage_dirty = n;
			break;
		case 'A': o.apply = optarg; break;
		case 'G':
			n = split(optarg, items);
			for (int i = 0; i < n; i++)
				o.apply_gaps[i] = parse_bytes(items[i]);
			o.napply_gaps = n;
			break;
		case 'C': o.criu = optarg; break;
		case 'c': o.criu_size = parse_size(optarg); break;
		case 'D': o.criu_only = true; break;
		case 'r': o.runs = atoi(optarg); break;
		case 'P': o.procs = atoi(optarg); break;
		case 'm': o.max_files = strtoull(optarg, NULL, 10); break;
		case 'M': o.rsync_max_files = strtoull(optarg, NULL, 10); break;
		case 'R': o.rss_pages = strtoull(optarg, NULL, 10); break;
		case 'b': o.backend = optarg; break;
		case 'T': o.tmp = optarg; break;
		case 'V': o.vec = strtoull(optarg, NULL, 10); break;
		case 'N': o.no_daemon = true; break;
		case 'x': o.rss_no_read = true; break;
		case 'n': o.no_rsync = true; break;
		case 'H': o.thp = true; break;
		case 'q':
			o.sizes[0] = 16UL << 20;
			o.nsizes = 1;
			o.dirty[0] = 1;
			o.ndirty = 1;
			o.pats[0] = "rand";
			o.npats = 1;
			o.threads[0] = 1;
			o.threads[1] = 4;
			o.nthreads = 2;
			o.runs = 1;
			o.procs = 50;
			o.rss_pages = 2048;
			o.floor_files = 1000;
			o.pf_spec = "1000,1%,10%";
			o.pf_size = 16UL << 20;
			o.image_sizes[0] = 16UL << 20;
			o.nimage_sizes = 1;
			break;
		case 'o': o.out = optarg; break;
		case 'v': verbose = true; break;
		case 'h': usage(); exit(0);
		default: usage(); exit(2);
		}
	}
	if (!o.bigwork || (!o.sdfs && !o.no_daemon)) {
		usage();
		exit(2);
	}
	if (!o.apply && o.sdfs)
		o.apply = find_apply(o.sdfs);
	if (o.apply && access(o.apply, X_OK) < 0)
		die("--apply %s: %s", o.apply, strerror(errno));
	if (o.criu_only && !o.criu)
		die("--criu-only needs --criu PATH");
	if (o.criu && o.no_daemon)
		die("--criu needs the daemon");
	if (o.criu_only)
		o.image_only = true; /* nothing else either */
	if (o.pf_only && !o.nullfs)
		die("--pagefiles-only needs --nullfs PATH");
	if (o.runs < 1 || o.runs > MAX_RUNS)
		die("--runs must be 1..%d", MAX_RUNS);
	if (o.vec < 1)
		o.vec = 1;
}

/* 0: usable; 77 (meson's SKIP) with a reason when sdfs cannot mount. */
static int check_backend(void)
{
	char cmd[4200], line[512];
	bool ok = false;

	if (access("/dev/fuse", R_OK | W_OK) < 0) {
		printf("SKIP: /dev/fuse is not usable here\n");
		return 77;
	}
	snprintf(cmd, sizeof(cmd), "'%s' --probe", o.sdfs);
	FILE *p = popen(cmd, "r");
	if (!p)
		die("cannot run %s", o.sdfs);
	while (fgets(line, sizeof(line), p)) {
		size_t bl = strlen(o.backend);
		if (!strncmp(line, o.backend, bl) && !strncmp(line + bl, ": yes", 5))
			ok = true;
		note("probe: %s", strtok(line, "\n"));
	}
	pclose(p);
	if (!ok) {
		printf("SKIP: sdfs backend %s is not usable on this kernel (sdfs --probe)\n",
		       o.backend);
		return 77;
	}
	return 0;
}

static void loadavg(char *out, size_t len)
{
	FILE *f = fopen("/proc/loadavg", "re");
	double a = -1;
	if (f) {
		if (fscanf(f, "%lf", &a) != 1)
			a = -1;
		fclose(f);
	}
	snprintf(out, len, "%.2f", a);
}

int main(int argc, char **argv)
{
	parse_opts(argc, argv);
	setvbuf(stdout, NULL, _IOLBF, 0);
	page_size = (size_t)sysconf(_SC_PAGESIZE);
	cleanup_install();

	if (!o.no_daemon) {
		int r = check_backend();
		if (r)
			return r;
	}
	snprintf(workdir, sizeof(workdir), "%s/sdfs-bench.XXXXXX", o.tmp);
	if (!mkdtemp(workdir))
		die("mkdtemp in %s: %s", o.tmp, strerror(errno));
	cleanup_add_dir(workdir);
	if (!o.no_daemon) {
		char log[4200];
		snprintf(mnt, sizeof(mnt), "%s/mnt", workdir);
		snprintf(log, sizeof(log), "%s/sdfs.log", workdir);
		mkdir(mnt, 0755);
		int r = daemon_start(o.sdfs, o.backend, mnt, log, &dmn);
		if (r < 0)
			die("cannot mount sdfs on %s (%s); its log: %s", mnt,
			    strerror(-r), log);
		note("sdfs pid %d mounted on %s", (int)dmn.pid, mnt);
	}

	char load0[16], load1[16];
	loadavg(load0, sizeof(load0));
	double t0 = now_s();
	bool all = !o.image_only && !o.pf_only;
	if (o.procs > 0 && all)
		bench_ls();
	for (int i = 0; i < o.nsizes && all; i++)
		bench_size(o.sizes[i]);
	if (o.rss_pages > 0 && all)
		bench_rss();
	/* the CRIU rows compare against it too: FUSE round trips in the
	 * same guest */
	if (o.nullfs && o.floor_files > 0 && (all || o.criu_only))
		bench_floor();
	if (!o.image_only)
		bench_pagefiles();
	for (int i = 0; i < o.nimage_sizes && !o.no_daemon && !o.criu_only && !o.pf_only;
	     i++)
		bench_image(o.image_sizes[i]);
	if (o.criu && !o.pf_only)
		bench_criu(o.criu_size);

	if (!o.no_daemon) {
		const char *why = dmn.pid > 0 && kill(dmn.pid, 0) == 0 ? NULL : "daemon died";
		daemon_stop(&dmn);
		if (why)
			die("%s", why);
	}
	loadavg(load1, sizeof(load1));
	printf("\nsdfs-bench: backend %s, %d run(s) per row, medians; ratio = sdfs / baseline;"
	       " %.1f s; %ld CPUs, load average %s at start, %s at end\n\n",
	       o.no_daemon ? "none (baselines only)" : o.backend, o.runs, now_s() - t0,
	       sysconf(_SC_NPROCESSORS_ONLN), load0, load1);
	table_print(stdout);
	if (o.out) {
		FILE *f = fopen(o.out, "w");
		if (f) {
			table_print(f);
			fclose(f);
		}
	}
	return 0;
}
