/*
 * The vector matrix: counters at rest, exhaustion and recovery, spreading
 * over CPUs, managed reservations, CPU offline, refusals that change
 * nothing, fault injection at creation, and a seeded run of 10^5 random
 * operations checked against a shadow model and a recount of every
 * counter. Also prints the cost of an allocation at 4 and at 4,096 CPUs
 * (printed, never asserted).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "os/x86/matrix.h"
#include "util/cpumask.h"

#define DEV_VECTORS (0xec - 0x20)	/* 204 */

static struct ims_cpumask *mask_of(uint32_t nr, const char *list)
{
	struct ims_cpumask *m = ims_cpumask_create(nr);

	assert_non_null(m);
	assert_int_equal(ims_cpumask_parse(m, list), 0);
	return m;
}

static void counts(struct ims__matrix *m, int cpu, struct ims__matrix_counts *c)
{
	assert_int_equal(ims__matrix_counts(m, cpu, c), 0);
}

static void matrix_counts_at_rest(void **state)
{
	struct ims__matrix *m;
	struct ims__matrix_counts c;

	(void)state;
	assert_int_equal(ims__matrix_create(4, 0, &m), 0);
	counts(m, 0, &c);
	assert_int_equal(c.system, 20 + 16);	/* top and legacy */
	assert_int_equal(c.available, DEV_VECTORS - 16);
	counts(m, 3, &c);
	assert_int_equal(c.system, 20);
	assert_int_equal(c.available, DEV_VECTORS);
	counts(m, -1, &c);
	assert_int_equal(c.online, 4);
	assert_int_equal(c.available, 4 * DEV_VECTORS - 16);
	assert_int_equal(c.system, 4 * 20 + 16);
	assert_int_equal(c.allocated + c.managed + c.managed_allocated + c.reserved, 0);
	assert_int_equal(ims__matrix_check(m), 0);
	ims__matrix_destroy(m);

	/* The first system vector is a parameter. */
	assert_int_equal(ims__matrix_create(2, 0xeb, &m), 0);
	counts(m, 1, &c);
	assert_int_equal(c.system, 21);
	assert_int_equal(c.available, DEV_VECTORS - 1);
	ims__matrix_destroy(m);
}

static void matrix_alloc_exhausts_then_recovers(void **state)
{
	static uint8_t seen[4][256];
	struct ims__matrix *m;
	struct ims__matrix_counts c;
	uint32_t cpu, total = 0;
	int v;

	(void)state;
	memset(seen, 0, sizeof(seen));
	assert_int_equal(ims__matrix_create(4, 0, &m), 0);
	while ((v = ims__matrix_alloc(m, NULL, &cpu)) >= 0) {
		assert_true(v >= 0x20 && v < 0xec);
		assert_false(cpu == 0 && v >= 0x30 && v <= 0x3f);
		assert_int_equal(seen[cpu][v], 0);	/* never twice */
		seen[cpu][v] = 1;
		total++;
	}
	assert_int_equal(v, -ENOSPC);
	assert_int_equal(total, 4 * DEV_VECTORS - 16);
	counts(m, -1, &c);
	assert_int_equal(c.available, 0);
	assert_int_equal(c.allocated, total);
	assert_int_equal(ims__matrix_check(m), 0);
	/* A restricted mask is full too. */
	{
		struct ims_cpumask *mk = mask_of(4, "1-2");

		assert_int_equal(ims__matrix_alloc(m, mk, &cpu), -ENOSPC);
		ims_cpumask_destroy(mk);
	}
	/* Free one: exactly that one comes back. */
	assert_int_equal(ims__matrix_free(m, 2, 0x77), 0);
	assert_int_equal(ims__matrix_alloc(m, NULL, &cpu), 0x77);
	assert_int_equal(cpu, 2);
	for (cpu = 0; cpu < 4; cpu++)
		for (v = 0; v < 256; v++)
			if (seen[cpu][v])
				assert_int_equal(ims__matrix_free(m, cpu, (uint32_t)v), 0);
	counts(m, -1, &c);
	assert_int_equal(c.available, 4 * DEV_VECTORS - 16);
	assert_int_equal(c.allocated, 0);
	assert_int_equal(ims__matrix_check(m), 0);
	assert_true(ims__matrix_alloc(m, NULL, &cpu) >= 0x20);
	ims__matrix_destroy(m);
}

static void matrix_alloc_spreads_over_cpus(void **state)
{
	struct ims__matrix *m;
	struct ims__matrix_counts c;
	struct ims_cpumask *mk;
	uint32_t cpu, per[8] = { 0 };
	int i;

	(void)state;
	assert_int_equal(ims__matrix_create(8, 0, &m), 0);
	/* CPU 0 starts 16 behind (legacy): it is skipped until the others catch up. */
	for (i = 0; i < 7 * 16; i++) {
		assert_true(ims__matrix_alloc(m, NULL, &cpu) >= 0);
		assert_int_not_equal(cpu, 0);
		per[cpu]++;
	}
	for (i = 1; i < 8; i++)
		assert_int_equal(per[i], 16);
	/* Now all are equal: the next 8 * 10 go 10 to each. */
	memset(per, 0, sizeof(per));
	for (i = 0; i < 80; i++) {
		assert_true(ims__matrix_alloc(m, NULL, &cpu) >= 0);
		per[cpu]++;
	}
	for (i = 0; i < 8; i++)
		assert_int_equal(per[i], 10);
	/* Restricted to two CPUs: alternates between them. */
	mk = mask_of(8, "3,5");
	memset(per, 0, sizeof(per));
	for (i = 0; i < 20; i++) {
		assert_true(ims__matrix_alloc(m, mk, &cpu) >= 0);
		assert_true(cpu == 3 || cpu == 5);
		per[cpu]++;
	}
	assert_int_equal(per[3], 10);
	assert_int_equal(per[5], 10);
	/* A mask that holds every CPU takes the bucket path and still spreads. */
	ims_cpumask_setall(mk);
	memset(per, 0, sizeof(per));
	for (i = 0; i < 12; i++) {
		assert_true(ims__matrix_alloc(m, mk, &cpu) >= 0);
		per[cpu]++;
	}
	for (i = 0; i < 8; i++)
		assert_true(per[i] == (i == 3 || i == 5 ? 0u : 2u));
	counts(m, 0, &c);
	assert_int_equal(c.allocated, 12);
	assert_int_equal(ims__matrix_check(m), 0);
	ims_cpumask_destroy(mk);
	ims__matrix_destroy(m);
}

static void matrix_managed_reservations(void **state)
{
	struct ims__matrix *m;
	struct ims__matrix_counts c, before;
	struct ims_cpumask *mk = mask_of(4, "0-1"), *one = mask_of(4, "1");
	uint32_t cpu;
	int v, v2;

	(void)state;
	assert_int_equal(ims__matrix_create(4, 0, &m), 0);
	assert_int_equal(ims__matrix_reserve_managed(m, mk), 0);
	counts(m, 1, &c);
	assert_int_equal(c.managed, 1);
	assert_int_equal(c.managed_allocated, 0);
	assert_int_equal(c.available, DEV_VECTORS - 1);
	counts(m, -1, &c);
	assert_int_equal(c.managed, 2);
	/* A managed vector comes from the reservation; available does not move. */
	v = ims__matrix_alloc_managed(m, one, &cpu);
	assert_true(v >= 0x20);
	assert_int_equal(cpu, 1);
	counts(m, 1, &c);
	assert_int_equal(c.managed_allocated, 1);
	assert_int_equal(c.available, DEV_VECTORS - 1);
	/* Only one was set aside on CPU 1. */
	assert_int_equal(ims__matrix_alloc_managed(m, one, &cpu), -ENOSPC);
	/* Non-managed allocations never take a managed vector. */
	for (int i = 0; i < DEV_VECTORS - 1; i++) {
		v2 = ims__matrix_alloc(m, one, &cpu);
		assert_int_not_equal(v2, v);
	}
	assert_int_equal(ims__matrix_alloc(m, one, &cpu), -ENOSPC);
	/* Releasing the reservation while it is allocated is refused, changing nothing. */
	counts(m, -1, &before);
	assert_int_equal(ims__matrix_remove_managed(m, mk), -EBUSY);
	counts(m, -1, &c);
	assert_memory_equal(&c, &before, sizeof(c));
	/* Reserving on a full CPU fails for the whole mask. */
	assert_int_equal(ims__matrix_reserve_managed(m, mk), -ENOSPC);
	counts(m, 0, &c);
	assert_int_equal(c.managed, 1);
	assert_int_equal(ims__matrix_check(m), 0);
	assert_int_equal(ims__matrix_free(m, 1, (uint32_t)v), 0);
	counts(m, 1, &c);
	assert_int_equal(c.managed, 1);
	assert_int_equal(c.managed_allocated, 0);
	assert_int_equal(ims__matrix_remove_managed(m, mk), 0);
	counts(m, -1, &c);
	assert_int_equal(c.managed, 0);
	/* Freed managed vector went back to available on CPU 1 */
	counts(m, 1, &c);
	assert_int_equal(c.available, 1);
	assert_int_equal(ims__matrix_check(m), 0);
	ims_cpumask_destroy(mk);
	ims_cpumask_destroy(one);
	ims__matrix_destroy(m);
}

static void matrix_offline_refuses_while_allocated(void **state)
{
	struct ims__matrix *m;
	struct ims__matrix_counts c, before;
	struct ims_cpumask *two = mask_of(4, "2");
	uint32_t cpu;
	int v;

	(void)state;
	assert_int_equal(ims__matrix_create(4, 0, &m), 0);
	v = ims__matrix_alloc(m, two, &cpu);
	assert_int_equal(cpu, 2);
	counts(m, -1, &before);
	assert_int_equal(ims__matrix_offline(m, 2), -EBUSY);
	assert_non_null(strstr(ims_last_error(), "CPU 2"));
	counts(m, -1, &c);
	assert_memory_equal(&c, &before, sizeof(c));
	assert_int_equal(ims__matrix_free(m, 2, (uint32_t)v), 0);
	assert_int_equal(ims__matrix_offline(m, 2), 0);
	assert_false(ims__matrix_cpu_online(m, 2));
	counts(m, -1, &c);
	assert_int_equal(c.online, 3);
	assert_int_equal(c.available, 3 * DEV_VECTORS - 16);
	assert_int_equal(ims__matrix_check(m), 0);
	/* Nothing lands on an offline CPU. */
	assert_int_equal(ims__matrix_alloc(m, two, &cpu), -EINVAL);
	for (int i = 0; i < 300; i++) {
		assert_true(ims__matrix_alloc(m, NULL, &cpu) >= 0);
		assert_int_not_equal(cpu, 2);
	}
	assert_int_equal(ims__matrix_offline(m, 2), -EINVAL);
	assert_int_equal(ims__matrix_online(m, 2), 0);
	assert_int_equal(ims__matrix_online(m, 2), -EINVAL);
	/* Back online with the most available: it takes the next one. */
	assert_true(ims__matrix_alloc(m, NULL, &cpu) >= 0);
	assert_int_equal(cpu, 2);
	assert_int_equal(ims__matrix_check(m), 0);
	ims_cpumask_destroy(two);
	ims__matrix_destroy(m);
}

static void matrix_bad_input_changes_nothing(void **state)
{
	struct ims__matrix *m;
	struct ims__matrix_counts c, before;
	struct ims_cpumask *wrong = mask_of(8, "1");
	uint32_t cpu;
	uint64_t warns;

	(void)state;
	assert_int_equal(ims__matrix_create(0, 0, &m), -EINVAL);
	assert_int_equal(ims__matrix_create(4, 0x3f, &m), -EINVAL);
	assert_non_null(strstr(ims_last_error(), "first system vector"));
	assert_int_equal(ims__matrix_create(4, 0x101, &m), -EINVAL);
	assert_int_equal(ims__matrix_create(4, 0, &m), 0);
	counts(m, -1, &before);
	warns = ims_warn_count();
	assert_int_equal(ims__matrix_free(m, 1, 0x40), -EINVAL);
	assert_int_equal(ims__matrix_free(m, 1, 0x40), -EINVAL);
	assert_int_equal(ims_warn_count(), warns + 2);	/* logged once, counted twice */
	assert_int_equal(ims__matrix_free(m, 9, 0x40), -EINVAL);
	assert_int_equal(ims__matrix_free(m, 1, 300), -EINVAL);
	assert_int_equal(ims__matrix_alloc(m, wrong, &cpu), -EINVAL);
	assert_int_equal(ims__matrix_reserve_managed(m, wrong), -EINVAL);
	assert_int_equal(ims__matrix_remove_reserve(m), -EINVAL);
	assert_int_equal(ims__matrix_counts(m, 4, &c), -EINVAL);
	counts(m, -1, &c);
	assert_memory_equal(&c, &before, sizeof(c));
	ims__matrix_reserve(m);
	counts(m, -1, &c);
	assert_int_equal(c.reserved, 1);
	assert_int_equal(ims__matrix_remove_reserve(m), 0);
	assert_int_equal(ims__matrix_check(m), 0);
	ims_cpumask_destroy(wrong);
	ims__matrix_destroy(m);
}

static void matrix_create_fails_cleanly_at_every_allocation(void **state)
{
	struct ims_mem_stats before, after;
	struct ims__matrix *m;
	int n, rc;

	(void)state;
	for (n = 1;; n++) {
		ims_mem_stats(&before);
		ims_fault_arm_nth((uint64_t)n, "x86_matrix");
		rc = ims__matrix_create(16, 0, &m);
		ims_fault_disarm();
		if (rc == 0)
			break;
		assert_int_equal(rc, -ENOMEM);
		ims_mem_stats(&after);
		assert_int_equal(after.bytes, before.bytes);
	}
	assert_true(n > 1);
	ims__matrix_destroy(m);
}

static void matrix_dump_shows_every_counter(void **state)
{
	struct ims__matrix *m;
	struct ims_cpumask *one = mask_of(2, "1");
	char *buf = NULL;
	size_t len = 0;
	FILE *f;
	uint32_t cpu;

	(void)state;
	assert_int_equal(ims__matrix_create(2, 0, &m), 0);
	assert_int_equal(ims__matrix_reserve_managed(m, one), 0);
	assert_true(ims__matrix_alloc_managed(m, one, &cpu) >= 0);
	assert_int_equal(ims__matrix_alloc(m, one, &cpu), 0x21);
	ims__matrix_reserve(m);
	f = open_memstream(&buf, &len);
	assert_non_null(f);
	ims__matrix_dump(m, f);
	fclose(f);
	assert_non_null(strstr(buf, "global: available 390 allocated 1 managed 1 managed_allocated 1 reserved 1 system 56"));
	assert_non_null(strstr(buf, "cpu 1 online: available 202 allocated 1 managed 1 managed_allocated 1 system 20"));
	/* CPU 1: exceptions, then the managed allocated vector, then the allocated one. */
	assert_non_null(strstr(buf, "  0x00 EEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEmA.."));
	assert_non_null(strstr(buf, "  0x00 EEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEE................SSSSSSSSSSSSSSSS"));
	assert_non_null(strstr(buf, "  0xc0 ............................................SSSSSSSSSSSSSSSSSSSS"));
	free(buf);
	ims_cpumask_destroy(one);
	ims__matrix_destroy(m);
}

/* xorshift64*: a fixed seed gives the same run everywhere. */
static uint64_t rnd_state;
static uint64_t rnd(void)
{
	rnd_state ^= rnd_state >> 12;
	rnd_state ^= rnd_state << 25;
	rnd_state ^= rnd_state >> 27;
	return rnd_state * 0x2545f4914f6cdd1dull;
}

#define R_CPUS 16
struct held {
	uint32_t cpu;
	uint32_t vector;
};

static void matrix_random_ops_keep_every_counter(void **state)
{
	static uint8_t owner[R_CPUS][256];	/* shadow: 1 allocated */
	static struct held held[R_CPUS * 256];
	struct ims__matrix *m;
	struct ims_cpumask *mk = ims_cpumask_create(R_CPUS);
	struct ims__matrix_counts c;
	uint32_t nheld = 0, reserved = 0, cpu;
	unsigned long step, steps = 100000;
	int v;

	(void)state;
	memset(owner, 0, sizeof(owner));
	rnd_state = 0x1234567887654321ull;
	assert_int_equal(ims__matrix_create(R_CPUS, 0, &m), 0);
	for (step = 0; step < steps; step++) {
		uint64_t op = rnd() % 100;

		if (op < 40) {
			if (op < 25) {
				v = ims__matrix_alloc(m, NULL, &cpu);
			} else {
				ims_cpumask_zero(mk);
				ims_cpumask_set(mk, (uint32_t)(rnd() % R_CPUS));
				ims_cpumask_set(mk, (uint32_t)(rnd() % R_CPUS));
				v = ims__matrix_alloc(m, mk, &cpu);
			}
			if (v >= 0) {
				assert_int_equal(owner[cpu][v], 0);
				assert_true(ims__matrix_cpu_online(m, cpu));
				owner[cpu][v] = 1;
				held[nheld++] = (struct held){ cpu, (uint32_t)v };
			} else {
				assert_true(v == -ENOSPC || v == -EINVAL);
			}
		} else if (op < 75) {
			if (nheld) {
				uint32_t i = (uint32_t)(rnd() % nheld);

				assert_int_equal(ims__matrix_free(m, held[i].cpu, held[i].vector), 0);
				owner[held[i].cpu][held[i].vector] = 0;
				held[i] = held[--nheld];
			}
		} else if (op < 80) {
			ims__matrix_reserve(m);
			reserved++;
		} else if (op < 85) {
			if (reserved) {
				assert_int_equal(ims__matrix_remove_reserve(m), 0);
				reserved--;
			}
		} else if (op < 89) {
			ims_cpumask_zero(mk);
			ims_cpumask_set(mk, (uint32_t)(rnd() % R_CPUS));
			v = ims__matrix_reserve_managed(m, mk);
			assert_true(v == 0 || v == -ENOSPC);
		} else if (op < 92) {
			ims_cpumask_zero(mk);
			ims_cpumask_set(mk, (uint32_t)(rnd() % R_CPUS));
			v = ims__matrix_remove_managed(m, mk);
			assert_true(v == 0 || v == -EBUSY);
		} else if (op < 96) {
			ims_cpumask_zero(mk);
			ims_cpumask_set(mk, (uint32_t)(rnd() % R_CPUS));
			v = ims__matrix_alloc_managed(m, mk, &cpu);
			if (v >= 0) {
				assert_int_equal(owner[cpu][v], 0);
				owner[cpu][v] = 1;
				held[nheld++] = (struct held){ cpu, (uint32_t)v };
			} else {
				assert_int_equal(v, -ENOSPC);
			}
		} else {
			uint32_t c2 = (uint32_t)(rnd() % R_CPUS);

			if (ims__matrix_cpu_online(m, c2)) {
				v = ims__matrix_offline(m, c2);
				assert_true(v == 0 || v == -EBUSY);
			} else {
				assert_int_equal(ims__matrix_online(m, c2), 0);
			}
		}
		if (step % 1000 == 0)
			assert_int_equal(ims__matrix_check(m), 0);
	}
	if (ims__matrix_check(m))
		fail_msg("%s", ims_last_error());
	counts(m, -1, &c);
	assert_int_equal(c.reserved, reserved);
	for (cpu = 0; cpu < R_CPUS; cpu++)
		for (v = 0; v < 256; v++)
			assert_int_equal(ims__matrix_is_allocated(m, cpu, (uint32_t)v), owner[cpu][v]);
	print_message("random: %lu steps, %u vectors held at the end\n", steps, nheld);
	ims_cpumask_destroy(mk);
	ims__matrix_destroy(m);
}

static double alloc_free_ns(uint32_t nr_cpus)
{
	struct ims__matrix *m;
	struct timespec a, b;
	uint32_t *cpus, i, n = 200000, held = nr_cpus * 100;
	int *vecs;

	assert_int_equal(ims__matrix_create(nr_cpus, 0, &m), 0);
	cpus = calloc(held, sizeof(*cpus));
	vecs = calloc(held, sizeof(*vecs));
	/* Half full, then alloc/free pairs at steady state. */
	for (i = 0; i < held; i++)
		vecs[i] = ims__matrix_alloc(m, NULL, &cpus[i]);
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (i = 0; i < n; i++) {
		uint32_t k = i % held;

		ims__matrix_free(m, cpus[k], (uint32_t)vecs[k]);
		vecs[k] = ims__matrix_alloc(m, NULL, &cpus[k]);
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	assert_int_equal(ims__matrix_check(m), 0);
	free(cpus);
	free(vecs);
	ims__matrix_destroy(m);
	return ((double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec)) / n;
}

static void matrix_alloc_cost_printed_for_4_and_4096_cpus(void **state)
{
	(void)state;
	print_message("alloc+free: %.0f ns at 4 CPUs, %.0f ns at 4096 CPUs\n", alloc_free_ns(4),
		      alloc_free_ns(4096));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(matrix_counts_at_rest),
		cmocka_unit_test(matrix_alloc_exhausts_then_recovers),
		cmocka_unit_test(matrix_alloc_spreads_over_cpus),
		cmocka_unit_test(matrix_managed_reservations),
		cmocka_unit_test(matrix_offline_refuses_while_allocated),
		cmocka_unit_test(matrix_bad_input_changes_nothing),
		cmocka_unit_test(matrix_create_fails_cleanly_at_every_allocation),
		cmocka_unit_test(matrix_dump_shows_every_counter),
		cmocka_unit_test(matrix_random_ops_keep_every_counter),
		cmocka_unit_test(matrix_alloc_cost_printed_for_4_and_4096_cpus),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
