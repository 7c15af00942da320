/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* sdfs_itest helpers: workload control, file access, dirty_ranges parsing. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "itest.h"

#define REPLY_TIMEOUT_MS 30000

/* ---- workloads ---- */

Workload *wl_start(void)
{
	return wl_spawn(itest_workload_bin, NULL, NULL, NULL);
}

Workload *wl_spawn(const char *bin, const char *arg,
		   void (*in_child)(void *), void *ctx)
{
	int in[2], out[2];
	pid_t parent = getpid();
	g_assert_no_errno(pipe2(in, O_CLOEXEC));
	g_assert_no_errno(pipe2(out, O_CLOEXEC));
	pid_t pid = fork();
	g_assert_cmpint(pid, >=, 0);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(127);
		dup2(in[0], STDIN_FILENO);
		dup2(out[1], STDOUT_FILENO);
		signal(SIGPIPE, SIG_DFL);
		if (in_child)
			in_child(ctx);
		execl(bin, bin, arg, (char *)NULL);
		dprintf(STDERR_FILENO, "exec %s: %s\n", bin, strerror(errno));
		_exit(127);
	}
	tl_track_pid(pid);
	close(in[0]);
	close(out[1]);
	Workload *w = g_new0(Workload, 1);
	w->pid = pid;
	w->to = in[1];
	w->from = out[0];
	g_autofree char *ready = wl_read_line(w);
	g_autofree char *expect = g_strdup_printf("ready %d", (int)pid);
	g_assert_cmpstr(ready, ==, expect);
	return w;
}

char *wl_read_line(Workload *w)
{
	gint64 deadline = g_get_monotonic_time() + REPLY_TIMEOUT_MS * 1000;
	for (;;) {
		char *nl = memchr(w->buf, '\n', w->len);
		if (nl) {
			char *line = g_strndup(w->buf, nl - w->buf);
			w->len -= nl + 1 - w->buf;
			memmove(w->buf, nl + 1, w->len);
			return line;
		}
		g_assert_cmpuint(w->len, <, sizeof(w->buf));
		int left = (int)((deadline - g_get_monotonic_time()) / 1000);
		if (left <= 0)
			g_error("workload %d: no reply within %d ms",
				(int)w->pid, REPLY_TIMEOUT_MS);
		struct pollfd p = {.fd = w->from, .events = POLLIN};
		int r = poll(&p, 1, left);
		if (r < 0 && errno == EINTR)
			continue;
		g_assert_cmpint(r, >=, 0);
		if (r == 0)
			continue;
		ssize_t n =
			read(w->from, w->buf + w->len, sizeof(w->buf) - w->len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			g_error("workload %d closed its output", (int)w->pid);
		w->len += n;
	}
}

static char *wl_vtry(Workload *w, const char *fmt, va_list ap)
{
	g_autofree char *cmd = g_strdup_vprintf(fmt, ap);
	g_autofree char *line = g_strconcat(cmd, "\n", NULL);
	gsize len = strlen(line);
	for (gsize off = 0; off < len;) {
		ssize_t n = write(w->to, line + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			g_error("workload %d: write: %s", (int)w->pid,
				g_strerror(errno));
		off += n;
	}
	return wl_read_line(w);
}

char *wl_try(Workload *w, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *r = wl_vtry(w, fmt, ap);
	va_end(ap);
	return r;
}

static char *wl_vcmd(Workload *w, const char *fmt, va_list ap)
{
	va_list copy;
	va_copy(copy, ap);
	g_autofree char *cmd = g_strdup_vprintf(fmt, copy);
	va_end(copy);
	g_autofree char *r = wl_vtry(w, fmt, ap);
	if (strcmp(r, "ok") && !g_str_has_prefix(r, "ok "))
		g_error("workload %d: '%s' -> '%s'", (int)w->pid, cmd, r);
	return g_strdup(r[2] ? r + 3 : "");
}

char *wl_cmd(Workload *w, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *r = wl_vcmd(w, fmt, ap);
	va_end(ap);
	return r;
}

void wl_do(Workload *w, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	g_free(wl_vcmd(w, fmt, ap));
	va_end(ap);
}

guint64 wl_addr(Workload *w, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	g_autofree char *r = wl_vcmd(w, fmt, ap);
	va_end(ap);
	char *end;
	guint64 a = g_ascii_strtoull(r, &end, 16);
	g_assert_true(*r && !*end);
	g_assert_cmpuint(a % itest_ps, ==, 0);
	return a;
}

void wl_kill(Workload *w)
{
	if (w->pid > 0) {
		kill(w->pid, SIGKILL);
		waitpid(w->pid, NULL, 0);
		tl_untrack_pid(w->pid);
	}
	close(w->to);
	close(w->from);
	g_free(w);
}

/* ---- files ---- */

char *mnt_path(const Mount *m, pid_t pid, const char *rel)
{
	if (!rel || !*rel)
		return g_strdup_printf("%s/%d", m->mnt, (int)pid);
	return g_strdup_printf("%s/%d/%s", m->mnt, (int)pid, rel);
}

char *fx_path(Fx *fx, pid_t pid, const char *rel)
{
	return mnt_path(&fx->m, pid, rel);
}

char *read_text(const char *path, gsize *lenp)
{
	char *out = NULL;
	int r = tl_read_text(path, 8192, &out, lenp);
	if (r < 0)
		errno = -r;
	return out;
}

int write_text(const char *path, const char *s, gsize len)
{
	return tl_write_text(path, s, len);
}

guint64 read_epoch(const Mount *m, pid_t pid)
{
	g_autofree char *p = mnt_path(m, pid, "clear");
	g_autofree char *t = read_text(p, NULL);
	g_assert_nonnull(t);
	g_assert_true(g_str_has_suffix(t, "\n"));
	char *end;
	guint64 v = g_ascii_strtoull(t, &end, 10);
	g_assert_cmpstr(end, ==, "\n");
	g_assert_true(g_ascii_isdigit(t[0]));
	return v;
}

guint64 do_clear(const Mount *m, pid_t pid)
{
	g_autofree char *p = mnt_path(m, pid, "clear");
	int r = write_text(p, "1\n", 2);
	if (r < 0)
		g_error("clear %s: %s", p, g_strerror(-r));
	return read_epoch(m, pid);
}

GPtrArray *list_dir(const char *path)
{
	DIR *d = opendir(path);
	if (!d)
		return NULL;
	GPtrArray *a = g_ptr_array_new_with_free_func(g_free);
	struct dirent *de;
	errno = 0;
	while ((de = readdir(d))) {
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			g_ptr_array_add(a, g_strdup(de->d_name));
		errno = 0;
	}
	int e = errno;
	closedir(d);
	if (e) {
		g_ptr_array_free(a, TRUE);
		errno = e;
		return NULL;
	}
	return a;
}

/* ---- dirty_ranges ---- */

GArray *ranges_parse(const char *text)
{
	g_autofree char *err = NULL;
	g_assert_nonnull(text);
	GArray *a = tl_ranges_parse(text, itest_ps, &err);
	if (!a)
		g_error("%s", err);
	return a;
}

typedef struct {
	guint64 start, end;
	char perms[5];
	char path[512];
} Vma;

static GArray *read_maps(pid_t pid)
{
	g_autofree char *p = g_strdup_printf("/proc/%d/maps", (int)pid);
	g_autofree char *t = NULL;
	g_assert_true(g_file_get_contents(p, &t, NULL, NULL));
	GArray *a = g_array_new(FALSE, TRUE, sizeof(Vma));
	g_auto(GStrv) lines = g_strsplit(t, "\n", -1);
	for (char **l = lines; *l && **l; l++) {
		Vma v = {0};
		int off = 0;
		unsigned long long s, e;
		if (sscanf(*l, "%llx-%llx %4s %*s %*s %*s%n", &s, &e, v.perms,
			   &off) < 3)
			continue;
		v.start = s;
		v.end = e;
		const char *name = *l + off;
		while (*name == ' ')
			name++;
		g_strlcpy(v.path, name, sizeof(v.path));
		g_array_append_val(a, v);
	}
	return a;
}

void ranges_check_maps(GArray *r, pid_t pid)
{
	g_autoptr(GArray) maps = read_maps(pid);
	const Vma *prev_vma = NULL;
	for (guint i = 0; i < r->len; i++) {
		const Range *x = &g_array_index(r, Range, i);
		const Vma *v = NULL;
		for (guint j = 0; j < maps->len; j++) {
			const Vma *m = &g_array_index(maps, Vma, j);
			if (x->start >= m->start && x->start < m->end) {
				v = m;
				break;
			}
		}
		if (!v)
			g_error("range %" G_GINT64_MODIFIER
				"x-... not inside any mapping of %d",
				x->start, (int)pid);
		if (x->end > v->end)
			g_error("range %016" G_GINT64_MODIFIER
				"x-%016" G_GINT64_MODIFIER
				"x crosses the end of mapping "
				"%" G_GINT64_MODIFIER "x-%" G_GINT64_MODIFIER
				"x",
				x->start, x->end, v->start, v->end);
		g_assert_cmpstr(x->perms, ==, v->perms);
		g_assert_cmpstr(x->path, ==, v->path);
		g_assert_true(strcmp(x->path, "[vvar]") &&
			      strcmp(x->path, "[vvar_vclock]") &&
			      strcmp(x->path, "[vsyscall]"));
		if (i > 0 && prev_vma == v) {
			const Range *p = &g_array_index(r, Range, i - 1);
			if (p->end == x->start)
				g_error("adjacent runs in one mapping not "
					"merged at %016" G_GINT64_MODIFIER "x",
					x->start);
		}
		prev_vma = v;
	}
}

char *ranges_text_in(const char *text, guint64 start, guint64 end)
{
	GString *s = g_string_new(NULL);
	g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
	for (char **l = lines; *l && **l; l++) {
		guint64 a = g_ascii_strtoull(*l, NULL, 16);
		guint64 b = g_ascii_strtoull(*l + 17, NULL, 16);
		if (a < end && b > start)
			g_string_append_printf(s, "%s\n", *l);
	}
	return g_string_free(s, FALSE);
}

char *ranges_read_in(const Mount *m, pid_t pid, const char *file, guint64 start,
		     guint64 end)
{
	g_autofree char *p = mnt_path(m, pid, file);
	g_autofree char *t = read_text(p, NULL);
	if (!t)
		g_error("read %s: %s", p, g_strerror(errno));
	g_autoptr(GArray) r = ranges_parse(t);
	/* dropped pages are of mappings at the clear before, maybe gone */
	if (!g_str_has_suffix(file, "dropped_ranges"))
		ranges_check_maps(r, pid);
	return ranges_text_in(t, start, end);
}

char *rline(guint64 start, guint64 npages, const char *perms, const char *path)
{
	return g_strdup_printf("%016" G_GINT64_MODIFIER
			       "x-%016" G_GINT64_MODIFIER
			       "x %" G_GINT64_MODIFIER "u %s%s%s\n",
			       start, start + npages * itest_ps, npages, perms,
			       path && *path ? " " : "", path ? path : "");
}

guint64 ranges_count(GArray *r)
{
	guint64 n = 0;
	for (guint i = 0; i < r->len; i++)
		n += g_array_index(r, Range, i).pages;
	return n;
}

GArray *ranges_pages(GArray *r)
{
	GArray *a = g_array_new(FALSE, FALSE, sizeof(guint64));
	for (guint i = 0; i < r->len; i++) {
		const Range *x = &g_array_index(r, Range, i);
		for (guint64 p = x->start; p < x->end; p += itest_ps)
			g_array_append_val(a, p);
	}
	return a;
}

/* ---- pages and memory ---- */

char *page_name(guint64 addr)
{
	return g_strdup_printf("%016" G_GINT64_MODIFIER "x", addr);
}

char *page_path(const Mount *m, pid_t pid, const char *dir, guint64 addr)
{
	g_autofree char *n = page_name(addr);
	g_autofree char *rel = g_strdup_printf("%s/%s", dir, n);
	return mnt_path(m, pid, rel);
}

int read_page(const char *path, guint8 *buf)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ssize_t n = pread(fd, buf, itest_ps, 0);
	int e = n < 0 ? errno : 0;
	close(fd);
	if (e)
		return -e;
	return n == (ssize_t)itest_ps ? 0 : -EIO;
}

void assert_pattern(const guint8 *buf, unsigned byte, guint64 idx)
{
	for (gsize i = 0; i < itest_ps; i++)
		if (buf[i] != sdfs_pattern(byte, idx, i))
			g_error("page %" G_GINT64_MODIFIER
				"u byte %zu: got 0x%02x, want 0x%02x "
				"(pattern byte %u)",
				idx, i, buf[i], sdfs_pattern(byte, idx, i),
				byte);
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
		off_t off = (off_t)((addr / itest_ps + i) * sizeof(e));
		g_assert_cmpint(pread(fd, &e, sizeof(e), off), ==, sizeof(e));
		if (!(e & (3ULL << 62)))
			break;
	}
	close(fd);
	return i;
}

char proc_state(pid_t pid)
{
	g_autofree char *p = g_strdup_printf("/proc/%d/stat", (int)pid);
	g_autofree char *t = NULL;
	if (!g_file_get_contents(p, &t, NULL, NULL))
		return 0;
	char *rp = strrchr(t, ')');
	return rp && rp[1] == ' ' ? rp[2] : 0;
}

gboolean all_threads_state(pid_t pid, char st)
{
	g_autofree char *dir = g_strdup_printf("/proc/%d/task", (int)pid);
	g_autoptr(GPtrArray) tids = list_dir(dir);
	if (!tids)
		return FALSE;
	for (guint i = 0; i < tids->len; i++) {
		g_autofree char *p =
			g_strdup_printf("/proc/%d/task/%s/stat", (int)pid,
					(char *)tids->pdata[i]);
		g_autofree char *t = NULL;
		if (!g_file_get_contents(p, &t, NULL, NULL))
			return FALSE;
		char *rp = strrchr(t, ')');
		if (!rp || rp[1] != ' ' || rp[2] != st)
			return FALSE;
	}
	return TRUE;
}

char *thread_states(pid_t pid)
{
	g_autofree char *dir = g_strdup_printf("/proc/%d/task", (int)pid);
	g_autoptr(GPtrArray) tids = list_dir(dir);
	GString *s = g_string_new(NULL);
	for (guint i = 0; tids && i < tids->len; i++) {
		g_autofree char *p =
			g_strdup_printf("/proc/%d/task/%s/stat", (int)pid,
					(char *)tids->pdata[i]);
		g_autofree char *t = NULL;
		char *rp = NULL;
		if (g_file_get_contents(p, &t, NULL, NULL))
			rp = strrchr(t, ')');
		g_string_append_printf(s, "%s%c", i ? " " : "",
				       rp && rp[1] == ' ' ? rp[2] : '?');
	}
	return g_string_free(s, FALSE);
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

GHashTable *read_status(const Mount *m, pid_t pid)
{
	g_autofree char *p = mnt_path(m, pid, "status");
	g_autofree char *t = read_text(p, NULL);
	if (!t)
		g_error("read %s: %s", p, g_strerror(errno));
	g_assert_true(g_str_has_suffix(t, "\n"));
	GHashTable *h =
		g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	g_auto(GStrv) lines = g_strsplit(t, "\n", -1);
	for (char **l = lines; *l && **l; l++) {
		char *c = strstr(*l, ": ");
		if (!c)
			g_error("status line without ': ': '%s'", *l);
		g_hash_table_insert(h, g_strndup(*l, c - *l), g_strdup(c + 2));
	}
	return h;
}
