/*
 * The x86 vector matrix (see matrix.h). Each CPU keeps three 256-bit maps
 * (allocated, managed, system) and the counters derived from them; online
 * CPUs are threaded on doubly linked lists, one per count of available
 * vectors, so that "the CPU with the most available vectors" is the head of
 * the highest non-empty list. An allocation moves its CPU to the tail of
 * the list below, which is what spreads consecutive allocations over CPUs.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "os/x86/matrix.h"
#include "util/alloc.h"
#include "util/bitmap.h"
#include "util/cpumask.h"
#include "util/log.h"

#define VEC_WORDS	(IMS_X86_NR_VECTORS / 64)
#define NO_CPU		UINT32_MAX
/* Available counts run 0..(256 - 32); one list per count. */
#define NR_BUCKETS	(IMS_X86_NR_VECTORS - IMS_X86_FIRST_EXTERNAL_VECTOR + 1)

struct matrix_cpu {
	uint64_t alloc_map[VEC_WORDS];		/* handed out, managed or not */
	uint64_t managed_map[VEC_WORDS];	/* set aside for managed irqs */
	uint64_t system_map[VEC_WORDS];		/* system vectors of this CPU */
	uint16_t available;
	uint16_t allocated;
	uint16_t managed;
	uint16_t managed_allocated;
	uint16_t system;
	bool online;
	uint32_t prev, next;			/* bucket list, while online */
};

struct ims__matrix {
	uint32_t nr_cpus;
	uint32_t first_system;
	struct ims__matrix_counts global;	/* sums over online CPUs */
	uint32_t max_bucket;			/* highest non-empty bucket */
	uint32_t head[NR_BUCKETS];
	uint32_t tail[NR_BUCKETS];
	uint64_t *online_map;
	struct matrix_cpu *cpus;
};

static size_t online_map_size(uint32_t nr_cpus)
{
	return IMS_BITMAP_WORDS(nr_cpus) * sizeof(uint64_t);
}

static void bucket_insert(struct ims__matrix *m, uint32_t c)
{
	struct matrix_cpu *cm = &m->cpus[c];
	uint32_t b = cm->available;

	cm->next = NO_CPU;
	cm->prev = m->tail[b];
	if (m->tail[b] == NO_CPU)
		m->head[b] = c;
	else
		m->cpus[m->tail[b]].next = c;
	m->tail[b] = c;
	if (b > m->max_bucket)
		m->max_bucket = b;
}

static void bucket_unlink(struct ims__matrix *m, uint32_t c)
{
	struct matrix_cpu *cm = &m->cpus[c];
	uint32_t b = cm->available;

	if (cm->prev == NO_CPU)
		m->head[b] = cm->next;
	else
		m->cpus[cm->prev].next = cm->next;
	if (cm->next == NO_CPU)
		m->tail[b] = cm->prev;
	else
		m->cpus[cm->next].prev = cm->prev;
	cm->prev = cm->next = NO_CPU;
}

/* At most NR_BUCKETS steps, whatever the number of CPUs. */
static void bucket_fix_max(struct ims__matrix *m)
{
	while (m->max_bucket > 0 && m->head[m->max_bucket] == NO_CPU)
		m->max_bucket--;
}

static void bucket_remove(struct ims__matrix *m, uint32_t c)
{
	bucket_unlink(m, c);
	bucket_fix_max(m);
}

/* Every change of a CPU's available count goes through here. */
static void set_available(struct ims__matrix *m, uint32_t c, uint32_t avail)
{
	struct matrix_cpu *cm = &m->cpus[c];

	if (!cm->online) {
		cm->available = (uint16_t)avail;
		return;
	}
	/*
	 * Insert into the new list before looking for the highest non-empty
	 * one, so that the search stops at once instead of walking down
	 * from an emptied top list.
	 */
	bucket_unlink(m, c);
	m->global.available -= cm->available;
	m->global.available += avail;
	cm->available = (uint16_t)avail;
	bucket_insert(m, c);
	bucket_fix_max(m);
}

int ims__matrix_create(uint32_t nr_cpus, uint32_t first_system, struct ims__matrix **out)
{
	struct ims__matrix *m;
	uint32_t c, b;

	if (!out)
		return ims__error(-EINVAL, "matrix: NULL out");
	if (nr_cpus == 0 || nr_cpus > 65536)
		return ims__error(-EINVAL, "matrix: nr_cpus %u is not in 1..65536", nr_cpus);
	if (first_system == 0)
		first_system = IMS_X86_FIRST_SYSTEM_DEFAULT;
	if (first_system < IMS_X86_FIRST_SYSTEM_MIN || first_system > IMS_X86_NR_VECTORS)
		return ims__error(-EINVAL, "matrix: first system vector 0x%x is not in 0x%x..0x%x",
				  first_system, IMS_X86_FIRST_SYSTEM_MIN, IMS_X86_NR_VECTORS);
	m = ims__zalloc(sizeof(*m), "x86_matrix");
	if (!m)
		return -ENOMEM;
	m->cpus = ims__calloc(nr_cpus, sizeof(*m->cpus), "x86_matrix");
	if (!m->cpus)
		goto err_matrix;
	m->online_map = ims__zalloc(online_map_size(nr_cpus), "x86_matrix");
	if (!m->online_map)
		goto err_cpus;
	m->nr_cpus = nr_cpus;
	m->first_system = first_system;
	for (b = 0; b < NR_BUCKETS; b++)
		m->head[b] = m->tail[b] = NO_CPU;
	for (c = 0; c < nr_cpus; c++) {
		struct matrix_cpu *cm = &m->cpus[c];

		ims__bitmap_set(cm->system_map, first_system, IMS_X86_NR_VECTORS - first_system);
		if (c == 0)
			ims__bitmap_set(cm->system_map, IMS_X86_LEGACY_FIRST,
					IMS_X86_LEGACY_LAST - IMS_X86_LEGACY_FIRST + 1);
		cm->system = (uint16_t)ims__bitmap_weight(cm->system_map, IMS_X86_NR_VECTORS);
		cm->available = (uint16_t)(IMS_X86_NR_VECTORS - IMS_X86_FIRST_EXTERNAL_VECTOR - cm->system);
		cm->prev = cm->next = NO_CPU;
		ims__matrix_online(m, c);
	}
	*out = m;
	return 0;

err_cpus:
	ims__free(m->cpus, nr_cpus * sizeof(*m->cpus));
err_matrix:
	ims__free(m, sizeof(*m));
	return -ENOMEM;
}

void ims__matrix_destroy(struct ims__matrix *m)
{
	if (!m)
		return;
	ims__free(m->online_map, online_map_size(m->nr_cpus));
	ims__free(m->cpus, m->nr_cpus * sizeof(*m->cpus));
	ims__free(m, sizeof(*m));
}

uint32_t ims__matrix_nr_cpus(const struct ims__matrix *m)
{
	return m->nr_cpus;
}

uint32_t ims__matrix_first_system(const struct ims__matrix *m)
{
	return m->first_system;
}

bool ims__matrix_cpu_online(const struct ims__matrix *m, uint32_t cpu)
{
	return cpu < m->nr_cpus && m->cpus[cpu].online;
}

static void global_add(struct ims__matrix *m, const struct matrix_cpu *cm, int sign)
{
	m->global.available += (uint64_t)(sign * cm->available);
	m->global.allocated += (uint64_t)(sign * cm->allocated);
	m->global.managed += (uint64_t)(sign * cm->managed);
	m->global.managed_allocated += (uint64_t)(sign * cm->managed_allocated);
	m->global.system += (uint64_t)(sign * cm->system);
	m->global.online += (uint32_t)sign;
}

int ims__matrix_online(struct ims__matrix *m, uint32_t cpu)
{
	struct matrix_cpu *cm;

	if (cpu >= m->nr_cpus)
		return ims__error(-EINVAL, "matrix: CPU %u out of range (%u CPUs)", cpu, m->nr_cpus);
	cm = &m->cpus[cpu];
	if (cm->online)
		return ims__error(-EINVAL, "matrix: CPU %u is already online", cpu);
	cm->online = true;
	ims__set_bit(m->online_map, cpu);
	global_add(m, cm, 1);
	bucket_insert(m, cpu);
	return 0;
}

int ims__matrix_offline(struct ims__matrix *m, uint32_t cpu)
{
	struct matrix_cpu *cm;

	if (cpu >= m->nr_cpus)
		return ims__error(-EINVAL, "matrix: CPU %u out of range (%u CPUs)", cpu, m->nr_cpus);
	cm = &m->cpus[cpu];
	if (!cm->online)
		return ims__error(-EINVAL, "matrix: CPU %u is already offline", cpu);
	if (cm->allocated || cm->managed_allocated)
		return ims__error(-EBUSY, "matrix: CPU %u still has %u vectors allocated (%u managed); move them first",
				  cpu, cm->allocated + cm->managed_allocated, cm->managed_allocated);
	bucket_remove(m, cpu);
	global_add(m, cm, -1);
	cm->online = false;
	ims__clear_bit(m->online_map, cpu);
	return 0;
}

void ims__matrix_reserve(struct ims__matrix *m)
{
	m->global.reserved++;
}

int ims__matrix_remove_reserve(struct ims__matrix *m)
{
	if (!m->global.reserved) {
		ims__warn_once("matrix: reservation removed that was never made");
		return ims__error(-EINVAL, "matrix: no reservation to remove");
	}
	m->global.reserved--;
	return 0;
}

/* Lowest device vector of cpu that is neither system, managed nor taken. */
static uint32_t find_free_vector(const struct ims__matrix *m, const struct matrix_cpu *cm)
{
	for (uint32_t w = 0; w < VEC_WORDS; w++) {
		uint64_t busy = cm->alloc_map[w] | cm->managed_map[w] | cm->system_map[w];

		if (w == 0)
			busy |= 0xffffffffull;	/* exceptions */
		if (~busy) {
			uint32_t v = w * 64 + (uint32_t)__builtin_ctzll(~busy);

			return v < m->first_system ? v : IMS_X86_NR_VECTORS;
		}
	}
	return IMS_X86_NR_VECTORS;
}

/* True if mask holds every online CPU: then the buckets answer. */
static bool mask_covers_online(const struct ims__matrix *m, const struct ims_cpumask *mask)
{
	uint32_t w, n = IMS_BITMAP_WORDS(m->nr_cpus);

	if (mask->nbits < m->nr_cpus)
		return false;
	for (w = 0; w < n; w++)
		if (m->online_map[w] & ~mask->bits[w])
			return false;
	return true;
}

static int check_mask(const struct ims__matrix *m, const struct ims_cpumask *mask)
{
	if (mask->nbits != m->nr_cpus)
		return ims__error(-EINVAL, "matrix: mask has %u CPUs, the matrix %u", mask->nbits,
				  m->nr_cpus);
	return 0;
}

int ims__matrix_alloc(struct ims__matrix *m, const struct ims_cpumask *mask, uint32_t *cpu)
{
	uint32_t best = NO_CPU, c, v;
	int rc;

	if (!mask || mask_covers_online(m, mask)) {
		if (m->max_bucket == 0)
			return m->global.online ? -ENOSPC : ims__error(-EINVAL, "matrix: no CPU is online");
		best = m->head[m->max_bucket];
	} else {
		bool any_online = false;

		rc = check_mask(m, mask);
		if (rc)
			return rc;
		for (c = ims_cpumask_next(mask, 0); c < m->nr_cpus; c = ims_cpumask_next(mask, c + 1)) {
			const struct matrix_cpu *cm = &m->cpus[c];

			if (!cm->online)
				continue;
			any_online = true;
			if (cm->available && (best == NO_CPU || cm->available > m->cpus[best].available))
				best = c;
		}
		if (!any_online)
			return ims__error(-EINVAL, "matrix: the mask has no online CPU");
		if (best == NO_CPU)
			return -ENOSPC;
	}
	v = find_free_vector(m, &m->cpus[best]);
	if (IMS_NEVER(v >= IMS_X86_NR_VECTORS))
		return ims__error(-EIO, "matrix: CPU %u counts %u available but has none", best,
				  m->cpus[best].available);
	ims__set_bit(m->cpus[best].alloc_map, v);
	m->cpus[best].allocated++;
	if (m->cpus[best].online)
		m->global.allocated++;
	set_available(m, best, m->cpus[best].available - 1u);
	*cpu = best;
	return (int)v;
}

int ims__matrix_free(struct ims__matrix *m, uint32_t cpu, uint32_t vector)
{
	struct matrix_cpu *cm;

	if (cpu >= m->nr_cpus)
		return ims__error(-EINVAL, "matrix: free on CPU %u out of range (%u CPUs)", cpu, m->nr_cpus);
	cm = &m->cpus[cpu];
	if (vector >= IMS_X86_NR_VECTORS || !ims__test_bit(cm->alloc_map, vector)) {
		ims__warn_once("matrix: free of vector 0x%x on CPU %u that is not allocated", vector, cpu);
		return ims__error(-EINVAL, "matrix: vector 0x%x on CPU %u is not allocated", vector, cpu);
	}
	ims__clear_bit(cm->alloc_map, vector);
	if (ims__test_bit(cm->managed_map, vector)) {
		/* The managed reservation stays; only its use ends. */
		cm->managed_allocated--;
		if (cm->online)
			m->global.managed_allocated--;
		return 0;
	}
	cm->allocated--;
	if (cm->online)
		m->global.allocated--;
	set_available(m, cpu, cm->available + 1u);
	return 0;
}

int ims__matrix_reserve_managed(struct ims__matrix *m, const struct ims_cpumask *mask)
{
	uint32_t c;
	int rc = check_mask(m, mask);

	if (rc)
		return rc;
	/*
	 * Each CPU of the mask takes one vector, so checking that each has
	 * one available first makes the second pass unable to fail.
	 */
	for (c = ims_cpumask_next(mask, 0); c < m->nr_cpus; c = ims_cpumask_next(mask, c + 1))
		if (!m->cpus[c].available)
			return ims__error(-ENOSPC, "matrix: CPU %u has no vector left to set aside for managed interrupts",
					  c);
	for (c = ims_cpumask_next(mask, 0); c < m->nr_cpus; c = ims_cpumask_next(mask, c + 1)) {
		struct matrix_cpu *cm = &m->cpus[c];
		uint32_t v = find_free_vector(m, cm);

		ims__set_bit(cm->managed_map, v);
		cm->managed++;
		if (cm->online)
			m->global.managed++;
		set_available(m, c, cm->available - 1u);
	}
	return 0;
}

/* An unallocated managed vector of cm, or IMS_X86_NR_VECTORS. */
static uint32_t find_managed_free(const struct matrix_cpu *cm)
{
	for (uint32_t w = 0; w < VEC_WORDS; w++) {
		uint64_t bits = cm->managed_map[w] & ~cm->alloc_map[w];

		if (bits)
			return w * 64 + (uint32_t)__builtin_ctzll(bits);
	}
	return IMS_X86_NR_VECTORS;
}

int ims__matrix_remove_managed(struct ims__matrix *m, const struct ims_cpumask *mask)
{
	uint32_t c;
	int rc = check_mask(m, mask);

	if (rc)
		return rc;
	/* Check every CPU first, so that a refusal changes nothing. */
	for (c = ims_cpumask_next(mask, 0); c < m->nr_cpus; c = ims_cpumask_next(mask, c + 1))
		if (find_managed_free(&m->cpus[c]) >= IMS_X86_NR_VECTORS)
			return ims__error(-EBUSY, "matrix: CPU %u has no unallocated managed vector to release", c);
	for (c = ims_cpumask_next(mask, 0); c < m->nr_cpus; c = ims_cpumask_next(mask, c + 1)) {
		struct matrix_cpu *cm = &m->cpus[c];

		ims__clear_bit(cm->managed_map, find_managed_free(cm));
		cm->managed--;
		if (cm->online)
			m->global.managed--;
		set_available(m, c, cm->available + 1u);
	}
	return 0;
}

int ims__matrix_alloc_managed(struct ims__matrix *m, const struct ims_cpumask *mask, uint32_t *cpu)
{
	uint32_t c, best = NO_CPU, v;
	int rc = check_mask(m, mask);

	if (rc)
		return rc;
	for (c = ims_cpumask_next(mask, 0); c < m->nr_cpus; c = ims_cpumask_next(mask, c + 1)) {
		const struct matrix_cpu *cm = &m->cpus[c];

		if (cm->managed == cm->managed_allocated)
			continue;
		if (best == NO_CPU || cm->managed_allocated < m->cpus[best].managed_allocated)
			best = c;
	}
	if (best == NO_CPU)
		return -ENOSPC;
	v = find_managed_free(&m->cpus[best]);
	ims__set_bit(m->cpus[best].alloc_map, v);
	m->cpus[best].managed_allocated++;
	if (m->cpus[best].online)
		m->global.managed_allocated++;
	*cpu = best;
	return (int)v;
}

int ims__matrix_counts(const struct ims__matrix *m, int cpu, struct ims__matrix_counts *out)
{
	const struct matrix_cpu *cm;

	if (cpu < 0) {
		*out = m->global;
		return 0;
	}
	if ((uint32_t)cpu >= m->nr_cpus)
		return ims__error(-EINVAL, "matrix: CPU %d out of range (%u CPUs)", cpu, m->nr_cpus);
	cm = &m->cpus[cpu];
	memset(out, 0, sizeof(*out));
	out->available = cm->available;
	out->allocated = cm->allocated;
	out->managed = cm->managed;
	out->managed_allocated = cm->managed_allocated;
	out->system = cm->system;
	out->online = cm->online;
	return 0;
}

bool ims__matrix_is_allocated(const struct ims__matrix *m, uint32_t cpu, uint32_t vector)
{
	return cpu < m->nr_cpus && vector < IMS_X86_NR_VECTORS &&
	       ims__test_bit(m->cpus[cpu].alloc_map, vector);
}

static char vector_letter(const struct matrix_cpu *cm, uint32_t v)
{
	bool alloc = ims__test_bit(cm->alloc_map, v), managed = ims__test_bit(cm->managed_map, v);

	if (v < IMS_X86_FIRST_EXTERNAL_VECTOR)
		return 'E';
	if (ims__test_bit(cm->system_map, v))
		return 'S';
	if (managed)
		return alloc ? 'm' : 'M';
	return alloc ? 'A' : '.';
}

void ims__matrix_dump(const struct ims__matrix *m, FILE *f)
{
	const struct ims__matrix_counts *g = &m->global;

	fprintf(f, "matrix: %u CPUs, %u online; device vectors 0x%02x-0x%02x, system from 0x%02x\n",
		m->nr_cpus, g->online, IMS_X86_FIRST_EXTERNAL_VECTOR, m->first_system - 1,
		m->first_system);
	fprintf(f, "global: available %llu allocated %llu managed %llu managed_allocated %llu reserved %llu system %llu\n",
		(unsigned long long)g->available, (unsigned long long)g->allocated,
		(unsigned long long)g->managed, (unsigned long long)g->managed_allocated,
		(unsigned long long)g->reserved, (unsigned long long)g->system);
	fprintf(f, "legend: E exception, S system, A allocated, M managed free, m managed allocated, . free\n");
	for (uint32_t c = 0; c < m->nr_cpus; c++) {
		const struct matrix_cpu *cm = &m->cpus[c];

		fprintf(f, "cpu %u %s: available %u allocated %u managed %u managed_allocated %u system %u\n",
			c, cm->online ? "online" : "offline", cm->available, cm->allocated, cm->managed,
			cm->managed_allocated, cm->system);
		for (uint32_t row = 0; row < IMS_X86_NR_VECTORS; row += 64) {
			char line[65];

			for (uint32_t i = 0; i < 64; i++)
				line[i] = vector_letter(cm, row + i);
			line[64] = '\0';
			fprintf(f, "  0x%02x %s\n", row, line);
		}
	}
}

#define CHECK_EQ(what, have, want)                                                           \
	do {                                                                                 \
		if ((uint64_t)(have) != (uint64_t)(want))                                    \
			return ims__error(-EIO, "matrix check: %s is %llu, recount gives %llu", \
					  what, (unsigned long long)(have),                  \
					  (unsigned long long)(want));                       \
	} while (0)

/* The same for a per-CPU counter; the name is formatted only on a mismatch. */
#define CHECK_CPU_EQ(cpu, what, have, want)                                                  \
	do {                                                                                 \
		if ((uint64_t)(have) != (uint64_t)(want))                                    \
			return ims__error(-EIO, "matrix check: CPU %u %s is %llu, recount gives " \
					  "%llu", cpu, what, (unsigned long long)(have),     \
					  (unsigned long long)(want));                       \
	} while (0)

int ims__matrix_check(const struct ims__matrix *m)
{
	struct ims__matrix_counts sum = { 0 };
	uint32_t c, b, in_buckets = 0, max_nonempty = 0;

	for (c = 0; c < m->nr_cpus; c++) {
		const struct matrix_cpu *cm = &m->cpus[c];
		uint32_t v, avail = 0, alloc = 0, managed = 0, malloc_ = 0, sys = 0;

		for (v = 0; v < IMS_X86_NR_VECTORS; v++) {
			bool s = ims__test_bit(cm->system_map, v), a = ims__test_bit(cm->alloc_map, v);
			bool mg = ims__test_bit(cm->managed_map, v);
			bool want_sys = v >= m->first_system ||
					(c == 0 && v >= IMS_X86_LEGACY_FIRST && v <= IMS_X86_LEGACY_LAST);

			if (v < IMS_X86_FIRST_EXTERNAL_VECTOR) {
				if (s || a || mg)
					return ims__error(-EIO, "matrix check: CPU %u exception vector 0x%x is in use",
							  c, v);
				continue;
			}
			if (s != want_sys)
				return ims__error(-EIO, "matrix check: CPU %u vector 0x%x system bit is %d", c, v, s);
			if (s && (a || mg))
				return ims__error(-EIO, "matrix check: CPU %u system vector 0x%x is allocated", c, v);
			sys += s;
			managed += mg;
			malloc_ += mg && a;
			alloc += a && !mg;
			avail += !s && !mg && !a;
		}
		CHECK_CPU_EQ(c, "available", cm->available, avail);
		CHECK_CPU_EQ(c, "allocated", cm->allocated, alloc);
		CHECK_CPU_EQ(c, "managed", cm->managed, managed);
		CHECK_CPU_EQ(c, "managed_allocated", cm->managed_allocated, malloc_);
		CHECK_CPU_EQ(c, "system", cm->system, sys);
		CHECK_CPU_EQ(c, "online bit", ims__test_bit(m->online_map, c), cm->online);
		if (cm->online) {
			sum.available += avail;
			sum.allocated += alloc;
			sum.managed += managed;
			sum.managed_allocated += malloc_;
			sum.system += sys;
			sum.online++;
		}
	}
	CHECK_EQ("global available", m->global.available, sum.available);
	CHECK_EQ("global allocated", m->global.allocated, sum.allocated);
	CHECK_EQ("global managed", m->global.managed, sum.managed);
	CHECK_EQ("global managed_allocated", m->global.managed_allocated, sum.managed_allocated);
	CHECK_EQ("global system", m->global.system, sum.system);
	CHECK_EQ("global online", m->global.online, sum.online);
	for (b = 0; b < NR_BUCKETS; b++) {
		uint32_t prev = NO_CPU;

		for (c = m->head[b]; c != NO_CPU; prev = c, c = m->cpus[c].next) {
			if (m->cpus[c].available != b || !m->cpus[c].online)
				return ims__error(-EIO, "matrix check: CPU %u sits in bucket %u with %u "
						  "available, online %d", c, b, m->cpus[c].available,
						  m->cpus[c].online);
			if (m->cpus[c].prev != prev)
				return ims__error(-EIO, "matrix check: bucket %u: CPU %u back link is %u, "
						  "not %u", b, c, m->cpus[c].prev, prev);
			if (++in_buckets > m->nr_cpus)
				return ims__error(-EIO, "matrix check: bucket %u loops", b);
			max_nonempty = b;
		}
		if (m->tail[b] != prev)
			return ims__error(-EIO, "matrix check: bucket %u tail is %u, not %u", b,
					  m->tail[b], prev);
	}
	CHECK_EQ("CPUs in buckets", in_buckets, sum.online);
	CHECK_EQ("highest bucket", m->max_bucket, max_nonempty);
	return 0;
}
