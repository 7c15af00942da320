/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Fuzz sdfs_parse_pid_name: a directory name looked up under the root.
 * Exactly the canonical decimals 1..INT_MAX are accepted. */
#include <errno.h>
#include <limits.h>
#include <string.h>

#include "fuzz.h"
#include "proc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *name = fuzz_dup_cstr(data, size);
	size_t len = strlen(name);
	pid_t r = sdfs_parse_pid_name(name);

	/* oracle: 1..10 ASCII digits, no leading zero, value <= INT_MAX */
	bool canon = len >= 1 && len <= 10 && name[0] != '0';
	uint64_t v = 0;
	for (size_t i = 0; canon && i < len; i++) {
		if (name[i] < '0' || name[i] > '9')
			canon = false;
		else
			v = v * 10 + (uint64_t)(name[i] - '0');
	}
	if (canon && v > INT_MAX)
		canon = false;

	if (canon) {
		CHECK(r > 0);
		CHECK((uint64_t)r == v);
		char back[16];
		snprintf(back, sizeof(back), "%d", (int)r);
		CHECK(strcmp(back, name) == 0); /* exactly one name per pid */
	} else {
		CHECK(r == -ENOENT);
	}
	free(name);
	return 0;
}
