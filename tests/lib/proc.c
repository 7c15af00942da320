/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A process seen through /proc (proc.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proc.h"
#include "testlib.h"

/* The state letter of a stat file, or 0. */
static char stat_state(const char *path)
{
	g_autofree char *t = NULL;
	if (!g_file_get_contents(path, &t, NULL, NULL))
		return 0;
	char *rp = strrchr(t, ')');
	return rp && rp[1] == ' ' ? rp[2] : 0;
}

char proc_state(pid_t pid)
{
	g_autofree char *p = g_strdup_printf("/proc/%d/stat", (int)pid);
	return stat_state(p);
}

/* The state letters of the threads of pid; NULL if gone. */
char *thread_states(pid_t pid)
{
	g_autofree char *dir = g_strdup_printf("/proc/%d/task", (int)pid);
	GDir *d = g_dir_open(dir, 0, NULL);
	if (!d)
		return NULL;
	GString *s = g_string_new(NULL);
	const char *n;
	while ((n = g_dir_read_name(d))) {
		g_autofree char *p = g_strdup_printf("%s/%s/stat", dir, n);
		char c = stat_state(p);
		g_string_append_printf(s, "%s%c", s->len ? " " : "",
				       c ? c : '?');
	}
	g_dir_close(d);
	return g_string_free(s, FALSE);
}

gboolean all_threads_state(pid_t pid, char st)
{
	g_autofree char *dir = g_strdup_printf("/proc/%d/task", (int)pid);
	GDir *d = g_dir_open(dir, 0, NULL);
	if (!d)
		return FALSE;
	gboolean all = TRUE;
	const char *n;
	while (all && (n = g_dir_read_name(d))) {
		g_autofree char *p = g_strdup_printf("%s/%s/stat", dir, n);
		all = stat_state(p) == st;
	}
	g_dir_close(d);
	return all;
}

void wait_all_threads_state(pid_t pid, char st)
{
	for (int i = 0; i < 10000; i++) {
		if (all_threads_state(pid, st))
			return;
		g_usleep(1000);
	}
	g_error("threads of %d did not reach state %c", (int)pid, st);
}

char *proc_dump_threads(pid_t pid)
{
	g_autofree char *dir = g_strdup_printf("/proc/%d/task", (int)pid);
	GDir *d = g_dir_open(dir, 0, NULL);
	GString *s = g_string_new(NULL);
	g_string_append_printf(s, "threads of pid %d:\n", (int)pid);
	if (!d)
		return g_string_free(s, FALSE);
	const char *n;
	while ((n = g_dir_read_name(d))) {
		const char *files[] = {"comm", "wchan", "stack"};
		g_autofree char *st = g_strdup_printf("%s/%s/stat", dir, n);
		g_string_append_printf(s, "  tid %s state %c", n,
				       stat_state(st) ? stat_state(st) : '?');
		for (size_t i = 0; i < G_N_ELEMENTS(files); i++) {
			g_autofree char *p =
				g_strdup_printf("%s/%s/%s", dir, n, files[i]);
			g_autofree char *t = NULL;
			if (!g_file_get_contents(p, &t, NULL, NULL))
				continue;
			g_strchomp(t);
			if (i < 2)
				g_string_append_printf(s, " %s %s", files[i],
						       t);
			else
				g_string_append_printf(s, "\n%s", t);
		}
		g_string_append_c(s, '\n');
	}
	g_dir_close(d);
	return g_string_free(s, FALSE);
}

/* The parent of pid from /proc/PID/stat, or 0. */
static pid_t stat_ppid(pid_t pid)
{
	g_autofree char *p = g_strdup_printf("/proc/%d/stat", (int)pid);
	g_autofree char *t = NULL;
	if (!g_file_get_contents(p, &t, NULL, NULL))
		return 0;
	const char *e = strrchr(t, ')');
	char st;
	int ppid;
	if (!e || sscanf(e + 1, " %c %d", &st, &ppid) != 2)
		return 0;
	return (pid_t)ppid;
}

char *proc_pipe_fds(pid_t pid)
{
	g_autofree char *dir = g_strdup_printf("/proc/%d/fd", (int)pid);
	GString *s = g_string_new(NULL);
	GDir *d = g_dir_open(dir, 0, NULL);
	const char *n;
	while (d && (n = g_dir_read_name(d))) {
		g_autofree char *p = g_build_filename(dir, n, NULL);
		g_autofree char *t = g_file_read_link(p, NULL);
		if (t && g_str_has_prefix(t, "pipe:"))
			g_string_append_printf(s, " %s=%s", n, t + 5);
	}
	if (d)
		g_dir_close(d);
	return g_string_free(s, FALSE);
}

char *proc_dump_descendants(pid_t root)
{
	GString *s = g_string_new(NULL);
	GArray *tree = g_array_new(FALSE, FALSE, sizeof(pid_t));
	g_array_append_val(tree, root);
	/* a few passes: children, grandchildren (rsync's own) */
	for (int pass = 0; pass < 3; pass++) {
		GDir *d = g_dir_open("/proc", 0, NULL);
		const char *n;
		while (d && (n = g_dir_read_name(d))) {
			pid_t pid = (pid_t)atoi(n);
			if (pid <= 0)
				continue;
			gboolean known = FALSE, parent = FALSE;
			pid_t pp = stat_ppid(pid);
			for (guint i = 0; i < tree->len; i++) {
				pid_t t = g_array_index(tree, pid_t, i);
				known |= t == pid;
				parent |= t == pp;
			}
			if (parent && !known)
				g_array_append_val(tree, pid);
		}
		if (d)
			g_dir_close(d);
	}
	for (guint i = 1; i < tree->len; i++) {
		pid_t pid = g_array_index(tree, pid_t, i);
		g_autofree char *cp =
			g_strdup_printf("/proc/%d/cmdline", (int)pid);
		g_autofree char *cmd = NULL;
		gsize len = 0;
		if (g_file_get_contents(cp, &cmd, &len, NULL))
			for (gsize k = 0; k + 1 < len; k++)
				if (!cmd[k])
					cmd[k] = ' ';
		g_autofree char *th = proc_dump_threads(pid);
		g_autofree char *fds = proc_pipe_fds(pid);
		g_string_append_printf(
			s, "descendant %d (parent %d): %s\n  pipes:%s\n%s",
			(int)pid, (int)stat_ppid(pid), cmd ? cmd : "?", fds,
			th);
	}
	g_array_free(tree, TRUE);
	return g_string_free(s, FALSE);
}

long proc_status_kb(pid_t pid, const char *key)
{
	g_autofree char *p = g_strdup_printf("/proc/%d/status", (int)pid);
	g_autofree char *t = NULL;
	if (!g_file_get_contents(p, &t, NULL, NULL))
		return -1;
	size_t kl = strlen(key);
	for (char *l = t; l && *l;
	     l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
		if (!strncmp(l, key, kl) && l[kl] == ':')
			return strtol(l + kl + 1, NULL, 10);
	return -1;
}

GArray *proc_find_comm(const char *comm)
{
	GArray *a = g_array_new(FALSE, FALSE, sizeof(pid_t));
	DIR *d = opendir("/proc");
	struct dirent *de;
	while (d && (de = readdir(d))) {
		char *end;
		long pid = strtol(de->d_name, &end, 10);
		if (*end || pid <= 0)
			continue;
		g_autofree char *p = g_strdup_printf("/proc/%ld/comm", pid);
		g_autofree char *t = NULL;
		if (g_file_get_contents(p, &t, NULL, NULL) &&
		    !strcmp(g_strchomp(t), comm)) {
			pid_t v = (pid_t)pid;
			g_array_append_val(a, v);
		}
	}
	if (d)
		closedir(d);
	return a;
}

void read_mem(pid_t pid, guint64 addr, guint8 *buf, gsize len)
{
	g_autofree char *p = g_strdup_printf("/proc/%d/mem", (int)pid);
	int fd = open(p, O_RDONLY | O_CLOEXEC);
	g_assert_no_errno(fd);
	ssize_t n = pread(fd, buf, len, (off_t)addr);
	if (n != (ssize_t)len)
		g_error("pread %s at %" G_GINT64_MODIFIER "x: %s", p, addr,
			n < 0 ? g_strerror(errno) : "short read");
	close(fd);
}

guint64 present_run(pid_t pid, guint64 addr, guint64 n)
{
	g_autofree char *p = g_strdup_printf("/proc/%d/pagemap", (int)pid);
	int fd = open(p, O_RDONLY | O_CLOEXEC);
	g_assert_no_errno(fd);
	guint64 i;
	for (i = 0; i < n; i++) {
		guint64 e = 0;
		off_t off = (off_t)((addr / tl_ps + i) * sizeof(e));
		g_assert_cmpint(pread(fd, &e, sizeof(e), off), ==, sizeof(e));
		if (!(e & (3ULL << 62)))
			break;
	}
	close(fd);
	return i;
}

/* ---- maps ---- */

GArray *maps_read(pid_t pid)
{
	g_autofree char *p = g_strdup_printf("/proc/%d/maps", (int)pid);
	g_autofree char *t = NULL;
	if (!g_file_get_contents(p, &t, NULL, NULL))
		return NULL;
	GArray *a = g_array_new(FALSE, TRUE, sizeof(TlRange));
	g_auto(GStrv) lines = g_strsplit(t, "\n", -1);
	for (char **l = lines; *l && **l; l++) {
		TlRange v = {0};
		int off = 0;
		unsigned long long s, e;
		if (sscanf(*l, "%llx-%llx %4s %*s %*s %*s%n", &s, &e, v.perms,
			   &off) < 3)
			continue;
		v.start = s;
		v.end = e;
		v.pages = (e - s) / tl_ps;
		const char *name = *l + off;
		while (*name == ' ')
			name++;
		g_strlcpy(v.path, name, sizeof(v.path));
		g_array_append_val(a, v);
	}
	return a;
}

gboolean maps_contain(GArray *maps, uint64_t s, uint64_t e)
{
	for (guint i = 0; i < maps->len; i++) {
		TlRange *m = &g_array_index(maps, TlRange, i);
		if (s >= m->start && e <= m->end)
			return TRUE;
	}
	return FALSE;
}
