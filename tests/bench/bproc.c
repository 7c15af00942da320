/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Processes the benchmark starts (workloads, the daemon, helpers) and the
 * cleanup that stops them and unmounts, at exit, on failure and on
 * SIGINT/SIGTERM/SIGHUP.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

bool verbose;

double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void note(const char *fmt, ...)
{
	va_list ap;
	if (!verbose)
		return;
	va_start(ap, fmt);
	fprintf(stderr, "bench: ");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "bench: ");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(1); /* atexit runs the cleanup */
}

void sbuf_reserve(struct sbuf *b, size_t more)
{
	if (b->len + more <= b->cap)
		return;
	size_t cap = b->cap ? b->cap : 65536;
	while (cap < b->len + more)
		cap *= 2;
	char *p = realloc(b->p, cap);
	if (!p)
		die("out of memory");
	b->p = p;
	b->cap = cap;
}

void sbuf_free(struct sbuf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

/* ---- cleanup ------------------------------------------------------------ */

#define MAX_PIDS 8192
#define MAX_DIRS 16

static volatile pid_t pids[MAX_PIDS];
#define MAX_MOUNTS 4
static char mounts[MAX_MOUNTS][4096];
static char dirs[MAX_DIRS][4096];
static int ndirs;

void cleanup_add_pid(pid_t pid)
{
	for (int i = 0; i < MAX_PIDS; i++)
		if (pids[i] == 0) {
			pids[i] = pid;
			return;
		}
	kill(pid, SIGKILL);
	die("too many children");
}

void cleanup_del_pid(pid_t pid)
{
	for (int i = 0; i < MAX_PIDS; i++)
		if (pids[i] == pid)
			pids[i] = 0;
}

void cleanup_add_mount(const char *mp)
{
	for (int i = 0; i < MAX_MOUNTS; i++)
		if (!mounts[i][0]) {
			snprintf(mounts[i], sizeof(mounts[i]), "%s", mp);
			return;
		}
}

void cleanup_del_mount(const char *mp)
{
	for (int i = 0; i < MAX_MOUNTS; i++)
		if (!strcmp(mounts[i], mp))
			mounts[i][0] = '\0';
}

void cleanup_add_dir(const char *dir)
{
	if (ndirs < MAX_DIRS)
		snprintf(dirs[ndirs++], sizeof(dirs[0]), "%s", dir);
}

static void unmount_now(const char *mp)
{
	if (!mp[0])
		return;
	if (umount2(mp, MNT_DETACH) == 0 || errno == EINVAL)
		return;
	/* unprivileged: fusermount3 */
	pid_t p = fork();
	if (p == 0) {
		int null = open("/dev/null", O_WRONLY);
		dup2(null, 2);
		execlp("fusermount3", "fusermount3", "-u", "-z", mp, (char *)NULL);
		_exit(127);
	}
	if (p > 0)
		waitpid(p, NULL, 0);
}

void cleanup_run(void)
{
	static bool done;
	if (done)
		return;
	done = true;
	/* the daemons see their mounts go, then everything is killed */
	for (int i = 0; i < MAX_MOUNTS; i++)
		unmount_now(mounts[i]);
	for (int i = 0; i < MAX_PIDS; i++)
		if (pids[i] > 0)
			kill(pids[i], SIGKILL);
	for (int i = 0; i < MAX_PIDS; i++)
		if (pids[i] > 0) {
			waitpid(pids[i], NULL, 0);
			pids[i] = 0;
		}
	memset(mounts, 0, sizeof(mounts));
	for (int i = 0; i < ndirs; i++)
		rm_rf(dirs[i]);
	ndirs = 0;
}

static void on_signal(int sig)
{
	cleanup_run();
	signal(sig, SIG_DFL);
	raise(sig);
}

void cleanup_install(void)
{
	struct sigaction sa = {.sa_handler = on_signal};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	atexit(cleanup_run);
}

static int rm_one(const char *path, const struct stat *st, int flag,
		  struct FTW *ftw)
{
	if (flag == FTW_DP)
		rmdir(path);
	else
		unlink(path);
	return 0;
}

void rm_rf(const char *path)
{
	nftw(path, rm_one, 64, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
}

/* ---- running things --------------------------------------------------- */

int run_timed(char *const argv[], const char *out_path, double *secs)
{
	double t0 = now_s();
	pid_t p = fork();
	if (p < 0)
		return -1;
	if (p == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (out_path) {
			int fd = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
			if (fd < 0 || dup2(fd, 1) < 0)
				_exit(126);
			/* `ls` of a /proc-like tree races with exiting pids */
			if (!strcmp(out_path, "/dev/null"))
				dup2(fd, 2);
		}
		execvp(argv[0], argv);
		_exit(127);
	}
	cleanup_add_pid(p);
	int st;
	while (waitpid(p, &st, 0) < 0 && errno == EINTR)
		;
	cleanup_del_pid(p);
	*secs = now_s() - t0;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

long proc_status_kib(pid_t pid, const char *key)
{
	char path[64], line[256];
	size_t kl = strlen(key);
	long v = -1;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, kl) && line[kl] == ':') {
			v = strtol(line + kl + 1, NULL, 10);
			break;
		}
	fclose(f);
	return v;
}

double proc_cpu_s(pid_t pid)
{
	char path[64];
	double sum = 0;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	DIR *d = opendir(path);
	if (!d)
		return NAN;
	struct dirent *de;
	while ((de = readdir(d))) {
		char p2[384];
		unsigned long long ns;
		if (de->d_name[0] == '.')
			continue;
		/* the first field: nanoseconds on a CPU (sum_exec_runtime) */
		snprintf(p2, sizeof(p2), "%s/%s/schedstat", path, de->d_name);
		FILE *f = fopen(p2, "re");
		if (!f)
			continue; /* the thread exited meanwhile */
		if (fscanf(f, "%llu", &ns) == 1)
			sum += (double)ns * 1e-9;
		fclose(f);
	}
	closedir(d);
	return sum;
}

double thread_cpu_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int write_file(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ssize_t n = write(fd, s, strlen(s));
	int r = n == (ssize_t)strlen(s) ? 0 : (n < 0 ? -errno : -EIO);
	close(fd);
	return r;
}

/* ---- the workload --------------------------------------------------- */

static int read_line(int fd, char *buf, size_t len)
{
	size_t n = 0;
	while (n + 1 < len) {
		ssize_t r = read(fd, buf + n, 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -EIO;
		if (buf[n] == '\n')
			break;
		n++;
	}
	buf[n] = '\0';
	return 0;
}

static int send_line(int fd, const char *s)
{
	size_t len = strlen(s);
	return write(fd, s, len) == (ssize_t)len ? 0 : -EIO;
}

int bw_start(const char *exe, size_t size, unsigned threads, bool thp,
	     bool self_uffd, struct bw *w)
{
	int in[2], out[2];
	char sz[32], th[16];

	memset(w, 0, sizeof(*w));
	if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0)
		return -errno;
	snprintf(sz, sizeof(sz), "%zu", size);
	snprintf(th, sizeof(th), "%u", threads);
	pid_t p = fork();
	if (p < 0)
		return -errno;
	if (p == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		char *argv[8] = {(char *)exe, "--size", sz, "--threads", th};
		int n = 5;
		if (thp)
			argv[n++] = "--thp";
		if (self_uffd)
			argv[n++] = "--self-uffd";
		argv[n] = NULL;
		execv(exe, argv);
		_exit(127);
	}
	cleanup_add_pid(p);
	close(in[0]);
	close(out[1]);
	w->pid = p;
	w->to = in[1];
	w->from = out[0];
	w->threads = threads;
	char line[256];
	int pid2;
	if (read_line(w->from, line, sizeof(line)) < 0 ||
	    sscanf(line, "ready %d %" SCNxPTR " %zu %zu", &pid2, &w->base,
		   &w->size, &w->page_size) != 4) {
		bw_stop(w);
		return -EIO;
	}
	return 0;
}

int bw_write(struct bw *w, unsigned long ppm, const char *pattern,
	     uint64_t seed, uint64_t *pages)
{
	char cmd[128], line[256];
	uint64_t n, us;

	snprintf(cmd, sizeof(cmd), "w %lu %s %" PRIu64 "\n", ppm, pattern, seed);
	if (send_line(w->to, cmd) < 0 || read_line(w->from, line, sizeof(line)) < 0)
		return -EIO;
	if (sscanf(line, "done %" SCNu64 " %" SCNu64, &n, &us) != 2)
		return -EIO;
	if (pages)
		*pages = n;
	return 0;
}

int bw_self_wp(struct bw *w, uint64_t *us, long *pages)
{
	char line[256];
	if (send_line(w->to, "wp\n") < 0 || read_line(w->from, line, sizeof(line)) < 0)
		return -EIO;
	if (sscanf(line, "wp %" SCNu64 " %ld", us, pages) != 2 || *pages < 0)
		return -EIO;
	return 0;
}

void bw_stop(struct bw *w)
{
	if (w->pid <= 0)
		return;
	send_line(w->to, "q\n");
	close(w->to);
	close(w->from);
	/* give it a moment to exit by itself (unmapping 16 GiB takes time) */
	int st;
	for (int i = 0; i < 500; i++) {
		if (waitpid(w->pid, &st, WNOHANG) == w->pid)
			goto reaped;
		usleep(10000);
	}
	kill(w->pid, SIGKILL);
	waitpid(w->pid, &st, 0);
reaped:
	cleanup_del_pid(w->pid);
	w->pid = 0;
}

/* ---- the daemon ------------------------------------------------------ */

static bool is_mounted(const char *want)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char line[8192];
	bool found = false;

	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f)) {
		/* id parent major:minor root MOUNTPOINT ... - fstype ... */
		char mp[4096];
		if (sscanf(line, "%*s %*s %*s %*s %4095s", mp) == 1 &&
		    !strcmp(mp, want) && strstr(line, " - fuse"))
			found = true;
	}
	fclose(f);
	return found;
}

/* Start a FUSE daemon in the foreground and wait until it is mounted. */
static int fuse_start(char *const argv[], const char *mp, const char *log,
		      struct daemon *d)
{
	memset(d, 0, sizeof(*d));
	snprintf(d->mnt, sizeof(d->mnt), "%s", mp);
	snprintf(d->log, sizeof(d->log), "%s", log);
	pid_t p = fork();
	if (p < 0)
		return -errno;
	if (p == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		execv(argv[0], argv);
		_exit(127);
	}
	cleanup_add_pid(p);
	cleanup_add_mount(mp);
	d->pid = p;
	for (int i = 0; i < 1000; i++) {
		if (is_mounted(mp))
			return 0;
		int st;
		if (waitpid(p, &st, WNOHANG) == p) {
			cleanup_del_pid(p);
			cleanup_del_mount(mp);
			d->pid = 0;
			return -ECHILD;
		}
		usleep(10000);
	}
	daemon_stop(d);
	return -ETIMEDOUT;
}

int daemon_start(const char *exe, const char *backend, const char *mp,
		 const char *log, struct daemon *d)
{
	char opt[128];
	snprintf(opt, sizeof(opt), "backend=%s", backend);
	char *argv[] = {(char *)exe, "-f", "-o", opt, (char *)mp, NULL};
	return fuse_start(argv, mp, log, d);
}

int nullfs_start(const char *exe, enum nullfs_mode mode, unsigned long files,
		 const char *mp, const char *log, struct daemon *d)
{
	char n[32];
	snprintf(n, sizeof(n), "%lu", files);
	char *argv[] = {(char *)exe, "-f", (char *)mp, n, NULL, NULL, NULL};
	if (mode != NF_SDFS) {
		argv[4] = "-o";
		argv[5] = mode == NF_NOOPEN ? "noopen" : "cached";
	}
	return fuse_start(argv, mp, log, d);
}

void daemon_stop(struct daemon *d)
{
	if (d->pid <= 0)
		return;
	unmount_now(d->mnt);
	int st;
	for (int i = 0; i < 300; i++) {
		if (waitpid(d->pid, &st, WNOHANG) == d->pid)
			goto reaped;
		if (i == 100)
			kill(d->pid, SIGTERM);
		usleep(10000);
	}
	kill(d->pid, SIGKILL);
	waitpid(d->pid, &st, 0);
reaped:
	cleanup_del_pid(d->pid);
	cleanup_del_mount(d->mnt);
	d->pid = 0;
}
