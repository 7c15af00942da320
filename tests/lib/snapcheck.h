/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Iterative snapshots with rsync (sdfs(5), "Iterative snapshots") and the
 * check of such a snapshot against the memory of the stopped process it
 * was taken of. Used by tests/exact and tests/stress.
 */
#pragma once

#include <glib.h>
#include <sys/types.h>

/*
 * One round's copy: `rsync -a --ignore-times --files-from=LAST/changes
 * --delete-missing-args LAST/pages/ SNAP/` (old_recipe: `rsync -a
 * --ignore-times LAST/pages/ SNAP/`). Returns rsync's exit code, or
 * -errno when it could not run; *errtext (to g_free, may be NULL) gets
 * rsync's stderr.
 */
int tl_rsync_round(const char *rsync, const char *last, const char *snap,
		   gboolean old_recipe, char **errtext);

/*
 * Whether rsync can run the recipe: in a scratch directory under dir, a
 * name listed in --files-from after one that is there (a first entry's
 * mode 0 is sent as "same mode as before" and never checked) that the
 * source does not have must be deleted from the destination with exit 0.
 * rsync 3.4.3, and Debian bookworm's 3.2.7-1+deb12u5 and +deb12u6, reject that
 * entry ("invalid file mode 00", exit 2) and copy nothing of the round. FALSE
 * with *why (to g_free) when it cannot.
 */
gboolean tl_rsync_recipe_works(const char *rsync, const char *dir, char **why);

typedef struct {
	guint64 files;	  /* page files in SNAP/ */
	guint64 stale;	  /* a file whose bytes differ from memory */
	guint64 leftover; /* a file for an address that is not mapped */
	guint64 missing;  /* an own page (not all zero) without a file */
	guint64 own;	  /* own pages of private mappings looked at */
	guint64 own_zero; /* of which all zero (need no file) */
	guint64 markers;  /* swap-like pagemap entries that are no page */
	GString *detail;  /* the first cases of each kind, one a line */
} TlSnapCheck;

/*
 * Compare SNAP/ with the memory of pid, which must be stopped, read with
 * maps_text (the snapshot's last/maps; /proc/PID/maps if NULL):
 *  (a) every file names a mapped address (else leftover) and holds the
 *      bytes /proc/PID/mem reads there (else stale);
 *  (b) every own page of a private mapping -- present in RAM, or swapped
 *      (a real swap entry, not a uffd-wp marker), and not the file's own
 *      page of a private file mapping (pagemap bit 61) -- that is not all
 *      zero has its file (else missing).
 * [vvar], [vvar_vclock], [vsyscall] and VM_IO/VM_PFNMAP mappings are not
 * looked at by (b). 0, or -errno if pid's /proc files cannot be read.
 */
int tl_snap_check(pid_t pid, const char *snap, const char *maps_text,
		  TlSnapCheck *out);
void tl_snap_check_clear(TlSnapCheck *c);
/* "files N stale N leftover N missing N own N (all zero N) markers N" */
char *tl_snap_check_summary(const TlSnapCheck *c);
