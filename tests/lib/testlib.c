/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "testlib.h"

/* ---- the environment ---- */

size_t tl_ps;
const char *tl_bin;
const char *tl_backend = "auto";
const char *tl_workload_bin;
const char *tl_stress_target_bin;

void tl_env_init(gboolean subreaper)
{
	tl_ps = (size_t)sysconf(_SC_PAGESIZE);
	tl_bin = g_getenv("SDFS_BIN");
	tl_workload_bin = g_getenv("SDFS_WORKLOAD");
	tl_stress_target_bin = g_getenv("SDFS_STRESS_TARGET");
	tl_backend = g_getenv("SDFS_BACKEND");
	if (!tl_backend || !*tl_backend)
		tl_backend = "auto";
	tl_net_install();
	if (subreaper)
		prctl(PR_SET_CHILD_SUBREAPER, 1);
}

double tl_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

void tl_child_become(uid_t uid)
{
	if (!uid)
		return;
	if (setgroups(0, NULL) < 0 || setresgid(uid, uid, uid) < 0 ||
	    setresuid(uid, uid, uid) < 0) {
		dprintf(STDERR_FILENO, "cannot become uid %u: %s\n",
			(unsigned)uid, strerror(errno));
		_exit(125);
	}
}

/* ---- probe ---- */

static GMutex probe_lock;
static GHashTable *probe_table; /* "soft-dirty" -> "yes" | "no (reason)" */

/* Fill probe_table from `bin --probe`; errors go in as "error". */
static void probe_load(const char *bin)
{
	g_autofree char *out = NULL, *err = NULL;
	g_autoptr(GError) e = NULL;
	int status = 0;
	const char *argv[] = {bin, "--probe", NULL};

	probe_table =
		g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	if (!bin) {
		g_hash_table_insert(probe_table, g_strdup("error"),
				    g_strdup("SDFS_BIN not set"));
		return;
	}
	if (!g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_CLOEXEC_PIPES,
			  NULL, NULL, &out, &err, &status, &e)) {
		g_hash_table_insert(probe_table, g_strdup("error"),
				    g_strdup(e->message));
		return;
	}
	if (!g_spawn_check_wait_status(status, NULL))
		g_hash_table_insert(
			probe_table, g_strdup("error"),
			g_strdup_printf("sdfs --probe failed: %s", err));
	g_auto(GStrv) lines = g_strsplit(out, "\n", -1);
	for (char **l = lines; *l; l++) {
		char *colon = strstr(*l, ": ");
		if (colon)
			g_hash_table_insert(probe_table,
					    g_strndup(*l, colon - *l),
					    g_strdup(colon + 2));
	}
	g_test_message("probe: %s", out);
}

/* The table of `bin --probe`, filled on first use. */
static GHashTable *probe(const char *bin)
{
	g_mutex_lock(&probe_lock);
	if (!probe_table)
		probe_load(bin);
	g_mutex_unlock(&probe_lock);
	return probe_table;
}

gboolean tl_backend_usable(const char *backend, char **reason)
{
	GHashTable *t = probe(tl_bin);
	const char *v;

	if ((v = g_hash_table_lookup(t, "error"))) {
		*reason = g_strdup(v);
		return FALSE;
	}
	if (!strcmp(backend, "auto")) {
		v = g_hash_table_lookup(t, "auto");
		if (v && strcmp(v, "none"))
			return TRUE;
		*reason = g_strdup_printf(
			"no backend available on this kernel (auto: %s)",
			v ? v : "missing from --probe");
		return FALSE;
	}
	v = g_hash_table_lookup(t, backend);
	if (v && g_str_has_prefix(v, "yes"))
		return TRUE;
	const char *paren = v ? strchr(v, '(') : NULL;
	g_autofree char *why =
		paren ? g_strndup(paren + 1, strcspn(paren + 1, ")"))
		      : g_strdup(v ? v : "not in --probe output");
	*reason = g_strdup_printf("%s backend not available on this kernel: %s",
				  backend, why);
	return FALSE;
}

const char *tl_backend_effective(const char *backend)
{
	if (strcmp(backend, "auto"))
		return backend;
	const char *v = g_hash_table_lookup(probe(tl_bin), "auto");
	return v ? v : "none";
}

/* ---- dirty_ranges ---- */

static gboolean is_hex16(const char *s)
{
	for (int i = 0; i < 16; i++)
		if (!g_ascii_isdigit(s[i]) && !(s[i] >= 'a' && s[i] <= 'f'))
			return FALSE;
	return TRUE;
}

/* One line into *r; NULL, or what is wrong with it. */
static const char *range_line(const char *s, size_t ps, TlRange *r)
{
	if (strlen(s) < 16 + 1 + 16 + 1 + 1 + 1 + 4 || !is_hex16(s) ||
	    s[16] != '-' || !is_hex16(s + 17) || s[33] != ' ')
		return "bad dirty_ranges line";
	r->start = g_ascii_strtoull(s, NULL, 16);
	r->end = g_ascii_strtoull(s + 17, NULL, 16);
	const char *p = s + 34;
	char *end;
	if (!g_ascii_isdigit(*p) || *p == '0')
		return "bad PAGES";
	r->pages = g_ascii_strtoull(p, &end, 10);
	if (*end != ' ' || strlen(end + 1) < 4)
		return "bad line";
	memcpy(r->perms, end + 1, 4);
	if (!strchr("r-", r->perms[0]) || !strchr("w-", r->perms[1]) ||
	    !strchr("x-", r->perms[2]) || !strchr("ps", r->perms[3]))
		return "bad PERMS";
	p = end + 5;
	if (*p) {
		if (*p != ' ' || !p[1])
			return "bad PATH (trailing space?)";
		g_strlcpy(r->path, p + 1, sizeof(r->path));
	}
	if (r->start % ps || r->end % ps || r->end <= r->start)
		return "bad range";
	if (r->pages != (r->end - r->start) / ps)
		return "PAGES mismatch";
	return NULL;
}

GArray *tl_ranges_parse(const char *text, size_t page_size, char **err)
{
	GArray *a = g_array_new(FALSE, TRUE, sizeof(TlRange));
	if (!*text)
		return a;
	if (!g_str_has_suffix(text, "\n")) {
		*err = g_strdup("text does not end with a newline");
		g_array_free(a, TRUE);
		return NULL;
	}
	g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
	for (char **l = lines; l[0] && l[1]; l++) {
		TlRange r = {0};
		const char *why = range_line(*l, page_size, &r);
		if (!why && a->len &&
		    r.start < g_array_index(a, TlRange, a->len - 1).end)
			why = "ranges not ascending/overlap";
		if (why) {
			*err = g_strdup_printf("%s at '%s'", why, *l);
			g_array_free(a, TRUE);
			return NULL;
		}
		g_array_append_val(a, r);
	}
	return a;
}

/* ---- files ---- */

int tl_read_text(const char *path, size_t chunk, char **out, size_t *lenp)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	GString *s = g_string_new(NULL);
	g_autofree char *buf = g_malloc(chunk);
	for (;;) {
		ssize_t n = read(fd, buf, chunk);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = errno;
			close(fd);
			g_string_free(s, TRUE);
			return -e;
		}
		if (n == 0)
			break;
		g_string_append_len(s, buf, n);
	}
	close(fd);
	if (lenp)
		*lenp = s->len;
	*out = g_string_free(s, FALSE);
	return 0;
}

int tl_write_line(int fd, const char *cmd)
{
	g_autofree char *line = g_strconcat(cmd, "\n", NULL);
	size_t len = strlen(line);
	for (size_t off = 0; off < len;) {
		ssize_t n = write(fd, line + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EPIPE;
		off += (size_t)n;
	}
	return 0;
}

int tl_write_text(const char *path, const char *s, size_t len)
{
	int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ssize_t n = write(fd, s, len);
	int e = n < 0 ? errno : 0;
	if (close(fd) < 0 && !e)
		e = errno;
	if (e)
		return -e;
	return n == (ssize_t)len ? 0 : -EIO;
}

/* ---- mounts and /proc ---- */

char *tl_mount_fstype(const char *mnt)
{
	g_autofree char *info = NULL;
	char *found = NULL;
	if (!g_file_get_contents("/proc/self/mountinfo", &info, NULL, NULL))
		return NULL;
	g_auto(GStrv) lines = g_strsplit(info, "\n", -1);
	for (char **l = lines; *l; l++) {
		g_auto(GStrv) f = g_strsplit(*l, " ", -1);
		if (g_strv_length(f) < 7)
			continue;
		g_autofree char *mp = g_strcompress(f[4]); /* \040 etc. */
		if (strcmp(mp, mnt))
			continue;
		for (int i = 5; f[i]; i++)
			if (!strcmp(f[i], "-") && f[i + 1]) {
				g_free(found); /* the last mount on top wins */
				found = g_strdup(f[i + 1]);
				break;
			}
	}
	return found;
}

int tl_fd_count(pid_t pid)
{
	char p[64];
	snprintf(p, sizeof(p), "/proc/%d/fd", (int)pid);
	DIR *d = opendir(p);
	if (!d)
		return -1;
	int n = 0;
	struct dirent *de;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

/* ---- the safety net ---- */

#define MAX_PIDS 1024
#define MAX_MOUNTS 8

static GMutex net_lock;
static volatile pid_t net_pids[MAX_PIDS];
static char net_mnts[MAX_MOUNTS][PATH_MAX];
static char net_logs[MAX_MOUNTS][PATH_MAX + 8];
static char net_dirs[MAX_MOUNTS][PATH_MAX];
static volatile sig_atomic_t net_used[MAX_MOUNTS];
static char net_tmp[PATH_MAX];

void tl_track_pid(pid_t pid)
{
	g_mutex_lock(&net_lock);
	for (int i = 0; i < MAX_PIDS; i++)
		if (!net_pids[i]) {
			net_pids[i] = pid;
			g_mutex_unlock(&net_lock);
			return;
		}
	g_mutex_unlock(&net_lock);
	g_error("too many tracked processes");
}

void tl_untrack_pid(pid_t pid)
{
	g_mutex_lock(&net_lock);
	for (int i = 0; i < MAX_PIDS; i++)
		if (net_pids[i] == pid)
			net_pids[i] = 0;
	g_mutex_unlock(&net_lock);
}

int tl_net_add_mount(const char *mnt, const char *log, const char *dir)
{
	int slot = -1;
	g_mutex_lock(&net_lock);
	for (int i = 0; i < MAX_MOUNTS && slot < 0; i++)
		if (!net_used[i]) {
			slot = i;
			g_strlcpy(net_mnts[i], mnt, sizeof(net_mnts[i]));
			g_strlcpy(net_logs[i], log, sizeof(net_logs[i]));
			g_strlcpy(net_dirs[i], dir ? dir : "",
				  sizeof(net_dirs[i]));
			net_used[i] = 1;
		}
	g_mutex_unlock(&net_lock);
	return slot;
}

void tl_net_drop_mount(int slot)
{
	if (slot >= 0 && slot < MAX_MOUNTS)
		net_used[slot] = 0;
}

void tl_net_set_tmp(const char *dir)
{
	g_strlcpy(net_tmp, dir ? dir : "", sizeof(net_tmp));
}

/* Async-signal-safe removal of dir and what it holds, depth bounded. */
static void net_rm(int parent, const char *name, int depth)
{
	char buf[4096];
	long n;
	int fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
	if (fd < 0)
		return;
	while (depth > 0 &&
	       (n = syscall(SYS_getdents64, fd, buf, sizeof(buf))) > 0) {
		for (long off = 0; off < n;) {
			struct dirent64 *de = (struct dirent64 *)(buf + off);
			off += de->d_reclen;
			if (!strcmp(de->d_name, ".") ||
			    !strcmp(de->d_name, ".."))
				continue;
			if (unlinkat(fd, de->d_name, 0) < 0 && errno == EISDIR)
				net_rm(fd, de->d_name, depth - 1);
		}
	}
	close(fd);
	unlinkat(parent, name, AT_REMOVEDIR);
}

static void net_write(const char *s)
{
	ssize_t r = write(STDERR_FILENO, s, strlen(s));
	(void)r;
}

void tl_net_cleanup(int dump)
{
	for (int i = 0; i < MAX_PIDS; i++)
		if (net_pids[i] > 0)
			kill(net_pids[i], SIGKILL);
	for (int i = 0; i < MAX_MOUNTS; i++) {
		if (!net_used[i])
			continue;
		umount2(net_mnts[i], MNT_DETACH);
		if (dump) {
			char buf[4096];
			int fd = open(net_logs[i], O_RDONLY);
			ssize_t n;
			net_write("# ---- sdfs daemon log ----\n");
			while (fd >= 0 && (n = read(fd, buf, sizeof(buf))) > 0)
				if (write(STDERR_FILENO, buf, (size_t)n) < 0)
					break;
			if (fd >= 0)
				close(fd);
			net_write("# ---- end of daemon log ----\n");
		}
		rmdir(net_mnts[i]);
		unlink(net_logs[i]);
		if (net_dirs[i][0])
			rmdir(net_dirs[i]);
		net_used[i] = 0;
	}
	if (net_tmp[0])
		net_rm(AT_FDCWD, net_tmp, 3);
}

static void net_signal(int sig)
{
	tl_net_cleanup(1);
	signal(sig, SIG_DFL);
	raise(sig);
}

static void net_atexit(void)
{
	tl_net_cleanup(0);
}

void tl_net_install(void)
{
	int sigs[] = {SIGABRT, SIGTERM, SIGINT, SIGSEGV, SIGBUS,
		      SIGHUP,  SIGTRAP, SIGFPE, SIGALRM};
	for (size_t i = 0; i < G_N_ELEMENTS(sigs); i++)
		signal(sigs[i], net_signal);
	signal(SIGPIPE, SIG_IGN);
	atexit(net_atexit);
}

gboolean tl_all_zero(const void *p, size_t n)
{
	const guint8 *b = p;
	for (size_t i = 0; i < n; i++)
		if (b[i])
			return FALSE;
	return TRUE;
}
