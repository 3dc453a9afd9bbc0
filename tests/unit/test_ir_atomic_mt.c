/*
 * Entry updates are atomic with respect to the unit's reads. A writer flips
 * one entry between a remapped entry A and a posted entry B with 128-bit
 * stores, while readers send requests through the unit and read the entry
 * raw. A and B are chosen so that any mix of halves is an invalid entry: A's
 * low half with B's high half sets reserved bits 127:96 of the remapped
 * format, and B's low half with A's high half names a posted descriptor
 * below 4 GiB, outside DMA memory. So a reader that ever saw half an entry
 * would record a fault. Run with and without the entry cache (the cache
 * variant also invalidates after each write, racing fills against
 * invalidations). Run under `make tsan` too.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "ir_env.h"

#define WRITES 20000u
#define READERS 3

struct mt {
	struct ir_env *e;
	uint64_t a_lo, a_hi, b_lo, b_hi;
	atomic_bool done;
	atomic_uint_fast64_t remapped, posted, torn_raw, failed, sent;
};

static int count_sink(void *ctx, const struct ims_hw_apic_irq *irq)
{
	struct mt *m = ctx;

	(void)irq;
	atomic_fetch_add_explicit(&m->sent, 1, memory_order_relaxed);
	return 1;
}

static void *reader(void *arg)
{
	struct mt *m = arg;
	struct ims_ir_outcome out;
	uint64_t n = 0;

	while (!atomic_load_explicit(&m->done, memory_order_acquire) || n < 1000) {
		struct ims_u128 v = ims__atomic128_load(&m->e->table[2]);

		if (!((v.lo == m->a_lo && v.hi == m->a_hi) || (v.lo == m->b_lo && v.hi == m->b_hi)))
			atomic_fetch_add(&m->torn_raw, 1);
		if (ir_raise(m->e, 1, true, 0, 0x0300, &out) != 0)
			atomic_fetch_add(&m->failed, 1);
		else if (out.kind == IMS_IR_OUT_REMAPPED)
			atomic_fetch_add_explicit(&m->remapped, 1, memory_order_relaxed);
		else
			atomic_fetch_add_explicit(&m->posted, 1, memory_order_relaxed);
		n++;
	}
	return NULL;
}

/* The writer's own queue submission (no cmocka asserts off the main thread). */
static void writer_invalidate(struct ir_env *e, uint32_t index)
{
	e->iq[e->iq_tail * 2] = IMS_IR_QI_IEC | IMS_IR_QI_IEC_INDEX | (uint64_t)index << IMS_IR_QI_IEC_IIDX_SHIFT;
	e->iq[e->iq_tail * 2 + 1] = 0;
	e->iq_tail = (e->iq_tail + 1) % 256;
	ims__ir_unit_write(e->u, IMS_IR_REG_IQT, (uint64_t)e->iq_tail << IMS_IR_IQ_SHIFT);
}

static void run(uint32_t flags)
{
	struct mt m = { 0 };
	struct ims_hw_apic_sink sink = { count_sink, &m };
	struct ims_irte a = { .present = true, .vector = 0x41, .dest = 0x12345678, .svt = 0 };
	struct ims_irte b = { .present = true, .posted = true, .vector = 0x42, .sid = 0x0300, .svt = 1 };
	pthread_t th[READERS];
	struct ims_ir_unit_stats st;

	m.e = ir_env_new_sink(3, flags, true, false, 0, 0, &sink);
	b.pda = ims__dma_addr(m.e->pids);
	assert_true(b.pda >> 32);	/* the mixes below rely on a high address */
	assert_int_equal(ims_irte_encode(&a, &m.a_lo, &m.a_hi), 0);
	assert_int_equal(ims_irte_encode(&b, &m.b_lo, &m.b_hi), 0);
	assert_true(m.b_hi >> 32);
	ims_pid_init(m.e->pids, 0xf0, 1, true);
	ir_set(m.e, 1, m.a_lo, m.a_hi);
	atomic_init(&m.done, false);
	for (int i = 0; i < READERS; i++)
		assert_int_equal(pthread_create(&th[i], NULL, reader, &m), 0);
	for (uint32_t w = 0; w < WRITES; w++) {
		if (w & 1)
			ir_set(m.e, 1, m.a_lo, m.a_hi);
		else
			ir_set(m.e, 1, m.b_lo, m.b_hi);
		if (!(flags & IMS_HW_IR_NO_CACHE))
			writer_invalidate(m.e, 1);
		if ((w & 1023) == 0) {
			uint64_t pir[4];

			ims_pid_take(m.e->pids, pir);
		}
	}
	atomic_store_explicit(&m.done, true, memory_order_release);
	for (int i = 0; i < READERS; i++)
		pthread_join(th[i], NULL);
	assert_int_equal(atomic_load(&m.torn_raw), 0);
	assert_int_equal(atomic_load(&m.failed), 0);
	ims__ir_unit_stats(m.e->u, &st);
	for (int i = 0; i < IMS_IR_FAULT_NR; i++)
		assert_int_equal(st.faults[i], 0);
	assert_int_equal(st.remapped + st.posted, atomic_load(&m.remapped) + atomic_load(&m.posted));
	assert_int_equal(atomic_load(&m.sent), st.remapped + st.notifications);
	printf("flags %#x: %llu remapped, %llu posted, %llu cache hits, %llu index invalidations\n", flags,
	       (unsigned long long)st.remapped, (unsigned long long)st.posted,
	       (unsigned long long)st.cache_hits, (unsigned long long)st.inv_index);
	ir_env_free(m.e);
}

/*
 * The first 64 threads that use a unit get their own in-flight marker and
 * statistics shard; later ones share the fallback counters. 80 threads, so
 * both kinds race the writer's invalidations; counts must stay exact.
 */
#define MANY 80

static void *short_reader(void *arg)
{
	struct mt *m = arg;
	struct ims_ir_outcome out;

	for (int n = 0; n < 300; n++) {
		if (ir_raise(m->e, 1, true, 0, 0x0300, &out) != 0)
			atomic_fetch_add(&m->failed, 1);
		else if (out.kind == IMS_IR_OUT_REMAPPED)
			atomic_fetch_add_explicit(&m->remapped, 1, memory_order_relaxed);
		else
			atomic_fetch_add_explicit(&m->posted, 1, memory_order_relaxed);
	}
	return NULL;
}

static void *flipper(void *arg)
{
	struct mt *m = arg;

	for (uint32_t w = 0; !atomic_load(&m->done); w++) {
		if (w & 1)
			ir_set(m->e, 1, m->a_lo, m->a_hi);
		else
			ir_set(m->e, 1, m->b_lo, m->b_hi);
		writer_invalidate(m->e, 1);
	}
	return NULL;
}

static void threads_beyond_the_shards_count_exactly(void **state)
{
	struct mt m = { 0 };
	struct ims_hw_apic_sink sink = { count_sink, &m };
	struct ims_irte a = { .present = true, .vector = 0x41, .dest = 0x12345678 };
	struct ims_irte b = { .present = true, .posted = true, .vector = 0x42, .sid = 0x0300, .svt = 1 };
	struct ims_ir_unit_stats st;
	pthread_t flip, th[MANY];

	(void)state;
	m.e = ir_env_new_sink(3, 0, true, false, 0, 0, &sink);
	b.pda = ims__dma_addr(m.e->pids);
	assert_int_equal(ims_irte_encode(&a, &m.a_lo, &m.a_hi), 0);
	assert_int_equal(ims_irte_encode(&b, &m.b_lo, &m.b_hi), 0);
	ims_pid_init(m.e->pids, 0xf0, 1, true);
	ir_set(m.e, 1, m.a_lo, m.a_hi);
	atomic_init(&m.done, false);
	assert_int_equal(pthread_create(&flip, NULL, flipper, &m), 0);
	/* In waves, so that no more than 16 run at once on a small machine. */
	for (int wave = 0; wave < MANY; wave += 16) {
		for (int i = wave; i < wave + 16 && i < MANY; i++)
			assert_int_equal(pthread_create(&th[i], NULL, short_reader, &m), 0);
		for (int i = wave; i < wave + 16 && i < MANY; i++)
			pthread_join(th[i], NULL);
	}
	atomic_store(&m.done, true);
	pthread_join(flip, NULL);
	assert_int_equal(atomic_load(&m.failed), 0);
	ims__ir_unit_stats(m.e->u, &st);
	assert_int_equal(st.remapped, atomic_load(&m.remapped));
	assert_int_equal(st.posted, atomic_load(&m.posted));
	assert_int_equal(st.remapped + st.posted, MANY * 300);
	assert_int_equal(st.cache_hits + st.cache_misses, MANY * 300);
	ir_env_free(m.e);
}

static void reader_never_sees_half_an_entry_uncached(void **state)
{
	(void)state;
	run(IMS_HW_IR_NO_CACHE);
}

static void reader_never_sees_half_an_entry_with_cache_and_invalidation(void **state)
{
	(void)state;
	run(0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(reader_never_sees_half_an_entry_uncached),
		cmocka_unit_test(reader_never_sees_half_an_entry_with_cache_and_invalidation),
		cmocka_unit_test(threads_beyond_the_shards_count_exactly),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
