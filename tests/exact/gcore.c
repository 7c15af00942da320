/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* sdfs_exact: the snapshot against gdb's gcore of the stopped process. */
#include <dirent.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "exact.h"
#include "harness.h"

typedef struct {
	guint64 vaddr, filesz, offset;
} Seg;

/* The PT_LOAD segments of an ELF64 core, by address; NULL if not one. */
static GArray *core_segments(const guint8 *core, size_t len)
{
	const Elf64_Ehdr *eh = (const Elf64_Ehdr *)core;
	if (len < sizeof(*eh) || memcmp(eh->e_ident, ELFMAG, SELFMAG) ||
	    eh->e_ident[EI_CLASS] != ELFCLASS64 || eh->e_type != ET_CORE ||
	    eh->e_phentsize != sizeof(Elf64_Phdr) ||
	    eh->e_phoff + (guint64)eh->e_phnum * sizeof(Elf64_Phdr) > len)
		return NULL;
	GArray *a = g_array_new(FALSE, FALSE, sizeof(Seg));
	const Elf64_Phdr *ph = (const Elf64_Phdr *)(core + eh->e_phoff);
	for (int i = 0; i < eh->e_phnum; i++) {
		if (ph[i].p_type != PT_LOAD || !ph[i].p_filesz ||
		    ph[i].p_offset + ph[i].p_filesz > len)
			continue;
		Seg s = {ph[i].p_vaddr, ph[i].p_filesz, ph[i].p_offset};
		g_array_append_val(a, s);
	}
	return a;
}

static const Seg *seg_find(GArray *segs, guint64 a, size_t n)
{
	for (guint i = 0; i < segs->len; i++) {
		const Seg *s = &g_array_index(segs, Seg, i);
		if (a >= s->vaddr && a + n <= s->vaddr + s->filesz)
			return s;
	}
	return NULL;
}

/* Compare the files of snap with the core. */
static void compare(const char *snap, const guint8 *core, GArray *segs,
		    guint64 *same, guint64 *differ, guint64 *uncovered)
{
	g_autofree guint8 *fb = g_malloc(tl_ps);
	g_autoptr(GPtrArray) names = list_dir(snap);
	g_assert_nonnull(names);
	for (guint i = 0; i < names->len; i++) {
		const char *n = names->pdata[i];
		guint64 a = g_ascii_strtoull(n, NULL, 16);
		const Seg *s = seg_find(segs, a, tl_ps);
		if (!s) {
			(*uncovered)++;
			continue;
		}
		g_autofree char *p = g_build_filename(snap, n, NULL);
		g_assert_cmpint(read_page(p, fb), ==, 0);
		if (!memcmp(fb, core + s->offset + (a - s->vaddr), tl_ps)) {
			(*same)++;
			continue;
		}
		if (++*differ <= 10)
			g_test_message("gcore: page %s: the core differs from "
				       "the snapshot's file",
				       n);
	}
}

void gcore_check(pid_t pid, const char *snap, const char *dir, const char *gdb)
{
	g_autofree char *core = g_build_filename(dir, "core", NULL);
	g_autofree char *ex = g_strdup_printf("gcore %s", core);
	g_autofree char *p = g_strdup_printf("%d", (int)pid);
	const char *argv[] = {gdb, "-nx", "-batch", "-q", "-p",
			      p,   "-ex", ex,	    NULL};
	g_autofree char *out = NULL, *err = NULL;
	g_autoptr(GError) e = NULL;
	int status = 0;
	if (!g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_CLOEXEC_PIPES,
			  NULL, NULL, &out, &err, &status, &e))
		g_error("gdb: %s", e->message);
	if (!g_spawn_check_wait_status(status, NULL))
		g_test_message("gdb exited 0x%x: %s%s", status, out, err);

	/* gdb detaches leaving the process as it found it: stopped. A
	 * detached thread of a stopped process runs for an instant before
	 * it re-enters the group stop: give it that instant (bounded only
	 * against a process gdb really resumed) */
	for (int i = 0; i < 200 && !all_threads_state(pid, 'T'); i++)
		g_usleep(10000);
	g_autofree char *states = thread_states(pid);
	g_test_message("gcore: threads after gdb detached: %s", states);
	if (!all_threads_state(pid, 'T'))
		exact_fail("gdb left process %d not stopped: %s", (int)pid,
			   states);

	int fd = open(core, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		exact_fail("gdb wrote no core (%s): %s%s", g_strerror(errno),
			   out, err);
		return;
	}
	struct stat st;
	g_assert_no_errno(fstat(fd, &st));
	guint8 *m =
		mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	g_assert_true(m != MAP_FAILED);
	g_autoptr(GArray) segs = core_segments(m, (size_t)st.st_size);
	if (!segs) {
		exact_fail("%s is not an ELF64 core", core);
		munmap(m, (size_t)st.st_size);
		return;
	}
	guint64 same = 0, differ = 0, uncovered = 0;
	compare(snap, m, segs, &same, &differ, &uncovered);
	munmap(m, (size_t)st.st_size);
	unlink(core);
	g_test_message("gcore: %u PT_LOAD segments with data (%lld MiB); "
		       "snapshot files equal to the core %" G_GUINT64_FORMAT
		       ", different %" G_GUINT64_FORMAT
		       ", not in the core's data %" G_GUINT64_FORMAT,
		       segs->len, (long long)(st.st_size >> 20), same, differ,
		       uncovered);
	if (differ)
		exact_fail("%" G_GUINT64_FORMAT " snapshot files "
			   "differ from gdb's core",
			   differ);
	if (!same)
		exact_fail("no snapshot file was in gdb's core");
}
