/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Result rows: samples, medians, ratios, targets; the Markdown table. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

#define MAX_ROWS 1024

static struct row rows[MAX_ROWS];
static int nrows;

struct row *row_new(const char *meas, const char *size, const char *dirty,
		    const char *pat)
{
	/* the same measurement of the same configuration adds samples */
	for (int i = 0; i < nrows; i++) {
		struct row *r = &rows[i];
		if (!strcmp(r->meas, meas) && !strcmp(r->size, size) &&
		    !strcmp(r->dirty, dirty) && !strcmp(r->pat, pat))
			return r;
	}
	if (nrows == MAX_ROWS)
		die("too many table rows");
	struct row *r = &rows[nrows++];
	memset(r, 0, sizeof(*r));
	snprintf(r->meas, sizeof(r->meas), "%s", meas);
	snprintf(r->size, sizeof(r->size), "%s", size);
	snprintf(r->dirty, sizeof(r->dirty), "%s", dirty);
	snprintf(r->pat, sizeof(r->pat), "%s", pat);
	return r;
}

void row_target(struct row *r, enum target_kind tk, double limit,
		const char *text)
{
	r->tk = tk;
	r->limit = limit;
	snprintf(r->target, sizeof(r->target), "%s", text);
}

void row_add_s(struct row *r, double v)
{
	if (r->ns < MAX_RUNS)
		r->s[r->ns++] = v;
}

void row_add_b(struct row *r, double v)
{
	if (r->nb < MAX_RUNS)
		r->b[r->nb++] = v;
}

void row_add(struct row *r, double sdfs, double base)
{
	row_add_s(r, sdfs);
	row_add_b(r, base);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double median(const double *v, int n)
{
	double t[MAX_RUNS];
	if (n == 0)
		return NAN;
	memcpy(t, v, (size_t)n * sizeof(double));
	qsort(t, (size_t)n, sizeof(double), cmp_double);
	return n % 2 ? t[n / 2] : (t[n / 2 - 1] + t[n / 2]) / 2;
}

static void fmt_val(char *out, size_t len, const struct row *r, double v)
{
	if (isnan(v)) {
		snprintf(out, len, "—");
	} else if (r->unit == U_MIB) {
		snprintf(out, len, "%.1f MiB", v);
	} else {
		char t[32];
		if (v >= 1)
			snprintf(t, sizeof(t), "%.2f s", v);
		else if (v >= 1e-3)
			snprintf(t, sizeof(t), "%.2f ms", v * 1e3);
		else
			snprintf(t, sizeof(t), "%.0f µs", v * 1e6);
		if (r->bytes && v > 0)
			snprintf(out, len, "%s (%.2f GB/s)", t, (double)r->bytes / v / 1e9);
		else
			snprintf(out, len, "%s", t);
	}
}

/* -1: no target, 0: missed, 1: met */
static int row_met(const struct row *r)
{
	double s = median(r->s, r->ns), b = median(r->b, r->nb);
	if (r->note[0] || r->ns == 0)
		return -1;
	switch (r->tk) {
	case T_RATIO:
		return r->nb ? s <= r->limit * b : -1;
	case T_SPEEDUP:
		return r->nb ? b >= r->limit * s : -1;
	case T_GBS:
		return (double)r->bytes / s / 1e9 >= r->limit;
	case T_FROZEN:
		return r->nb ? s <= 1.2 * b + 1e-3 : -1;
	case T_MIB:
		return s <= r->limit;
	default:
		return -1;
	}
}

void table_print(FILE *f)
{
	fprintf(f, "| measurement | size | dirty | pattern | sdfs | baseline | ratio | target | met? |\n");
	fprintf(f, "|---|---|---|---|---|---|---|---|---|\n");
	for (int i = 0; i < nrows; i++) {
		const struct row *r = &rows[i];
		char sv[64], bv[64], ratio[32];
		if (r->note[0]) {
			fprintf(f, "| %s | %s | %s | %s | %s | | | %s | — |\n", r->meas,
				r->size, r->dirty, r->pat, r->note, r->target);
			continue;
		}
		double s = median(r->s, r->ns), b = median(r->b, r->nb);
		fmt_val(sv, sizeof(sv), r, s);
		fmt_val(bv, sizeof(bv), r, b);
		if (r->nb && b > 0 && !isnan(s))
			snprintf(ratio, sizeof(ratio), "%.2f×", s / b);
		else
			snprintf(ratio, sizeof(ratio), "—");
		int met = row_met(r);
		fprintf(f, "| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", r->meas,
			r->size, r->dirty, r->pat, sv, r->nb || !r->no_base ? bv : "—",
			ratio, r->target[0] ? r->target : "—",
			met < 0 ? "—" : met ? "yes" : "**no**");
	}
}

int table_all_met(void)
{
	for (int i = 0; i < nrows; i++)
		if (row_met(&rows[i]) == 0)
			return 0;
	return 1;
}
