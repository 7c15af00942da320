/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * pagemap -> runs of dirty pages. Two ways to read the kernel's bits:
 * PAGEMAP_SCAN (6.7+), which reports ranges and can write-protect in the
 * same walk, and batched pread of /proc/PID/pagemap (one u64 per page).
 * Both walk only the trackable mappings, and both drop the zero page and
 * never-populated pages.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <glib.h>

#include "compat.h"
#include "scan.h"

#ifdef HAVE_VALGRIND_MEMCHECK_H
#include <valgrind/memcheck.h>
#else
#define VALGRIND_MAKE_MEM_DEFINED(p, n) ((void)(p), (void)(n))
#endif

#define PREAD_BATCH 8192 /* pagemap entries per pread: 64 KiB */
#define SCAN_VEC 512 /* page_region entries per PAGEMAP_SCAN call */
#define HPAGE_SIZE (2UL << 20)

int sdfs_pagemap_open(pid_t pid)
{
	return sdfs_proc_open(pid, "pagemap", O_RDONLY);
}

/* ---- what the kernel offers, probed once ---------------------------- */

static pthread_once_t probe_once = PTHREAD_ONCE_INIT;
static bool have_scan, have_scan_sd;
/* PFNs of the shared zero pages, to recognise them in pread scans when
 * the kernel shows PFNs (CAP_SYS_ADMIN). 0 = unknown. */
static uint64_t zero_pfn, huge_zero_pfn;

static uint64_t self_pfn(int fd, const void *addr)
{
	uint64_t e;
	off_t off = (off_t)((uintptr_t)addr / sdfs_page_size() * 8);

	if (pread(fd, &e, sizeof(e), off) != sizeof(e))
		return 0;
	if (!(e & PM_PRESENT))
		return 0;
	return e & PM_PFN_MASK;
}

static void probe_kernel(void)
{
	size_t ps = sdfs_page_size();
	int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;

	/* zero page: a read fault on private anonymous memory maps it */
	volatile char *p = mmap(NULL, ps, PROT_READ,
				MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p != MAP_FAILED) {
		(void)p[0];
		zero_pfn = self_pfn(fd, (const void *)p);
		/* keep it mapped: cheap, and the probe below uses it */
	}
	/*
	 * The huge zero page, where THP maps one on read faults. Kept
	 * mapped for the daemon's life: the kernel frees and reallocates it
	 * (with a new PFN) only when no process maps it.
	 */
	char *h = mmap(NULL, 2 * HPAGE_SIZE, PROT_READ,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (h != MAP_FAILED) {
		char *a = (char *)(((uintptr_t)h + HPAGE_SIZE - 1) &
				   ~(HPAGE_SIZE - 1));
		madvise(a, HPAGE_SIZE, MADV_HUGEPAGE);
		(void)*(volatile char *)a;
		uint64_t pfn = self_pfn(fd, a);
		uint64_t pfn2 = self_pfn(fd, a + ps);
		/* a huge zero page: consecutive PFNs, not the small one */
		if (pfn && pfn != zero_pfn && pfn2 == pfn + 1)
			huge_zero_pfn = pfn;
	}

	if (p != MAP_FAILED) {
		uint64_t s = (uintptr_t)p;
		struct sdfs_pm_query q = {.anyof = PAGE_IS_PRESENT,
					  .returned = PAGE_IS_PRESENT};
		have_scan = sdfs_pagemap_walk(fd, s, s + ps, &q, NULL, NULL) >= 0;
		if (have_scan) {
			q.required = q.returned = PAGE_IS_SOFT_DIRTY;
			have_scan_sd = sdfs_pagemap_walk(fd, s, s + ps, &q, NULL,
							 NULL) >= 0;
		}
	}
	close(fd);
}

bool sdfs_have_pagemap_scan(void)
{
	pthread_once(&probe_once, probe_kernel);
	return have_scan;
}

bool sdfs_have_scan_soft_dirty(void)
{
	pthread_once(&probe_once, probe_kernel);
	return have_scan_sd;
}

/* ---- markers ---------------------------------------------------------- */

#define PM_SWAP_TYPE 0x1fULL /* bits 0-4 of a swap entry: its type */
#define SWP_PTE_MARKER 0x1fULL /* the type of PTE markers; the offset says which */
#define SWAPS_RECHECK_US 1000000 /* /proc/swaps read at most once a second */

/* Whether any swap area is active (read from /proc/swaps, at most once a
 * second: it is asked only for entries whose type the reader cannot see). */
static bool swap_active(void)
{
	G_LOCK_DEFINE_STATIC(swaps);
	static gint64 checked_at; /* g_get_monotonic_time(), 0: never */
	static bool active;
	gint64 now = g_get_monotonic_time();

	G_LOCK(swaps);
	if (!checked_at || now - checked_at >= SWAPS_RECHECK_US) {
		g_autofree char *text = NULL;
		active = true; /* cannot tell: assume swap, count the entry */
		if (g_file_get_contents("/proc/swaps", &text, NULL, NULL)) {
			/* a header line, then one line per active area */
			const char *nl = strchr(text, '\n');
			active = nl && nl[1] != '\0';
		}
		checked_at = now;
	}
	bool on = active;
	G_UNLOCK(swaps);
	return on;
}

bool sdfs_pagemap_is_page(uint64_t e, bool shared)
{
	if (e & PM_PRESENT)
		return true;
	if (!(e & PM_SWAP))
		return false;
	uint64_t frame = e & PM_PFN_MASK;
	if (frame)
		return (frame & PM_SWAP_TYPE) != SWP_PTE_MARKER;
	/* the type is hidden from this reader (no CAP_SYS_ADMIN) */
	if (!(e & PM_UFFD_WP))
		return true;
	return !shared && swap_active();
}

/* ---- run accumulation -------------------------------------------------- */

/* Adjacent pages of one mapping are merged into one run before the
 * caller sees them. */
struct emitter {
	const struct sdfs_scan_req *req;
	const struct sdfs_vma *vma;
	uint64_t start, end; /* pending run; start == end: none */
};

static int emit_flush(struct emitter *em)
{
	int r = 0;

	if (em->end > em->start)
		r = em->req->fn(em->req->ctx, em->vma, em->start, em->end);
	em->start = em->end = 0;
	return r;
}

static int emit(struct emitter *em, uint64_t start, uint64_t end)
{
	if (em->end > em->start && start == em->end) {
		em->end = end;
		return 0;
	}
	int r = emit_flush(em);
	em->start = start;
	em->end = end;
	return r;
}

/* ---- pread of pagemap -------------------------------------------------- */

static bool is_zero_pfn(uint64_t pfn)
{
	if (!pfn)
		return false;
	if (pfn == zero_pfn)
		return true;
	return huge_zero_pfn && pfn >= huge_zero_pfn &&
	       pfn < huge_zero_pfn + HPAGE_SIZE / sdfs_page_size();
}

static bool vma_shared(const struct sdfs_vma *v)
{
	return v->perms[3] == 's';
}

/*
 * Whether a mapping is plain private anonymous memory (no file, not a
 * special mapping such as [vdso]): its present pages are all anonymous
 * (or the zero page), never a file's page, so its own pages need no
 * PAGE_IS_FILE (which costs the kernel a struct page lookup per PTE).
 */
static bool vma_plain_anon(const struct sdfs_vma *v)
{
	if (vma_shared(v) || v->inode != 0)
		return false;
	return v->path[0] == '\0' || strcmp(v->path, "[heap]") == 0 ||
	       strcmp(v->path, "[stack]") == 0 ||
	       strncmp(v->path, "[anon:", 6) == 0;
}

static bool entry_dirty(uint64_t e, enum sdfs_scan_need need,
			const struct sdfs_vma *v)
{
	if (!(e & (PM_PRESENT | PM_SWAP)))
		return false;
	if (need == SDFS_NEED_SOFT_DIRTY && !(e & PM_SOFT_DIRTY))
		return false;
	if (need == SDFS_NEED_ANON && (e & PM_FILE))
		return false;
	if (need == SDFS_NEED_OWN && !vma_shared(v) && (e & PM_FILE))
		return false;
	if (!(e & PM_PRESENT) && !sdfs_pagemap_is_page(e, vma_shared(v)))
		return false;
	/* the zero page is present but holds nothing the process wrote;
	 * PFNs are 0 without CAP_SYS_ADMIN, and then it cannot be told */
	if ((e & PM_PRESENT) && is_zero_pfn(e & PM_PFN_MASK))
		return false;
	return true;
}

static int scan_vma_pread(int fd, struct emitter *em, uint64_t start,
			  uint64_t end, enum sdfs_scan_need need,
			  uint64_t *buf)
{
	size_t ps = sdfs_page_size();

	for (uint64_t addr = start; addr < end;) {
		uint64_t npages = (end - addr) / ps;
		if (npages > PREAD_BATCH)
			npages = PREAD_BATCH;
		ssize_t got = pread(fd, buf, npages * 8, (off_t)(addr / ps * 8));
		if (got < 0)
			return errno == ESRCH ? -ESRCH : -errno;
		if (got == 0)
			return -ESRCH; /* the address space is gone (exit, exec) */
		size_t n = (size_t)got / 8;
		for (size_t i = 0; i < n; i++) {
			if (!entry_dirty(buf[i], need, em->vma))
				continue;
			uint64_t a = addr + i * ps;
			int r = emit(em, a, a + ps);
			if (r)
				return r;
		}
		addr += n * ps;
	}
	return 0;
}

/* ---- PAGEMAP_SCAN ---------------------------------------------------- */

static uint64_t need_category(enum sdfs_scan_need need)
{
	switch (need) {
	case SDFS_NEED_SOFT_DIRTY:
		return PAGE_IS_SOFT_DIRTY;
	case SDFS_NEED_WRITTEN:
		return PAGE_IS_WRITTEN;
	default:
		return 0;
	}
}

int sdfs_pagemap_walk(int pagemap_fd, uint64_t start, uint64_t end,
		      const struct sdfs_pm_query *q, sdfs_region_fn fn,
		      void *ctx)
{
	struct page_region vec[SCAN_VEC];
	struct pm_scan_arg a = {
		.size = sizeof(a),
		.flags = q->wp ? PM_SCAN_WP_MATCHING : 0,
		.start = start,
		.end = end,
		.vec = (uintptr_t)vec,
		.vec_len = SCAN_VEC,
		.category_inverted = q->inverted | q->anyof_clear,
		.category_mask = q->required | q->inverted,
		.category_anyof_mask = q->anyof | q->anyof_clear,
		.return_mask = q->returned,
	};

	while (a.start < end) {
		long n = ioctl(pagemap_fd, PAGEMAP_SCAN, &a);
		if (n < 0)
			return -errno;
		/* memcheck does not know this ioctl: it sees the argument
		 * updated (_IOWR) but not the regions written through vec */
		VALGRIND_MAKE_MEM_DEFINED(vec, (size_t)n * sizeof(vec[0]));
		for (long i = 0; fn && i < n; i++) {
			int r = fn(ctx, vec[i].start, vec[i].end,
				   vec[i].categories);
			if (r)
				return r;
		}
		if (a.walk_end <= a.start)
			break; /* no progress: should not happen */
		a.start = a.walk_end;
	}
	return 0;
}

/* Emit the pages of a swapped (not present) region that are real swap
 * entries, not markers: pagemap tells them apart. */
static int emit_swapped(int fd, struct emitter *em, uint64_t start,
			uint64_t end)
{
	size_t ps = sdfs_page_size();

	for (uint64_t a = start; a < end; a += ps) {
		uint64_t e;
		ssize_t n = pread(fd, &e, sizeof(e), (off_t)(a / ps * 8));
		if (n < 0)
			return errno == ESRCH ? -ESRCH : -errno;
		if (n != sizeof(e))
			return -ESRCH; /* the address space is gone */
		if (!sdfs_pagemap_is_page(e, vma_shared(em->vma)))
			continue;
		int r = emit(em, a, a + ps);
		if (r)
			return r;
	}
	return 0;
}

struct ioctl_walk {
	int fd;
	struct emitter *em;
	bool categorised; /* regions say present or swapped, not a need */
};

static int ioctl_region(void *ctx, uint64_t start, uint64_t end,
			uint64_t categories)
{
	struct ioctl_walk *w = ctx;

	/* a region that is swapped, not present, may be markers */
	if (w->categorised && !(categories & PAGE_IS_PRESENT))
		return emit_swapped(w->fd, w->em, start, end);
	return emit(w->em, start, end);
}

static int emit_upto(struct emitter *em, uint64_t *pos, uint64_t to)
{
	int r = to > *pos ? emit(em, *pos, to) : 0;

	if (to > *pos)
		*pos = to;
	return r;
}

/*
 * The own pages of a plain anonymous mapping, found from what they are
 * not. PAGEMAP_SCAN hands every matching page to its region builder one
 * by one, so a walk that matches every page of a resident heap costs
 * several times the walk itself (tests/bench/scanmasks, 2 GiB resident:
 * 6.2 ms against 1.1 ms; tests/bench/README.md). Here the walk matches
 * only the exceptions -- holes, swap entries (or markers) and the zero
 * page -- and every other page it walked is present and the process's
 * own: the gaps between the regions. (The kernel skips no anonymous
 * mapping: only VM_PFNMAP ones, which are never anonymous.)
 */
struct anon_own_walk {
	int fd;
	struct emitter *em;
	uint64_t pos; /* below pos: emitted or not own */
};

static int anon_own_region(void *ctx, uint64_t start, uint64_t end,
			   uint64_t categories)
{
	struct anon_own_walk *w = ctx;

	if (end <= w->pos)
		return 0; /* reported again */
	int r = emit_upto(w->em, &w->pos, start);
	if (r == 0 && (categories & PAGE_IS_SWAPPED))
		r = emit_swapped(w->fd, w->em, w->pos, end);
	w->pos = end;
	return r;
}

static int scan_anon_own(int fd, struct emitter *em, uint64_t start,
			 uint64_t end)
{
	/* not present, or the zero page */
	struct sdfs_pm_query q = {
		.anyof = PAGE_IS_PFNZERO,
		.anyof_clear = PAGE_IS_PRESENT,
		.returned = PAGE_IS_SWAPPED,
	};
	struct anon_own_walk w = {.fd = fd, .em = em, .pos = start};
	int r = sdfs_pagemap_walk(fd, start, end, &q, anon_own_region, &w);
	return r ? r : emit_upto(em, &w.pos, end);
}

static int scan_vma_ioctl(int fd, struct emitter *em, uint64_t start,
			  uint64_t end, enum sdfs_scan_need need,
			  bool wp_matching)
{
	if (need == SDFS_NEED_OWN && vma_plain_anon(em->vma))
		return scan_anon_own(fd, em, start, end);
	uint64_t cat = need_category(need);
	bool file_out = need == SDFS_NEED_ANON ||
			(need == SDFS_NEED_OWN && !vma_shared(em->vma));
	/*
	 * Always restrict to present or swapped pages and drop the zero
	 * page. This also keeps the kernel off its fast path for
	 * category_mask == return_mask == WRITTEN, which reports empty PTEs
	 * as written (docs/design.md, the kernel facts).
	 */
	struct sdfs_pm_query q = {
		.required = cat,
		.inverted = PAGE_IS_PFNZERO | (file_out ? PAGE_IS_FILE : 0),
		.anyof = PAGE_IS_PRESENT | PAGE_IS_SWAPPED,
		.returned = cat ? cat : (PAGE_IS_PRESENT | PAGE_IS_SWAPPED),
		.wp = wp_matching,
	};
	struct ioctl_walk w = {.fd = fd, .em = em, .categorised = !cat};
	return sdfs_pagemap_walk(fd, start, end, &q, ioctl_region, &w);
}

int sdfs_scan(int pagemap_fd, const struct sdfs_scan_req *req,
	      enum sdfs_scan_need need, bool wp_matching, bool force_pread)
{
	bool use_ioctl;

	switch (need) {
	case SDFS_NEED_WRITTEN:
		if (!sdfs_have_pagemap_scan())
			return -ENOTSUP;
		use_ioctl = true;
		break;
	case SDFS_NEED_SOFT_DIRTY:
		use_ioctl = !force_pread && sdfs_have_scan_soft_dirty();
		break;
	default:
		use_ioctl = !force_pread && sdfs_have_pagemap_scan();
		break;
	}
	if (wp_matching && (!use_ioctl || need != SDFS_NEED_WRITTEN))
		return -EINVAL;
	/* the zero-page PFNs are needed by the pread path */
	pthread_once(&probe_once, probe_kernel);

	g_autofree uint64_t *buf = use_ioctl ? NULL
					      : g_try_malloc(PREAD_BATCH * 8);
	if (!use_ioctl && !buf)
		return -ENOMEM;

	struct emitter em = {.req = req};
	const struct sdfs_maps *m = req->maps;
	for (size_t i = 0; i < m->n; i++) {
		const struct sdfs_vma *v = &m->vmas[i];
		if (v->end <= req->from)
			continue;
		if (v->start >= req->to)
			break;
		if (!sdfs_vma_trackable(v))
			continue;
		uint64_t s = v->start > req->from ? v->start : req->from;
		uint64_t e = v->end < req->to ? v->end : req->to;
		int r;
		em.vma = v;
		if (use_ioctl)
			r = scan_vma_ioctl(pagemap_fd, &em, s, e, need,
					   wp_matching);
		else
			r = scan_vma_pread(pagemap_fd, &em, s, e, need, buf);
		if (!r)
			r = emit_flush(&em);
		if (r)
			return r;
	}
	return 0;
}

int sdfs_scan_into(int pagemap_fd, const struct sdfs_maps *maps,
		   enum sdfs_scan_need need, struct sdfs_dirtyset *out)
{
	struct sdfs_scan_req req = {
		.maps = maps,
		.from = 0,
		.to = UINT64_MAX,
		.fn = sdfs_scan_collect_fn,
		.ctx = out,
	};
	return sdfs_scan(pagemap_fd, &req, need, false, false);
}

int sdfs_scan_collect_fn(void *dirtyset, const struct sdfs_vma *vma,
			 uint64_t start, uint64_t end)
{
	struct sdfs_dirtyset *s = dirtyset;
	if (!vma) {
		sdfs_dirtyset_clear(s);
		return 0;
	}
	ssize_t idx = sdfs_dirtyset_add_vma(s, vma);
	if (idx < 0)
		return (int)idx;
	return sdfs_dirtyset_add(s, (uint32_t)idx, start, end);
}
