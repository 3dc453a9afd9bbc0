/*
 * CPU list parsing: any input either parses, and then formats back to a
 * list that parses to the same mask, or is refused with a message and
 * leaves the mask as it was.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <ims/cpumask.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ims_cpumask *m = ims_cpumask_create(200), *m2 = ims_cpumask_create(200);
	struct ims_cpumask *before = ims_cpumask_create(200);
	char *s = malloc(size + 1), buf[2048];

	memcpy(s, data, size);
	s[size] = '\0';
	ims_cpumask_set(m, 7);
	ims_cpumask_set(before, 7);
	if (ims_cpumask_parse(m, s) == 0) {
		size_t n = ims_cpumask_format(m, buf, sizeof(buf));

		if (n < sizeof(buf)) {
			if (ims_cpumask_parse(m2, buf[0] ? buf : "0") != 0)
				abort();
			if (buf[0] && !ims_cpumask_equal(m, m2))
				abort();
		}
	} else if (!ims_cpumask_equal(m, before)) {
		abort();
	}
	free(s);
	ims_cpumask_destroy(m);
	ims_cpumask_destroy(m2);
	ims_cpumask_destroy(before);
	return 0;
}
