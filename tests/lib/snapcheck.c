/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Iterative snapshots with rsync and their check (snapcheck.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "snapcheck.h"
#include "testlib.h"

#define PM_PRESENT (1ULL << 63)
#define PM_SWAP (1ULL << 62)
#define PM_FILE (1ULL << 61)
#define PM_UFFD_WP (1ULL << 57)
#define PM_SWAP_TYPE(e) ((e)&0x1f)
#define MAX_DETAIL 12

int tl_rsync_round(const char *rsync, const char *last, const char *snap,
		   gboolean old_recipe, char **errtext)
{
	g_autofree char *from =
		g_strdup_printf("--files-from=%s/changes", last);
	g_autofree char *src = g_strdup_printf("%s/pages/", last);
	g_autofree char *dst = g_strdup_printf("%s/", snap);
	const char *argv_new[] = {rsync,
				  "-a",
				  "--ignore-times",
				  from,
				  "--delete-missing-args",
				  src,
				  dst,
				  NULL};
	const char *argv_old[] = {rsync, "-a", "--ignore-times",
				  src,	 dst,  NULL};
	g_autofree char *err = NULL;
	g_autoptr(GError) e = NULL;
	int status = 0;
	if (!g_spawn_sync(NULL, (char **)(old_recipe ? argv_old : argv_new),
			  NULL,
			  G_SPAWN_STDOUT_TO_DEV_NULL | G_SPAWN_CLOEXEC_PIPES,
			  NULL, NULL, NULL, &err, &status, &e)) {
		if (errtext)
			*errtext = g_strdup(e->message);
		return -ENOEXEC;
	}
	if (errtext)
		*errtext = g_steal_pointer(&err);
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

gboolean tl_rsync_recipe_works(const char *rsync, const char *dir, char **why)
{
	g_autofree char *top = g_build_filename(dir, "rsync-check", NULL);
	g_autofree char *src = g_build_filename(top, "src", NULL);
	g_autofree char *dst = g_build_filename(top, "dst", NULL);
	g_autofree char *here = g_build_filename(src, "here", NULL);
	g_autofree char *gone = g_build_filename(dst, "gone", NULL);
	g_autofree char *list = g_build_filename(top, "list", NULL);
	g_autofree char *from = g_strdup_printf("--files-from=%s", list);
	g_autofree char *srcs = g_strdup_printf("%s/", src);
	g_autofree char *dsts = g_strdup_printf("%s/", dst);
	g_autofree char *err = NULL;
	g_autoptr(GError) e = NULL;
	int status = 0;
	gboolean ok = FALSE;

	if (g_mkdir_with_parents(src, 0700) < 0 ||
	    g_mkdir_with_parents(dst, 0700) < 0 ||
	    !g_file_set_contents(here, "x", 1, &e) ||
	    !g_file_set_contents(gone, "x", 1, &e) ||
	    !g_file_set_contents(list, "here\ngone\n", -1, &e)) {
		*why = g_strdup_printf("scratch files in %s: %s", top,
				       e ? e->message : g_strerror(errno));
		goto out;
	}
	const char *argv[] = {rsync, "-a", from, "--delete-missing-args",
			      srcs,  dsts, NULL};
	if (!g_spawn_sync(NULL, (char **)argv, NULL,
			  G_SPAWN_STDOUT_TO_DEV_NULL | G_SPAWN_CLOEXEC_PIPES,
			  NULL, NULL, NULL, &err, &status, &e)) {
		*why = g_strdup(e->message);
		goto out;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 ||
	    g_file_test(gone, G_FILE_TEST_EXISTS)) {
		*why = g_strdup_printf(
			"%s with --delete-missing-args and a listed name the "
			"source lacks: %s %d, the name %s on the "
			"destination: %s",
			rsync, WIFEXITED(status) ? "exit" : "wait status",
			WIFEXITED(status) ? WEXITSTATUS(status) : status,
			g_file_test(gone, G_FILE_TEST_EXISTS) ? "still" : "not",
			err && *err ? g_strstrip(err) : "(no message)");
		goto out;
	}
	ok = TRUE;
out:
	g_remove(here);
	g_remove(gone);
	g_autofree char *copied = g_build_filename(dst, "here", NULL);
	g_remove(copied);
	g_remove(list);
	g_rmdir(src);
	g_rmdir(dst);
	g_rmdir(top);
	return ok;
}

/* ---- the address space ---- */

typedef struct {
	guint64 start, end;
	char perms[5];
	gboolean inode; /* file-backed (inode != 0) */
	gboolean skip;	/* never holds the process's own data */
	char path[256];
} Vma;

static const Vma *vma_find(GArray *v, guint64 a)
{
	guint lo = 0, hi = v->len;
	while (lo < hi) {
		guint mid = (lo + hi) / 2;
		const Vma *m = &g_array_index(v, Vma, mid);
		if (a < m->start)
			hi = mid;
		else if (a >= m->end)
			lo = mid + 1;
		else
			return m;
	}
	return NULL;
}

static GArray *vmas_parse(const char *text)
{
	GArray *a = g_array_new(FALSE, TRUE, sizeof(Vma));
	g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
	for (char **l = lines; *l && **l; l++) {
		Vma v = {0};
		unsigned long long s, e, ino;
		int off = 0;
		if (sscanf(*l, "%llx-%llx %4s %*s %*s %llu%n", &s, &e, v.perms,
			   &ino, &off) < 4)
			continue;
		const char *name = *l + off;
		while (*name == ' ')
			name++;
		v.start = s;
		v.end = e;
		v.inode = ino != 0;
		g_strlcpy(v.path, name, sizeof(v.path));
		v.skip = !strcmp(name, "[vvar]") ||
			 !strcmp(name, "[vvar_vclock]") ||
			 !strcmp(name, "[vsyscall]");
		g_array_append_val(a, v);
	}
	return a;
}

/* Mark the VM_IO / VM_PFNMAP mappings ("io", "pf" in smaps' VmFlags). */
static int vmas_mark_io(GArray *v, pid_t pid)
{
	g_autofree char *p = g_strdup_printf("/proc/%d/smaps", (int)pid);
	g_autofree char *t = NULL;
	if (!g_file_get_contents(p, &t, NULL, NULL))
		return -ESRCH;
	g_auto(GStrv) lines = g_strsplit(t, "\n", -1);
	guint64 cur = 0;
	for (char **l = lines; *l; l++) {
		unsigned long long s, e;
		if (sscanf(*l, "%llx-%llx ", &s, &e) == 2 && strchr(*l, ' ') &&
		    strchr(*l, '-') < strchr(*l, ' ')) {
			cur = s;
			continue;
		}
		if (!g_str_has_prefix(*l, "VmFlags:"))
			continue;
		g_auto(GStrv) f = g_strsplit(*l + 8, " ", -1);
		gboolean io = FALSE;
		for (char **x = f; *x; x++)
			io |= !strcmp(*x, "io") || !strcmp(*x, "pf");
		Vma *m = (Vma *)vma_find(v, cur);
		if (io && m)
			m->skip = TRUE;
	}
	return 0;
}

/* Number of active swap areas (swap types below it are real swap). */
static int swap_areas(void)
{
	g_autofree char *t = NULL;
	if (!g_file_get_contents("/proc/swaps", &t, NULL, NULL))
		return 0;
	int n = -1; /* the header */
	for (char *c = t; *c; c++)
		n += *c == '\n';
	return n > 0 ? n : 0;
}

static void detail(TlSnapCheck *c, guint64 count, const char *fmt, ...)
	G_GNUC_PRINTF(3, 4);
static void detail(TlSnapCheck *c, guint64 count, const char *fmt, ...)
{
	va_list ap;
	if (count > MAX_DETAIL)
		return;
	va_start(ap, fmt);
	g_string_append_vprintf(c->detail, fmt, ap);
	va_end(ap);
	g_string_append_c(c->detail, '\n');
}

static const char *pm_text(guint64 e, char *buf, size_t len)
{
	snprintf(buf, len, "pagemap %016" G_GINT64_MODIFIER "x (%s%s%s%s)", e,
		 e & PM_PRESENT ? "present" : "", e & PM_SWAP ? "swapped" : "",
		 e & PM_FILE ? " file-page" : "",
		 e & PM_UFFD_WP ? " uffd-wp" : "");
	return buf;
}

static guint64 pagemap_at(int pm, guint64 addr, size_t ps)
{
	guint64 e = 0;
	if (pread(pm, &e, sizeof(e), (off_t)(addr / ps * 8)) != sizeof(e))
		return 0;
	return e;
}

/* A short description of how file and memory differ. */
static void describe_diff(GString *s, const guint8 *f, const guint8 *m,
			  size_t ps)
{
	size_t i = 0, n = 0;
	while (i < ps && f[i] == m[i])
		i++;
	for (size_t k = 0; k < ps; k++)
		n += f[k] != m[k];
	g_string_append_printf(s,
			       "%zu bytes differ, first at +%zu (file %02x,"
			       " memory %02x); memory %s, file %s",
			       n, i, f[i], m[i],
			       tl_all_zero(m, ps) ? "all zero" : "not zero",
			       tl_all_zero(f, ps) ? "all zero" : "not zero");
}

/* (a): the files of SNAP/. */
static int check_files(pid_t pid, const char *snap, GArray *vmas, int mem,
		       int pm, size_t ps, TlSnapCheck *c)
{
	g_autofree guint8 *fb = g_malloc(ps), *mb = g_malloc(ps);
	char pmb[96];
	DIR *d = opendir(snap);
	if (!d)
		return -errno;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		c->files++;
		char *end;
		guint64 a = g_ascii_strtoull(de->d_name, &end, 16);
		const Vma *v = strlen(de->d_name) == 16 && !*end && a % ps == 0
				       ? vma_find(vmas, a)
				       : NULL;
		if (!v || v->skip) {
			c->leftover++;
			detail(c, c->leftover, "leftover %s: %s", de->d_name,
			       v ? "in a mapping that holds no process data"
				 : "not a mapped address");
			continue;
		}
		g_autofree char *p = g_build_filename(snap, de->d_name, NULL);
		int fd = open(p, O_RDONLY | O_CLOEXEC);
		ssize_t fl = fd < 0 ? -1 : pread(fd, fb, ps, 0);
		if (fd >= 0)
			close(fd);
		guint64 e = pagemap_at(pm, a, ps); /* before the read */
		ssize_t ml = pread(mem, mb, ps, (off_t)a);
		if (fl == (ssize_t)ps && ml == (ssize_t)ps &&
		    !memcmp(fb, mb, ps))
			continue;
		c->stale++;
		if (c->stale > MAX_DETAIL)
			continue;
		GString *s = g_string_new(NULL);
		if (fl != (ssize_t)ps)
			g_string_append_printf(s, "file of %zd bytes", fl);
		else if (ml != (ssize_t)ps)
			g_string_append_printf(s, "memory unreadable: %s",
					       ml < 0 ? g_strerror(errno)
						      : "short read");
		else
			describe_diff(s, fb, mb, ps);
		detail(c, c->stale, "stale %s in %s %s: %s; %s", de->d_name,
		       v->perms, *v->path ? v->path : "(anonymous)", s->str,
		       pm_text(e, pmb, sizeof(pmb)));
		g_string_free(s, TRUE);
	}
	closedir(d);
	(void)pid;
	return 0;
}

/* (b): own pages of one private mapping. */
static void check_own(const Vma *v, const char *snap, int mem, int pm,
		      size_t ps, int nswap, TlSnapCheck *c)
{
	const size_t chunk = 512;
	g_autofree guint64 *ents = g_new(guint64, chunk);
	g_autofree guint8 *mb = g_malloc(ps), *fb = g_malloc(ps);
	char pmb[96];
	for (guint64 a = v->start; a < v->end; a += chunk * ps) {
		size_t n = MIN(chunk, (v->end - a) / ps);
		ssize_t r = pread(pm, ents, n * 8, (off_t)(a / ps * 8));
		if (r != (ssize_t)(n * 8))
			return;
		for (size_t i = 0; i < n; i++) {
			guint64 e = ents[i], pa = a + i * ps;
			gboolean own;
			if (e & PM_PRESENT)
				own = !(e & PM_FILE);
			else if (e & PM_SWAP) {
				own = (int)PM_SWAP_TYPE(e) < nswap;
				c->markers += !own;
			} else
				own = FALSE;
			if (!own)
				continue;
			c->own++;
			if (pread(mem, mb, ps, (off_t)pa) != (ssize_t)ps ||
			    tl_all_zero(mb, ps)) {
				c->own_zero++;
				continue;
			}
			g_autofree char *p = g_strdup_printf(
				"%s/%016" G_GINT64_MODIFIER "x", snap, pa);
			int fd = open(p, O_RDONLY | O_CLOEXEC);
			if (fd >= 0) { /* its content is (a)'s business */
				close(fd);
				continue;
			}
			c->missing++;
			detail(c, c->missing,
			       "missing %016" G_GINT64_MODIFIER
			       "x in %s %s: own page not all zero, no file; %s",
			       pa, v->perms, *v->path ? v->path : "(anonymous)",
			       pm_text(e, pmb, sizeof(pmb)));
		}
	}
}

int tl_snap_check(pid_t pid, const char *snap, const char *maps_text,
		  TlSnapCheck *out)
{
	size_t ps = (size_t)sysconf(_SC_PAGESIZE);
	g_autofree char *own_text = NULL;
	memset(out, 0, sizeof(*out));
	out->detail = g_string_new(NULL);
	if (!maps_text) {
		g_autofree char *p = g_strdup_printf("/proc/%d/maps", (int)pid);
		if (!g_file_get_contents(p, &own_text, NULL, NULL))
			return -ESRCH;
		maps_text = own_text;
	}
	g_autoptr(GArray) vmas = vmas_parse(maps_text);
	int r = vmas_mark_io(vmas, pid);
	if (r < 0)
		return r;
	g_autofree char *memp = g_strdup_printf("/proc/%d/mem", (int)pid);
	g_autofree char *pmp = g_strdup_printf("/proc/%d/pagemap", (int)pid);
	int mem = open(memp, O_RDONLY | O_CLOEXEC);
	int pm = open(pmp, O_RDONLY | O_CLOEXEC);
	if (mem < 0 || pm < 0) {
		r = -errno;
		if (mem >= 0)
			close(mem);
		if (pm >= 0)
			close(pm);
		return r;
	}
	/* (b) first: reading memory of an unpopulated address may fault
	 * something in, and (b) goes by what is populated */
	int nswap = swap_areas();
	for (guint i = 0; i < vmas->len; i++) {
		const Vma *v = &g_array_index(vmas, Vma, i);
		if (!v->skip && v->perms[3] == 'p')
			check_own(v, snap, mem, pm, ps, nswap, out);
	}
	r = check_files(pid, snap, vmas, mem, pm, ps, out);
	close(mem);
	close(pm);
	return r;
}

void tl_snap_check_clear(TlSnapCheck *c)
{
	if (c->detail)
		g_string_free(c->detail, TRUE);
	c->detail = NULL;
}

char *tl_snap_check_summary(const TlSnapCheck *c)
{
	return g_strdup_printf(
		"files %" G_GUINT64_FORMAT " stale %" G_GUINT64_FORMAT
		" leftover %" G_GUINT64_FORMAT " missing %" G_GUINT64_FORMAT
		" own %" G_GUINT64_FORMAT " (all zero %" G_GUINT64_FORMAT
		") markers %" G_GUINT64_FORMAT,
		c->files, c->stale, c->leftover, c->missing, c->own,
		c->own_zero, c->markers);
}
