/*
 * IMS array in device memory. Register writes go straight to the slot; a
 * control write goes through ims__hw_slot_set_ctrl_locked(), which owns the
 * mask transitions, so a pending signal is sent on unmask and nowhere else.
 *
 * A signal of an unmasked slot whose PASID matches (every interrupt of a
 * working device) takes no lock: the signalling thread marks itself in
 * flight in its own shard, reads the slot, sends and leaves. Everything
 * else (a masked slot, a refused PASID, threads beyond the shards) takes
 * the lock as before. A write that changes a slot some signal may be
 * reading unlocked (any change while the slot is unmasked, and the mask
 * itself) waits, after its store, until no signal that began before it is
 * still in flight; the mark and the reads of the signal are ordered by an
 * asymmetric fence (util/fence.h). So, as with the lock: once a mask write
 * has returned no message of that slot leaves, and a message is never
 * made of parts of two different writes.
 */
#include <errno.h>
#include <sched.h>

#include "hw/dma.h"
#include "hw/ims/ims_array.h"
#include "util/alloc.h"
#include "util/compiler.h"
#include "util/fence.h"
#include "util/lock.h"
#include "util/log.h"

#define IMS_ARRAY_MAX_SLOTS (1u << 20)
#define SHARDS 64

/* One thread's signals: odd while one is in flight; messages it sent. */
struct signal_shard {
	atomic_uint_fast64_t inside;
	atomic_uint_fast64_t sent;
	char pad[64 - 2 * sizeof(atomic_uint_fast64_t)];
};

struct ims_hw_ims_array {
	uint32_t nr;
	/*
	 * Guards pending, stats, and the writes to slots (the lock-free
	 * signal only reads them). The locked signal path takes it alone;
	 * MMIO takes it inside the config lock of the BAR's function. The
	 * sink is called under it from the locked paths.
	 */
	ims_spinlock_t lock;
	struct ims_hw_slot_out out;
	struct ims_hw_ims_stats stats;	/* sent: of the locked paths only */
	struct ims_hw_slot *slots;
	bool *pending;
	struct signal_shard shards[SHARDS] __attribute__((aligned(64)));
};

static atomic_uint next_thread;
/* This thread's shard: 1 + index; 0 not yet chosen. */
static _Thread_local unsigned int thread_shard __attribute__((tls_model("initial-exec")));

/* This thread's shard, or NULL beyond the first SHARDS threads. */
static struct signal_shard *my_shard(struct ims_hw_ims_array *a)
{
	unsigned int t = thread_shard;

	if (ims_unlikely(!t)) {
		t = atomic_fetch_add_explicit(&next_thread, 1, memory_order_relaxed);
		t = IMS_MIN(t, SHARDS) + 1;
		ims__fence_thread_register();
		thread_shard = t;
	}
	return t <= SHARDS ? &a->shards[t - 1] : NULL;
}

static void shard_bump(atomic_uint_fast64_t *c, memory_order mo)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + 1, mo);
}

/* After a store that a lock-free signal may have missed: wait it out. */
static void wait_signals_locked(struct ims_hw_ims_array *a)
{
	ims__assert_spin_held(&a->lock);
	ims__fence_heavy();
	for (unsigned int i = 0; i < SHARDS; i++) {
		uint_fast64_t v = atomic_load_explicit(&a->shards[i].inside, memory_order_acquire);

		if (!(v & 1))
			continue;
		while (atomic_load_explicit(&a->shards[i].inside, memory_order_acquire) == v)
			sched_yield();
	}
}

static bool slot_unmasked(const struct ims_hw_slot *s)
{
	return !(__atomic_load_n(&s->ctrl, __ATOMIC_RELAXED) & IMS_SLOT_CTRL_MASKBIT);
}

static int array_read(void *ctx, uint64_t off, uint32_t size, uint64_t *val)
{
	struct ims_hw_ims_array *a = ctx;
	const struct ims_hw_slot *s = &a->slots[off / IMS_SLOT_SIZE];

	(void)size;
	ims__spin_lock(&a->lock);
	switch (off % IMS_SLOT_SIZE) {
	case IMS_SLOT_ADDR_LO: *val = s->addr_lo; break;
	case IMS_SLOT_ADDR_HI: *val = s->addr_hi; break;
	case IMS_SLOT_DATA: *val = s->data; break;
	default: *val = s->ctrl; break;
	}
	ims__spin_unlock(&a->lock);
	return 0;
}

static int array_write(void *ctx, uint64_t off, uint32_t size, uint64_t val)
{
	struct ims_hw_ims_array *a = ctx;
	uint32_t i = (uint32_t)(off / IMS_SLOT_SIZE), *reg, old;
	struct ims_hw_slot *s = &a->slots[i];
	bool was_unmasked;

	(void)size;
	ims__spin_lock(&a->lock);
	was_unmasked = slot_unmasked(s);
	switch (off % IMS_SLOT_SIZE) {
	case IMS_SLOT_ADDR_LO:
		/* Bits 1:0 read as zero: messages are dword writes. */
		reg = &s->addr_lo;
		val &= ~3ull;
		break;
	case IMS_SLOT_ADDR_HI:
		reg = &s->addr_hi;
		break;
	case IMS_SLOT_DATA:
		reg = &s->data;
		break;
	default:
		old = s->ctrl;
		ims__hw_slot_set_ctrl_locked(s, &a->pending[i], (uint32_t)val, &a->out);
		if (was_unmasked && s->ctrl != old)
			wait_signals_locked(a);
		ims__spin_unlock(&a->lock);
		return 0;
	}
	old = *reg;
	ims__hw_slot_store(reg, (uint32_t)val);
	if (was_unmasked && old != (uint32_t)val)
		wait_signals_locked(a);
	ims__spin_unlock(&a->lock);
	return 0;
}

static const struct ims_hw_mmio_ops array_ops = {
	.name = "ims-array",
	.read = array_read,
	.write = array_write,
	.sizes = IMS_HW_MMIO_SIZE(4),
};

static void array_free(struct ims_hw_ims_array *a)
{
	ims__free(a->pending, a->nr * sizeof(*a->pending));
	ims__free(a->slots, a->nr * sizeof(*a->slots));
	ims__dma_free_aligned(a, sizeof(*a), 64);
}

int ims__hw_ims_array_create(const struct ims_hw_ims_array_params *p,
			     const struct ims_hw_msi_sink *sink, struct ims_hw_ims_array **out)
{
	struct ims_hw_ims_array *a;

	if (!p->nr_slots || p->nr_slots > IMS_ARRAY_MAX_SLOTS)
		return ims__error(-EINVAL, "IMS array: %u slots is not 1..%u", p->nr_slots,
				  IMS_ARRAY_MAX_SLOTS);
	if (!sink || !sink->fn)
		return ims__error(-EINVAL, "IMS array: no sink for the messages");
	a = ims__dma_alloc_aligned(sizeof(*a), 64, "ims_array");	/* shards: a line each */
	if (!a)
		return -ENOMEM;
	ims__fence_init();
	a->nr = p->nr_slots;
	ims__spin_init(&a->lock);
	a->out = (struct ims_hw_slot_out){ *sink, p->rid, &a->stats, &a->lock };
	a->slots = ims__calloc(a->nr, sizeof(*a->slots), "ims_array_slots");
	if (!a->slots)
		goto free;
	a->pending = ims__calloc(a->nr, sizeof(*a->pending), "ims_array_pending");
	if (!a->pending)
		goto free;
	for (uint32_t i = 0; i < a->nr; i++)
		ims__hw_slot_reset(&a->slots[i]);
	*out = a;
	return 0;
free:
	array_free(a);
	return -ENOMEM;
}

void ims__hw_ims_array_destroy(struct ims_hw_ims_array *a)
{
	if (a)
		array_free(a);
}

uint32_t ims__hw_ims_array_nr_slots(const struct ims_hw_ims_array *a)
{
	return a->nr;
}

void ims__hw_ims_array_region(struct ims_hw_ims_array *a, struct ims_hw_mmio_region *r)
{
	*r = (struct ims_hw_mmio_region){ &array_ops, a, (uint64_t)a->nr * IMS_SLOT_SIZE };
}

/* The signal of a working slot, without the lock; false: take the locked path. */
static bool signal_unlocked(struct ims_hw_ims_array *a, uint32_t slot, bool pasid_valid,
			    uint32_t pasid)
{
	struct signal_shard *sh = my_shard(a);
	const struct ims_hw_slot *s = &a->slots[slot];
	struct ims_hw_msi_write w;
	uint32_t ctrl;

	if (ims_unlikely(!sh))
		return false;
	shard_bump(&sh->inside, memory_order_relaxed);
	ims__fence_light();
	ctrl = __atomic_load_n(&s->ctrl, __ATOMIC_ACQUIRE);
	if (ims_unlikely((ctrl & IMS_SLOT_CTRL_MASKBIT) ||
			 pasid_valid != !!(ctrl & IMS_SLOT_CTRL_PASID_EN) ||
			 (pasid_valid && pasid != ctrl >> IMS_SLOT_CTRL_PASID_SHIFT))) {
		shard_bump(&sh->inside, memory_order_release);
		return false;
	}
	w = (struct ims_hw_msi_write){
		.addr = (uint64_t)__atomic_load_n(&s->addr_hi, __ATOMIC_RELAXED) << 32 |
			__atomic_load_n(&s->addr_lo, __ATOMIC_RELAXED),
		.data = __atomic_load_n(&s->data, __ATOMIC_RELAXED),
		.rid = a->out.rid,
		.pasid_valid = pasid_valid,
		.pasid = pasid_valid ? pasid : 0,
	};
	shard_bump(&sh->sent, memory_order_relaxed);
	a->out.sink.fn(a->out.sink.ctx, &w);
	shard_bump(&sh->inside, memory_order_release);
	return true;
}

int ims__hw_ims_array_signal(struct ims_hw_ims_array *a, uint32_t slot, bool pasid_valid,
			     uint32_t pasid)
{
	int err;

	if (ims_unlikely(slot >= a->nr))
		return ims__error(-EINVAL, "IMS array: slot %u beyond the %u it has", slot, a->nr);
	if (ims_likely(signal_unlocked(a, slot, pasid_valid, pasid)))
		return 0;
	ims__spin_lock(&a->lock);
	err = ims__hw_slot_fire_locked(&a->slots[slot], &a->pending[slot], pasid_valid, pasid,
				       &a->out);
	ims__spin_unlock(&a->lock);
	if (err)
		return ims__error(err, "IMS array: slot %u refused a signal %s PASID 0x%x",
				  slot, pasid_valid ? "with" : "without", pasid);
	return 0;
}

void ims__hw_ims_array_reset(struct ims_hw_ims_array *a)
{
	bool any = false;

	ims__spin_lock(&a->lock);
	for (uint32_t i = 0; i < a->nr; i++) {
		any |= slot_unmasked(&a->slots[i]);
		ims__hw_slot_reset(&a->slots[i]);
		a->pending[i] = false;
	}
	if (any)
		wait_signals_locked(a);
	ims__spin_unlock(&a->lock);
}

bool ims__hw_ims_array_pending(struct ims_hw_ims_array *a, uint32_t slot)
{
	bool p;

	if (slot >= a->nr)
		return false;
	ims__spin_lock(&a->lock);
	p = a->pending[slot];
	ims__spin_unlock(&a->lock);
	return p;
}

void ims__hw_ims_array_get_stats(struct ims_hw_ims_array *a, struct ims_hw_ims_stats *st)
{
	ims__spin_lock(&a->lock);
	*st = a->stats;
	ims__spin_unlock(&a->lock);
	for (unsigned int i = 0; i < SHARDS; i++)
		st->sent += atomic_load_explicit(&a->shards[i].sent, memory_order_relaxed);
}
