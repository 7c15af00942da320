/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Fuzz the validation of writes to PID/clear (sdfs(5), clear: "1" or "4",
 * optionally followed by a newline; anything else is EINVAL), the
 * daemon's own sdfs_clear_request_valid(), against sdfs(5)'s list of
 * accepted writes.
 */
#include <stdbool.h>
#include <string.h>

#include "clearparse.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const accepted[] = {"1", "4", "1\n", "4\n"};
	char *buf = fuzz_dup_exact(data, size);
	bool want = false;

	for (size_t i = 0; i < 4; i++)
		if (size == strlen(accepted[i]) &&
		    !memcmp(buf, accepted[i], size))
			want = true;
	CHECK(sdfs_clear_request_valid(buf, size) == want);
	free(buf);
	return 0;
}
