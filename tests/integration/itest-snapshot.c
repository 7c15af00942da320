/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The rsync snapshot loop of sdfs(5) (Iterative snapshots), and the backend cross-check (one
 * recorded scenario under soft-dirty and under uffd: same dirty sets).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "itest.h"

#define P(n) ((guint64)(n) * tl_ps)

static void run_rsync(const char *rsync, const char *src, const char *dst)
{
	const char *argv[] = {rsync, "-a", "--ignore-times", src, dst, NULL};
	g_autofree char *out = NULL, *err = NULL;
	int status;
	g_autoptr(GError) e = NULL;
	if (!g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_CLOEXEC_PIPES,
			  NULL, NULL, &out, &err, &status, &e))
		g_error("rsync: %s", e->message);
	if (!g_spawn_check_wait_status(status, NULL))
		g_error("rsync -a --ignore-times %s %s failed (0x%x): %s%s",
			src, dst, status, out, err);
}

static void compare_dir(const char *snap, pid_t pid, guint64 base,
			guint64 pages)
{
	guint8 *mem = g_malloc(tl_ps);
	for (guint64 i = 0; i < pages; i++) {
		g_autofree char *n = page_name(base + P(i));
		g_autofree char *p = g_build_filename(snap, n, NULL);
		g_autofree char *data = NULL;
		gsize len = 0;
		if (!g_file_get_contents(p, &data, &len, NULL))
			g_error("%s missing from the snapshot", n);
		g_assert_cmpuint(len, ==, tl_ps);
		read_mem(pid, base + P(i), mem, tl_ps);
		if (memcmp(data, mem, tl_ps))
			g_error("snapshot page %s differs from memory", n);
	}
	g_free(mem);
}

static int rsync_rounds(void)
{
	const char *e = g_getenv("SDFS_ITEST_RSYNC_ROUNDS");
	int n = e ? atoi(e) : 0;
	return n > 0 ? n : 20;
}

/* The snapshot loop of sdfs(5) with random writes between rounds and
 * racing writers. */
static void test_rsync(Fx *fx, gconstpointer d)
{
	FX_REQUIRE(fx);
	g_autofree char *rsync = g_find_program_in_path("rsync");
	if (!rsync) {
		g_test_skip("rsync not found in PATH");
		return;
	}
	Workload *w = fx_workload(fx);
	g_autofree char *fp = g_build_filename(fx->tmp, "mapped", NULL);
	g_autofree char *snap = g_build_filename(fx->tmp, "snap", NULL);
	g_assert_no_errno(mkdir(snap, 0700));
	guint64 s = wl_addr(w, "map s 64");
	guint64 f = wl_addr(w, "map f 16 file %s", fp);
	guint64 r = wl_addr(w, "map r 32");
	g_free(wl_cmd(w, "fill s 0 64 3"));
	g_free(wl_cmd(w, "fill f 0 16 4"));
	g_free(wl_cmd(w, "fill r 0 32 5"));
	g_free(wl_cmd(w, "threads r 2"));
	g_autofree char *src = mnt_path(&fx->m, w->pid, "last/pages/");
	g_autofree char *dst = g_strconcat(snap, "/", NULL);

	int n = rsync_rounds();
	gint64 start = g_get_monotonic_time();
	for (int i = 0; i <= n; i++) {
		/* slow emulated VMs: at least 5 rounds, then 20 s at most */
		if (i > 5 &&
		    g_get_monotonic_time() - start > 20 * G_USEC_PER_SEC)
			break;
		if (i > 0) {
			g_free(wl_cmd(w, "scribble s 10 %d", i));
			g_free(wl_cmd(w, "scribble f 3 %d", i));
		}
		do_clear(&fx->m, w->pid);
		run_rsync(rsync, src, dst);
	}
	g_free(wl_cmd(w, "scribble s 10 999"));
	g_free(wl_cmd(w, "scribble f 3 999"));
	g_assert_no_errno(kill(w->pid, SIGSTOP));
	wait_all_threads_state(w->pid, 'T');
	do_clear(&fx->m, w->pid);
	run_rsync(rsync, src, dst);
	g_assert_true(all_threads_state(w->pid, 'T'));
	compare_dir(snap, w->pid, s, 64);
	compare_dir(snap, w->pid, f, 16);
	compare_dir(snap, w->pid, r, 32);
	g_assert_no_errno(kill(w->pid, SIGCONT));
	g_free(wl_cmd(w, "stopthreads"));
}

/* ---- cross-check ---- */

typedef struct {
	char name[16];
	guint64 addr, pages;
	gboolean thp;
} Reg;

static const char *const scenario[] = {
	"map a 32",
	"map f 8 file @f",
	"map s 8 shared-file @s",
	"heap h 8",
	"map sa 8 shared-anon",
	"map c 8",
	"thp t 4",
	"fill a 0 16 1",
	"fill f 0 8 2",
	"fill s 0 8 3",
	"fill h 0 8 4",
	"fill sa 0 8 5",
	"fill c 0 8 6",
	"poke t 0 1",
	"read a 20",
	"=snap",
	"=clear",
	"write a 3 5",
	"write a 4 5",
	"write a 20 5",
	"read a 25",
	"fill s 2 2 6",
	"write f 7 7",
	"write h 3 8",
	"poke t 10 9",
	"mprotect c 4 4 r",
	"write c 1 2",
	"write sa 1 1",
	"=snap",
	"=clear",
	"mremap a 48",
	"map b 8",
	"write b 1 1",
	"remap f",
	"write f 2 3",
	"munmap h",
	"write a 40 2",
	"read b 5",
	"=snap",
	"=clear",
	"=snap",
};

static Reg *reg_find(GArray *regs, const char *name)
{
	for (guint i = 0; i < regs->len; i++) {
		Reg *r = &g_array_index(regs, Reg, i);
		if (!strcmp(r->name, name))
			return r;
	}
	Reg n = {0};
	g_strlcpy(n.name, name, sizeof(n.name));
	g_array_append_val(regs, n);
	return &g_array_index(regs, Reg, regs->len - 1);
}

/* "a:3,4,20 f:7 ..." for the regions; THP regions by huge page index. */
static char *record(const Mount *m, pid_t pid, GArray *regs)
{
	g_autofree char *p = mnt_path(m, pid, "dirty_ranges");
	g_autofree char *t = read_text(p, NULL);
	g_assert_nonnull(t);
	g_autoptr(GArray) r = ranges_parse(t);
	ranges_check_maps(r, pid);
	g_autoptr(GArray) pages = ranges_pages(r);
	guint64 hp = (2u << 20) / tl_ps;
	GString *s = g_string_new(NULL);
	for (guint i = 0; i < regs->len; i++) {
		const Reg *x = &g_array_index(regs, Reg, i);
		gint64 prev = -1;
		g_string_append_printf(s, "%s%s:", i ? " " : "", x->name);
		for (guint j = 0; j < pages->len; j++) {
			guint64 pa = g_array_index(pages, guint64, j);
			if (pa < x->addr || pa >= x->addr + P(x->pages))
				continue;
			gint64 idx = (gint64)((pa - x->addr) / tl_ps);
			if (x->thp)
				idx /= hp;
			if (idx != prev)
				g_string_append_printf(
					s, "%" G_GINT64_FORMAT ",", idx);
			prev = idx;
		}
	}
	return g_string_free(s, FALSE);
}

static GPtrArray *run_scenario(Fx *fx, const char *backend, gboolean thp)
{
	GPtrArray *out = g_ptr_array_new_with_free_func(g_free);
	g_autoptr(GArray) regs = g_array_new(FALSE, TRUE, sizeof(Reg));
	mount_start(&fx->m, &(MountOpts){.backend = backend});
	Workload *w = fx_workload(fx);
	for (gsize i = 0; i < G_N_ELEMENTS(scenario); i++) {
		const char *c = scenario[i];
		if (!strcmp(c, "=snap")) {
			g_ptr_array_add(out, record(&fx->m, w->pid, regs));
			continue;
		}
		if (!strcmp(c, "=clear")) {
			do_clear(&fx->m, w->pid);
			continue;
		}
		g_auto(GStrv) v = g_strsplit(c, " ", -1);
		if (!thp && (!strcmp(v[1], "t") || !strcmp(v[0], "thp")))
			continue;
		GString *cmd = g_string_new(NULL);
		for (char **a = v; *a; a++) {
			if (a != v)
				g_string_append_c(cmd, ' ');
			if (**a == '@') {
				g_autofree char *f = g_strdup_printf(
					"%s/%s-%s", fx->tmp, backend, *a + 1);
				g_string_append(cmd, f);
			} else {
				g_string_append(cmd, *a);
			}
		}
		g_autofree char *cs = g_string_free(cmd, FALSE);
		g_autofree char *rep = wl_cmd(w, "%s", cs);
		const char *op = v[0];
		if (!strcmp(op, "map") || !strcmp(op, "heap") ||
		    !strcmp(op, "thp") || !strcmp(op, "mremap") ||
		    !strcmp(op, "remap")) {
			Reg *r = reg_find(regs, v[1]);
			r->addr = g_ascii_strtoull(rep, NULL, 16);
			if (strcmp(op, "remap"))
				r->pages = g_ascii_strtoull(v[2], NULL, 10);
			if (!strcmp(op, "thp")) {
				r->pages = r->pages * (1u << 20) / tl_ps;
				r->thp = TRUE;
			}
		}
	}
	g_ptr_array_remove(fx->workloads, w);
	wl_kill(w);
	mount_stop(&fx->m);
	return out;
}

/* Whether name exists in dir (by stat through a path and through a
 * directory fd held across clears, like rsync's working directory). */
static gboolean exists_path(const char *dir, const char *name)
{
	g_autofree char *p = g_build_filename(dir, name, NULL);
	struct stat st;
	if (stat(p, &st) == 0) {
		g_assert_cmpuint(st.st_size, ==, tl_ps);
		return TRUE;
	}
	g_assert_cmpint(errno, ==, ENOENT);
	return FALSE;
}

static gboolean exists_at(int dfd, const char *name)
{
	struct stat st;
	if (fstatat(dfd, name, &st, 0) == 0)
		return TRUE;
	g_assert_cmpint(errno, ==, ENOENT);
	return FALSE;
}

/*
 * last/pages/ entries may be cached by the kernel (a mount only one user
 * can reach): a clear must drop them before it returns. Each round caches
 * every entry (listing, stat through the path and through a held
 * directory fd), clears with another set of pages written, and at once
 * expects exactly the new set by every route.
 */
static void test_last_cache(Fx *fx, gconstpointer d)
{
	FX_REQUIRE(fx);
	Workload *w = fx_workload(fx);
	guint64 a = wl_addr(w, "map a 16");
	g_free(wl_cmd(w, "fill a 0 16 1"));
	g_autofree char *dir = mnt_path(&fx->m, w->pid, "last/pages");
	do_clear(&fx->m, w->pid);
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	g_assert_cmpint(dfd, >=, 0);
	for (int round = 0; round < 16; round++) {
		/* written this round: pages round % 16 and (round + 5) % 16 */
		int p1 = round % 16, p2 = (round + 5) % 16;
		wl_do(w, "write a %d 1", p1);
		wl_do(w, "write a %d 1", p2);
		do_clear(&fx->m, w->pid);
		/* the listing of the region: exactly the two pages */
		g_autoptr(GPtrArray) names = list_dir(dir);
		guint in_region = 0;
		for (guint k = 0; k < names->len; k++) {
			guint64 pa = g_ascii_strtoull(names->pdata[k], NULL, 16);
			in_region += pa >= a && pa < a + P(16);
		}
		g_assert_cmpuint(in_region, ==, 2);
		for (int i = 0; i < 16; i++) {
			g_autofree char *n = page_name(a + P(i));
			gboolean want = i == p1 || i == p2;
			if (exists_path(dir, n) != want ||
			    exists_at(dfd, n) != want)
				g_error("round %d: last/pages/%s %s after the "
					"clear",
					round, n, want ? "missing" : "still there");
		}
	}
	close(dfd);
}

static void test_crosscheck(Fx *fx, gconstpointer d)
{
	FX_REQUIRE(fx);
	g_autofree char *r1 = NULL, *r2 = NULL;
	if (!tl_backend_usable("soft-dirty", &r1) ||
	    !tl_backend_usable("uffd", &r2)) {
		g_autofree char *why = g_strdup_printf(
			"cross-check needs both backends: %s%s%s", r1 ? r1 : "",
			r1 && r2 ? "; " : "", r2 ? r2 : "");
		g_test_skip(why);
		return;
	}
	g_autofree char *en = NULL;
	gboolean thp = g_file_get_contents(
			       "/sys/kernel/mm/transparent_hugepage/enabled",
			       &en, NULL, NULL) &&
		       (strstr(en, "[always]") || strstr(en, "[madvise]"));
	g_autoptr(GPtrArray) sd = run_scenario(fx, "soft-dirty", thp);
	g_autoptr(GPtrArray) uf = run_scenario(fx, "uffd", thp);
	g_assert_cmpuint(sd->len, ==, uf->len);
	for (guint i = 0; i < sd->len; i++) {
		g_test_message("step %u: soft-dirty %s", i,
			       (char *)sd->pdata[i]);
		g_test_message("step %u: uffd       %s", i,
			       (char *)uf->pdata[i]);
		g_assert_cmpstr(sd->pdata[i], ==, uf->pdata[i]);
	}
}

void itest_register_snapshot(void)
{
	itest_add("/snapshot/rsync", test_rsync);
	itest_add("/snapshot/last-cache", test_last_cache);
	if (!g_strcmp0(g_getenv("SDFS_CROSSCHECK"), "1"))
		itest_add_nomount("/crosscheck/backends", test_crosscheck);
}
