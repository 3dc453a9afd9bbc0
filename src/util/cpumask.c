/*
 * CPU sets.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/alloc.h"
#include "util/cpumask.h"
#include "util/log.h"

IMS_API struct ims_cpumask *ims_cpumask_create(uint32_t nr_cpus)
{
	struct ims_cpumask *m;

	if (nr_cpus == 0 || nr_cpus > 65536) {
		ims__error(-EINVAL, "cpumask: %u CPUs is not in 1..65536", nr_cpus);
		return NULL;
	}
	m = ims__zalloc(ims__cpumask_size(nr_cpus), "cpumask");
	if (m)
		m->nbits = nr_cpus;
	return m;
}

void ims__cpumask_free(struct ims_cpumask *m)
{
	if (m)
		ims__free(m, ims__cpumask_size(m->nbits));
}

IMS_API void ims_cpumask_destroy(struct ims_cpumask *m)
{
	ims__cpumask_free(m);
}

struct ims_cpumask *ims__cpumask_dup(const struct ims_cpumask *m, const char *point)
{
	struct ims_cpumask *d = ims__zalloc(ims__cpumask_size(m->nbits), point);

	if (d)
		memcpy(d, m, ims__cpumask_size(m->nbits));
	return d;
}

IMS_API uint32_t ims_cpumask_nr_cpus(const struct ims_cpumask *m)
{
	return m->nbits;
}

IMS_API int ims_cpumask_set(struct ims_cpumask *m, uint32_t cpu)
{
	if (cpu >= m->nbits)
		return ims__error(-EINVAL, "cpumask: CPU %u out of range (%u CPUs)", cpu, m->nbits);
	ims__set_bit(m->bits, cpu);
	return 0;
}

IMS_API int ims_cpumask_clear(struct ims_cpumask *m, uint32_t cpu)
{
	if (cpu >= m->nbits)
		return ims__error(-EINVAL, "cpumask: CPU %u out of range (%u CPUs)", cpu, m->nbits);
	ims__clear_bit(m->bits, cpu);
	return 0;
}

IMS_API void ims_cpumask_setall(struct ims_cpumask *m)
{
	ims__bitmap_set(m->bits, 0, m->nbits);
}

IMS_API void ims_cpumask_zero(struct ims_cpumask *m)
{
	memset(m->bits, 0, IMS_BITMAP_WORDS(m->nbits) * sizeof(uint64_t));
}

IMS_API bool ims_cpumask_test(const struct ims_cpumask *m, uint32_t cpu)
{
	return cpu < m->nbits && ims__test_bit(m->bits, cpu);
}

IMS_API uint32_t ims_cpumask_weight(const struct ims_cpumask *m)
{
	return ims__bitmap_weight(m->bits, m->nbits);
}

IMS_API uint32_t ims_cpumask_next(const struct ims_cpumask *m, uint32_t from)
{
	return ims__find_next_bit(m->bits, m->nbits, from);
}

IMS_API bool ims_cpumask_equal(const struct ims_cpumask *a, const struct ims_cpumask *b)
{
	return a->nbits == b->nbits &&
	       !memcmp(a->bits, b->bits, IMS_BITMAP_WORDS(a->nbits) * sizeof(uint64_t));
}

bool ims__cpumask_intersects(const struct ims_cpumask *a, const struct ims_cpumask *b)
{
	uint32_t i, n = IMS_BITMAP_WORDS(IMS_MIN(a->nbits, b->nbits));

	for (i = 0; i < n; i++)
		if (a->bits[i] & b->bits[i])
			return true;
	return false;
}

IMS_API int ims_cpumask_parse(struct ims_cpumask *m, const char *list)
{
	const char *p = list;
	uint64_t tmp[IMS_BITMAP_WORDS(65536)];

	memset(tmp, 0, IMS_BITMAP_WORDS(m->nbits) * sizeof(uint64_t));
	if (!*p)
		return ims__error(-EINVAL, "cpumask: empty CPU list");
	while (*p) {
		char *end;
		unsigned long a, b;

		if (*p < '0' || *p > '9')
			return ims__error(-EINVAL, "cpumask: '%s': expected a CPU number at '%s'", list, p);
		a = strtoul(p, &end, 10);
		b = a;
		if (*end == '-') {
			p = end + 1;
			if (*p < '0' || *p > '9')
				return ims__error(-EINVAL, "cpumask: '%s': bad range end at '%s'", list, p);
			b = strtoul(p, &end, 10);
		}
		if (a > b)
			return ims__error(-EINVAL, "cpumask: '%s': range %lu-%lu runs backwards", list, a, b);
		if (b >= m->nbits)
			return ims__error(-EINVAL, "cpumask: '%s': CPU %lu out of range (%u CPUs)", list, b, m->nbits);
		ims__bitmap_set(tmp, (uint32_t)a, (uint32_t)(b - a + 1));
		p = end;
		if (*p == ',')
			p++;
		else if (*p)
			return ims__error(-EINVAL, "cpumask: '%s': unexpected '%c'", list, *p);
	}
	memcpy(m->bits, tmp, IMS_BITMAP_WORDS(m->nbits) * sizeof(uint64_t));
	return 0;
}

IMS_API size_t ims_cpumask_format(const struct ims_cpumask *m, char *buf, size_t len)
{
	size_t n = 0;
	uint32_t cpu = ims_cpumask_next(m, 0);

	if (len)
		buf[0] = '\0';
	while (cpu < m->nbits) {
		uint32_t end = ims__find_next_zero_bit(m->bits, m->nbits, cpu);
		char tmp[32];
		int w;

		if (end - 1 > cpu)
			w = snprintf(tmp, sizeof(tmp), "%s%u-%u", n ? "," : "", cpu, end - 1);
		else
			w = snprintf(tmp, sizeof(tmp), "%s%u", n ? "," : "", cpu);
		if (n + (size_t)w < len)
			memcpy(buf + n, tmp, (size_t)w + 1);
		n += (size_t)w;
		cpu = ims_cpumask_next(m, end);
	}
	return n;
}
