/*
 * IMS storage under threads: a device thread signals slots (now and then
 * with another ADI's PASID) while the OS thread masks, rewrites and
 * unmasks them, through the BAR for the array and through shadows and
 * commands (some failing) for the queue variant. Proves, under TSan, that
 * every accepted signal is delivered at least once after it was raised,
 * every message seen is whole and belongs to its slot's owner, every
 * refused signal is counted, and the counters match what the sink saw.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "hw/ims/ims_array.h"
#include "hw/ims/ims_queue.h"
#include "hw/pci/config.h"

#define NR 32
#define SIGNALS 40000

static atomic_uint_fast64_t seq;
static atomic_uint_fast64_t delivered[NR];
static atomic_uint_fast64_t last_delivery[NR];
static atomic_uint_fast64_t bad_messages;
static atomic_uint_fast64_t sink_calls;
/* Both threads start together, so that their loops overlap. */
static pthread_barrier_t start;
/*
 * Each thread keeps going until the other has done a good part of its
 * work, so that the two loops overlap however they are scheduled.
 */
static atomic_bool device_done;
static atomic_uint os_rounds;
#define MIN_OS_ROUNDS 1000

static uint32_t addr_of(uint32_t slot)
{
	return 0xfee00000u | slot << 12;
}

static uint32_t pasid_of(uint32_t slot)
{
	return 0x100 + slot;
}

/* Checks the message is whole: address, data and PASID of one slot. */
static void sink_fn(void *ctx, const struct ims_hw_msi_write *w)
{
	uint32_t slot = (uint32_t)(w->addr >> 12) & 0xff;

	(void)ctx;
	atomic_fetch_add(&sink_calls, 1);
	if (slot >= NR || w->addr != addr_of(slot) || (w->data & 0xffff) != slot ||
	    !w->pasid_valid || w->pasid != pasid_of(slot) || w->rid != 0x0500) {
		atomic_fetch_add(&bad_messages, 1);
		return;
	}
	atomic_fetch_add(&delivered[slot], 1);
	atomic_store(&last_delivery[slot], atomic_fetch_add(&seq, 1) + 1);
}

static void reset_counters(void)
{
	atomic_store(&seq, 0);
	atomic_store(&bad_messages, 0);
	atomic_store(&sink_calls, 0);
	atomic_store(&device_done, false);
	atomic_store(&os_rounds, 0);
	for (int i = 0; i < NR; i++) {
		atomic_store(&delivered[i], 0);
		atomic_store(&last_delivery[i], 0);
	}
}

typedef int (*signal_fn)(void *store, uint32_t slot, bool pasid_valid, uint32_t pasid);

struct device_run {
	void *store;
	signal_fn signal;
	uint64_t last_signal[NR];	/* seq just before the last accepted signal */
	uint64_t accepted, refused_seen;
	uint64_t bad_returns;
};

static void *device_thread(void *arg)
{
	struct device_run *r = arg;
	unsigned int seed = 99;

	pthread_barrier_wait(&start);
	for (int n = 0; n < SIGNALS || atomic_load(&os_rounds) < MIN_OS_ROUNDS; n++) {
		uint32_t slot = (uint32_t)rand_r(&seed) % NR;
		bool wrong = n % 17 == 0;
		uint64_t before = atomic_fetch_add(&seq, 1) + 1;
		int err = r->signal(r->store, slot, true, wrong ? pasid_of((slot + 1) % NR) :
							pasid_of(slot));

		if (wrong) {
			r->refused_seen += err == -EPERM;
			r->bad_returns += err != -EPERM;
		} else {
			r->accepted++;
			r->bad_returns += err != 0;
			r->last_signal[slot] = before;
		}
	}
	atomic_store(&device_done, true);
	return NULL;
}

static int array_signal(void *store, uint32_t slot, bool pv, uint32_t pasid)
{
	return ims__hw_ims_array_signal(store, slot, pv, pasid);
}

static int queue_signal(void *store, uint32_t slot, bool pv, uint32_t pasid)
{
	return ims__hw_ims_queue_signal(store, slot, pv, pasid);
}

static void check_run(const struct device_run *r, const struct ims_hw_ims_stats *st)
{
	assert_int_equal(r->bad_returns, 0);
	assert_int_equal(atomic_load(&bad_messages), 0);
	assert_int_equal(st->refused, r->refused_seen);
	assert_int_equal(st->sent, atomic_load(&sink_calls));
	assert_int_equal(st->dropped, 0);
	/* A message is a signal sent at once or a latch delivered later. */
	assert_true(st->sent <= r->accepted);
	assert_true(st->latched <= r->accepted);
	for (int i = 0; i < NR; i++) {
		if (!r->last_signal[i])
			continue;
		/* Delivered at least once after the last signal was raised. */
		assert_true(atomic_load(&last_delivery[i]) > r->last_signal[i]);
	}
}

/* ---- array ---- */

struct array_os {
	struct ims_hw_pci_cfg *cfg;
};

static void awr(struct ims_hw_pci_cfg *cfg, uint32_t slot, uint32_t field, uint32_t v)
{
	assert_int_equal(ims__hw_pci_mmio_write(cfg, 0, 16ull * slot + field, 4, v), 0);
}

static uint32_t ctrl_of(uint32_t slot, bool masked)
{
	return IMS_SLOT_CTRL_PASID_EN | pasid_of(slot) << IMS_SLOT_CTRL_PASID_SHIFT |
	       (masked ? IMS_SLOT_CTRL_MASKBIT : 0);
}

static void *array_os_thread(void *arg)
{
	struct array_os *os = arg;
	unsigned int seed = 7;
	uint64_t v;

	pthread_barrier_wait(&start);
	for (uint32_t gen = 1; !atomic_load(&device_done); gen++, atomic_fetch_add(&os_rounds, 1)) {
		uint32_t slot = (uint32_t)rand_r(&seed) % NR;

		awr(os->cfg, slot, IMS_SLOT_CTRL, ctrl_of(slot, true));
		awr(os->cfg, slot, IMS_SLOT_DATA, slot | gen << 16);
		if (rand_r(&seed) % 4)
			awr(os->cfg, slot, IMS_SLOT_CTRL, ctrl_of(slot, false));
		assert_int_equal(ims__hw_pci_mmio_read(os->cfg, 0, 16ull * slot + IMS_SLOT_CTRL, 4,
						       &v), 0);
	}
	return NULL;
}

static void array_signals_race_with_mask_and_rewrite(void **state)
{
	struct ims_hw_pci_cfg_params cp = { .vendor_id = 0x8086, .rid = 0x0500 };
	struct ims_hw_ims_array_params ap = { NR, 0x0500 };
	struct ims_hw_msi_sink sink = { sink_fn, NULL };
	struct device_run run = { 0 };
	struct ims_hw_ims_stats st;
	struct ims_hw_ims_array *arr;
	struct ims_hw_pci_cfg *cfg;
	struct ims_hw_mmio_region r;
	struct array_os os;
	pthread_t dev, ost;

	(void)state;
	reset_counters();
	assert_int_equal(ims__hw_pci_cfg_create(&cp, &cfg), 0);
	assert_int_equal(ims__hw_pci_bar_add(cfg, 0, 0x1000, 0), 0);
	assert_int_equal(ims__hw_ims_array_create(&ap, &sink, &arr), 0);
	ims__hw_ims_array_region(arr, &r);
	assert_int_equal(ims__hw_pci_bar_map(cfg, 0, 0, &r), 0);
	assert_int_equal(ims__hw_pci_cfg_write(cfg, IMS_PCI_COMMAND, 2, IMS_PCI_COMMAND_MEMORY), 0);
	for (uint32_t i = 0; i < NR; i++) {
		awr(cfg, i, IMS_SLOT_ADDR_LO, addr_of(i));
		awr(cfg, i, IMS_SLOT_DATA, i);
		awr(cfg, i, IMS_SLOT_CTRL, ctrl_of(i, false));
	}
	os.cfg = cfg;
	run.store = arr;
	run.signal = array_signal;
	assert_int_equal(pthread_create(&dev, NULL, device_thread, &run), 0);
	assert_int_equal(pthread_create(&ost, NULL, array_os_thread, &os), 0);
	pthread_join(ost, NULL);
	pthread_join(dev, NULL);
	/* Unmask everything: what was held comes out now. */
	for (uint32_t i = 0; i < NR; i++)
		awr(cfg, i, IMS_SLOT_CTRL, ctrl_of(i, false));
	ims__hw_ims_array_get_stats(arr, &st);
	check_run(&run, &st);
	print_message("array: %llu accepted, %llu sent, %llu latched, %llu refused\n",
		      (unsigned long long)run.accepted, (unsigned long long)st.sent,
		      (unsigned long long)st.latched, (unsigned long long)st.refused);
	for (uint32_t i = 0; i < NR; i++)
		assert_false(ims__hw_ims_array_pending(arr, i));
	ims__hw_ims_array_destroy(arr);
	ims__hw_pci_cfg_destroy(cfg);
}

/* ---- queue ---- */

static void *queue_os_thread(void *arg)
{
	struct ims_hw_ims_queue *q = arg;
	unsigned int seed = 11;

	pthread_barrier_wait(&start);
	for (uint32_t gen = 1; !atomic_load(&device_done); gen++, atomic_fetch_add(&os_rounds, 1)) {
		uint32_t slot = (uint32_t)rand_r(&seed) % NR;
		uint32_t cmd = IMS_QUEUE_CMD_OP_LOAD_IRQ << IMS_QUEUE_CMD_OP_SHIFT | slot;

		ims__hw_ims_queue_shadow_write(q, slot, IMS_SLOT_CTRL, ctrl_of(slot, true));
		while (ims__hw_ims_queue_command(q, cmd) != IMS_QUEUE_STATUS_OK)
			;
		ims__hw_ims_queue_shadow_write(q, slot, IMS_SLOT_DATA, slot | gen << 16);
		if (rand_r(&seed) % 4)
			ims__hw_ims_queue_shadow_write(q, slot, IMS_SLOT_CTRL, ctrl_of(slot, false));
		/* A failed command leaves the old message; the loop retries. */
		while (ims__hw_ims_queue_command(q, cmd) != IMS_QUEUE_STATUS_OK)
			;
	}
	return NULL;
}

static void queue_signals_race_with_shadow_writes_and_failing_commands(void **state)
{
	struct ims_hw_ims_queue_params qp = { NR, 0x0500 };
	struct ims_hw_msi_sink sink = { sink_fn, NULL };
	struct device_run run = { 0 };
	struct ims_hw_ims_stats st;
	struct ims_hw_ims_queue *q;
	pthread_t dev, ost;

	(void)state;
	reset_counters();
	assert_int_equal(ims__hw_ims_queue_create(&qp, &sink, &q), 0);
	for (uint32_t i = 0; i < NR; i++) {
		ims__hw_ims_queue_shadow_write(q, i, IMS_SLOT_ADDR_LO, addr_of(i));
		ims__hw_ims_queue_shadow_write(q, i, IMS_SLOT_DATA, i);
		ims__hw_ims_queue_shadow_write(q, i, IMS_SLOT_CTRL, ctrl_of(i, false));
		assert_int_equal(ims__hw_ims_queue_command(q, IMS_QUEUE_CMD_OP_LOAD_IRQ <<
							   IMS_QUEUE_CMD_OP_SHIFT | i),
				 IMS_QUEUE_STATUS_OK);
	}
	run.store = q;
	run.signal = queue_signal;
	/* One command in eight fails (no allocation happens meanwhile). */
	ims_fault_arm_rate(8, 1234);
	assert_int_equal(pthread_create(&dev, NULL, device_thread, &run), 0);
	assert_int_equal(pthread_create(&ost, NULL, queue_os_thread, q), 0);
	pthread_join(ost, NULL);
	pthread_join(dev, NULL);
	ims_fault_disarm();
	assert_true(ims_fault_injected() > 0);
	for (uint32_t i = 0; i < NR; i++) {
		ims__hw_ims_queue_shadow_write(q, i, IMS_SLOT_CTRL, ctrl_of(i, false));
		assert_int_equal(ims__hw_ims_queue_command(q, IMS_QUEUE_CMD_OP_LOAD_IRQ <<
							   IMS_QUEUE_CMD_OP_SHIFT | i),
				 IMS_QUEUE_STATUS_OK);
	}
	ims__hw_ims_queue_get_stats(q, &st);
	check_run(&run, &st);
	print_message("queue: %llu accepted, %llu sent, %llu latched, %llu refused, %llu commands failed\n",
		      (unsigned long long)run.accepted, (unsigned long long)st.sent,
		      (unsigned long long)st.latched, (unsigned long long)st.refused,
		      (unsigned long long)ims_fault_injected());
	for (uint32_t i = 0; i < NR; i++)
		assert_false(ims__hw_ims_queue_pending(q, i));
	ims__hw_ims_queue_destroy(q);
}

int main(void)
{
	int rc;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(array_signals_race_with_mask_and_rewrite),
		cmocka_unit_test(queue_signals_race_with_shadow_writes_and_failing_commands),
	};

	pthread_barrier_init(&start, NULL, 2);
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	pthread_barrier_destroy(&start);
	return rc;
}
