/*
 * The interrupt remapping unit: register file, data path (decode, entry
 * cache, checks, remap or post, fault recording) and the invalidation queue.
 *
 * The data path never takes a lock that software's register writes hold.
 * It reads the latched configuration from atomics, reads table entries with
 * a 128-bit atomic load (software writes them the same way, so an entry is
 * never seen half old, half new), and keeps cached entries in seqcounted
 * slots. Every request runs inside the unit's own in-flight section, and
 * its table and descriptor accesses also inside an RCU read section (which
 * keeps the DMA region list alive; a cache hit of a remapped entry reads
 * neither and does without it). An invalidation waits for every in-flight
 * section that began before it, so that once software has seen an
 * invalidation complete no request is still using the old entry (an
 * interrupt already handed to the APIC bus is in flight there, as on
 * hardware). The unit counts its own
 * sections rather than waiting for an RCU grace period because software
 * invalidates with an interrupt descriptor's lock held, and the interrupt
 * core's data path holds an RCU read section while it waits for that lock.
 */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>

#include "hw/iommu/remap_unit.h"
#include "util/alloc.h"
#include "util/atomic128.h"
#include "util/compiler.h"
#include "util/fence.h"
#include "util/lock.h"
#include "util/log.h"
#include "util/rcu.h"

/*
 * One cached entry. seq is odd while a writer (a fill from the data path or
 * an invalidation) owns the slot; readers retry nothing and simply miss.
 */
struct cache_slot {
	atomic_uint seq;
	atomic_uint tag;		/* index + 1; 0: empty */
	atomic_uint_fast64_t lo, hi;
};

/*
 * Per-request counters. A locked add on a shared counter costs more than
 * the rest of a request, so each of the first STAT_SHARDS threads that use
 * any unit owns a shard and counts with a plain load and store; later
 * threads share the last shard and count with atomic adds.
 */
enum { ST_COMPAT, ST_REMAPPED, ST_POSTED, ST_NOTIFY, ST_HIT, ST_MISS, ST_NR };
#define STAT_SHARDS 64
struct stat_shard {
	atomic_uint_fast64_t c[ST_NR];
	atomic_uint_fast64_t inside;	/* odd while the owner thread is in a request */
} __attribute__((aligned(64)));	/* one cache line each (the unit is allocated aligned) */

struct ims_hw_ir_unit {
	char name[32];
	struct ims_hw_dma *dma;
	struct ims_hw_apic_sink apic;
	uint16_t rid_first, rid_last;
	uint32_t flags;
	uint64_t cap;

	/*
	 * reg_lock protects the software-visible register state below it and
	 * serializes invalidation queue processing. The data path never
	 * takes it.
	 */
	struct ims_mutex reg_lock;
	uint64_t irta;			/* as written, latched by SIRTP */
	uint64_t iqa, iqh, iqt;

	/* Latched state read by the data path. */
	atomic_uint gsts;
	atomic_uint_fast64_t irta_active;

	/* Entry cache. gen counts invalidations, so that a fill that read
	 * memory before an invalidation does not store a stale entry after it. */
	uint32_t cache_n;
	struct cache_slot *cache;
	atomic_uint_fast64_t gen;

	/* Requests in flight of threads without a shard, counted per epoch
	 * parity; see unit_enter(). */
	atomic_uint epoch;
	atomic_uint_fast64_t inflight[2];

	/* fault_lock protects the fault ring and fsts. */
	ims_spinlock_t fault_lock;
	uint32_t log_cap, log_head, log_count;
	uint32_t fsts;
	struct ims_ir_fault_record *log;

	/* Statistics of every request: sharded by thread (see hot_inc()). */
	struct stat_shard shards[STAT_SHARDS + 1];
	/* Statistics of rarer events, relaxed atomics. */
	atomic_uint_fast64_t st_suppressed, st_overflow;
	atomic_uint_fast64_t st_faults[IMS_IR_FAULT_NR];
	atomic_uint_fast64_t st_inv_global, st_inv_index, st_inv_wait, st_iq_errors;
};

#define stat_inc(u, f) atomic_fetch_add_explicit(&(u)->f, 1, memory_order_relaxed)

static atomic_uint next_thread;
static _Thread_local unsigned int thread_slot __attribute__((tls_model("initial-exec")));	/* 1 + shard index; 0: not yet */

static __attribute__((noinline)) unsigned int first_slot(void)
{
	unsigned int t = atomic_fetch_add_explicit(&next_thread, 1, memory_order_relaxed);

	t = IMS_MIN(t, STAT_SHARDS) + 1;
	ims__fence_thread_register();
	thread_slot = t;
	return t;
}

static inline unsigned int my_slot(void)
{
	unsigned int t = thread_slot;

	return ims_likely(t) ? t : first_slot();
}

/* Inlined: it runs twice on every request. */
static inline __attribute__((always_inline)) void hot_inc(struct ims_hw_ir_unit *u, unsigned int i)
{
	unsigned int t = my_slot();
	atomic_uint_fast64_t *c;

	c = &u->shards[t - 1].c[i];
	if (ims_likely(t <= STAT_SHARDS))
		atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + 1,
				      memory_order_relaxed);
	else
		atomic_fetch_add_explicit(c, 1, memory_order_relaxed);
}

static uint64_t hot_sum(struct ims_hw_ir_unit *u, unsigned int i)
{
	uint64_t n = 0;

	for (unsigned int s = 0; s <= STAT_SHARDS; s++)
		n += atomic_load_explicit(&u->shards[s].c[i], memory_order_relaxed);
	return n;
}

int ims__ir_unit_create(const struct ims_hw_ir_unit_config *cfg, struct ims_hw_ir_unit **out)
{
	struct ims_hw_ir_unit *u;
	uint32_t cn, logn;

	if (!cfg || !cfg->dma || !cfg->apic.fn)
		return ims__error(-EINVAL, "ir unit: config needs dma and an APIC sink");
	cn = cfg->cache_entries ? cfg->cache_entries : 256;
	if (cn & (cn - 1) || cn > IMS_IRTE_MAX_ENTRIES)
		return ims__error(-EINVAL, "ir unit: cache_entries %u is not a power of two up to 65536",
				  cfg->cache_entries);
	logn = cfg->fault_log ? cfg->fault_log : 16;
	if (logn > 65536)
		return ims__error(-EINVAL, "ir unit: fault_log %u is above 65536", logn);
	if (cfg->rid_first > cfg->rid_last)
		return ims__error(-EINVAL, "ir unit: rid range %#x..%#x is empty", cfg->rid_first,
				  cfg->rid_last);
	ims__fence_init();
	u = ims__dma_alloc_aligned(sizeof(*u), 64, "ir_unit");
	if (!u)
		return -ENOMEM;
	u->cache = ims__calloc(cn, sizeof(*u->cache), "ir_cache");
	if (!u->cache)
		goto free_unit;
	u->log = ims__calloc(logn, sizeof(*u->log), "ir_fault_log");
	if (!u->log)
		goto free_cache;
	snprintf(u->name, sizeof(u->name), "%s", cfg->name ? cfg->name : "ir");
	u->dma = cfg->dma;
	u->apic = cfg->apic;
	u->rid_first = cfg->rid_first;
	u->rid_last = cfg->rid_last;
	u->flags = cfg->flags;
	u->cap = IMS_IR_CAP_EIM;
	if (!(cfg->flags & IMS_HW_IR_NO_POSTED))
		u->cap |= IMS_IR_CAP_PI;
	if (cfg->flags & IMS_HW_IR_VIRTUAL)
		u->cap |= IMS_IR_CAP_CM;
	u->cache_n = cn;
	u->log_cap = logn;
	ims__mutex_init(&u->reg_lock);
	ims__spin_init(&u->fault_lock);
	*out = u;
	return 0;

free_cache:
	ims__free(u->cache, cn * sizeof(*u->cache));
free_unit:
	ims__dma_free_aligned(u, sizeof(*u), 64);
	return -ENOMEM;
}

static void unit_wait_inflight_locked(struct ims_hw_ir_unit *u);

void ims__ir_unit_destroy(struct ims_hw_ir_unit *u)
{
	if (!u)
		return;
	/* Requests still running on other threads must finish first: those
	 * inside the unit's own section, and those still in an RCU one. */
	ims__mutex_lock(&u->reg_lock);
	unit_wait_inflight_locked(u);
	ims__mutex_unlock(&u->reg_lock);
	ims__rcu_synchronize();
	ims__mutex_destroy(&u->reg_lock);
	ims__free(u->log, u->log_cap * sizeof(*u->log));
	ims__free(u->cache, u->cache_n * sizeof(*u->cache));
	ims__dma_free_aligned(u, sizeof(*u), 64);
}

bool ims__ir_unit_covers(const struct ims_hw_ir_unit *u, uint16_t rid)
{
	return rid >= u->rid_first && rid <= u->rid_last;
}

const char *ims__ir_unit_name(const struct ims_hw_ir_unit *u)
{
	return u->name;
}

struct ims_hw_ir_unit *ims__ir_route(struct ims_hw_ir_unit *const *units, unsigned int n, uint16_t rid)
{
	for (unsigned int i = 0; i < n; i++)
		if (units[i] && ims__ir_unit_covers(units[i], rid))
			return units[i];
	return NULL;
}

/* ---- requests in flight ---- */

/*
 * A thread that owns a shard marks itself inside a request by making its
 * shard's counter odd (one store, no locked add), as RCU readers do; the
 * waiter scans the shards. Other threads count themselves in the current
 * epoch's counter, then check that the epoch did not move meanwhile (if it
 * did, the waiter may have looked already: count again in the new one).
 * The shard store and the request's reads are ordered by an asymmetric
 * fence (util/fence.h: a compiler barrier here, a barrier on every thread
 * from the waiter); the rest is sequentially consistent. Either the waiter
 * sees the request or the request sees everything written before the wait
 * began.
 */
#define IN_SHARD 2u

static unsigned int unit_enter(struct ims_hw_ir_unit *u)
{
	unsigned int t = my_slot();

	if (ims_likely(t <= STAT_SHARDS)) {
		atomic_uint_fast64_t *c = &u->shards[t - 1].inside;

		atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + 1,
				      memory_order_relaxed);
		ims__fence_light();
		return IN_SHARD;
	}
	for (;;) {
		unsigned int idx = atomic_load(&u->epoch) & 1;

		atomic_fetch_add(&u->inflight[idx], 1);
		if ((atomic_load(&u->epoch) & 1) == idx)
			return idx;
		atomic_fetch_sub_explicit(&u->inflight[idx], 1, memory_order_release);
	}
}

static void unit_exit(struct ims_hw_ir_unit *u, unsigned int token)
{
	if (ims_likely(token == IN_SHARD)) {
		atomic_uint_fast64_t *c = &u->shards[thread_slot - 1].inside;

		atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + 1,
				      memory_order_release);
		return;
	}
	atomic_fetch_sub_explicit(&u->inflight[token], 1, memory_order_release);
}

/* Wait for every request that entered before this call; reg_lock held. */
static void unit_wait_inflight_locked(struct ims_hw_ir_unit *u)
{
	unsigned int old;

	ims__assert_mutex_held(&u->reg_lock);
	old = atomic_fetch_add(&u->epoch, 1) & 1;
	while (atomic_load_explicit(&u->inflight[old], memory_order_acquire))
		sched_yield();
	ims__fence_heavy();
	for (unsigned int i = 0; i < STAT_SHARDS; i++) {
		uint_fast64_t v = atomic_load(&u->shards[i].inside);

		if (!(v & 1))
			continue;
		while (atomic_load_explicit(&u->shards[i].inside, memory_order_acquire) == v)
			sched_yield();
	}
}

/* ---- entry cache ---- */

static bool slot_lock(struct cache_slot *s, unsigned int *seq, bool wait)
{
	for (;;) {
		unsigned int v = atomic_load_explicit(&s->seq, memory_order_relaxed);

		if (!(v & 1) && atomic_compare_exchange_weak_explicit(&s->seq, &v, v + 1,
								      memory_order_acq_rel,
								      memory_order_relaxed)) {
			atomic_thread_fence(memory_order_release);
			*seq = v;
			return true;
		}
		if (!wait)
			return false;
	}
}

static void slot_unlock(struct cache_slot *s, unsigned int seq)
{
	atomic_store_explicit(&s->seq, seq + 2, memory_order_release);
}

static bool cache_lookup(struct ims_hw_ir_unit *u, uint32_t index, struct ims_u128 *e)
{
	struct cache_slot *s = &u->cache[index & (u->cache_n - 1)];
	unsigned int seq = atomic_load_explicit(&s->seq, memory_order_acquire);
	unsigned int tag;

	if (seq & 1)
		return false;
	tag = atomic_load_explicit(&s->tag, memory_order_relaxed);
	e->lo = atomic_load_explicit(&s->lo, memory_order_relaxed);
	e->hi = atomic_load_explicit(&s->hi, memory_order_relaxed);
	atomic_thread_fence(memory_order_acquire);
	if (atomic_load_explicit(&s->seq, memory_order_relaxed) != seq)
		return false;
	return tag == index + 1;
}

/* Store an entry read from memory while the invalidation count was gen. */
static void cache_fill(struct ims_hw_ir_unit *u, uint32_t index, uint64_t gen, struct ims_u128 e)
{
	struct cache_slot *s = &u->cache[index & (u->cache_n - 1)];
	unsigned int seq;

	/* Filling is optional: if another writer has the slot, skip. */
	if (!slot_lock(s, &seq, false))
		return;
	if (atomic_load_explicit(&u->gen, memory_order_acquire) == gen) {
		atomic_store_explicit(&s->tag, index + 1, memory_order_relaxed);
		atomic_store_explicit(&s->lo, e.lo, memory_order_relaxed);
		atomic_store_explicit(&s->hi, e.hi, memory_order_relaxed);
	}
	slot_unlock(s, seq);
}

static void slot_invalidate(struct cache_slot *s, uint32_t first, uint32_t count)
{
	unsigned int seq, tag;

	slot_lock(s, &seq, true);
	tag = atomic_load_explicit(&s->tag, memory_order_relaxed);
	if (tag && tag - 1 - first < count)
		atomic_store_explicit(&s->tag, 0, memory_order_relaxed);
	slot_unlock(s, seq);
}

/* Drop cached entries [first, first + count); then wait out requests in flight. */
static void cache_invalidate_locked(struct ims_hw_ir_unit *u, uint32_t first, uint32_t count)
{
	atomic_fetch_add_explicit(&u->gen, 1, memory_order_seq_cst);
	if (count >= u->cache_n) {
		for (uint32_t i = 0; i < u->cache_n; i++)
			slot_invalidate(&u->cache[i], first, count);
	} else {
		for (uint32_t i = 0; i < count; i++)
			slot_invalidate(&u->cache[(first + i) & (u->cache_n - 1)], first, count);
	}
	unit_wait_inflight_locked(u);
}

/* ---- faults ---- */

static int fault(struct ims_hw_ir_unit *u, struct ims_ir_outcome *out, uint8_t reason, uint16_t sid,
		 uint32_t index, bool fpd)
{
	stat_inc(u, st_faults[reason - IMS_IR_FAULT_FIRST]);
	out->kind = IMS_IR_OUT_FAULT;
	out->reason = reason;
	out->index = index;
	out->recorded = false;
	if (fpd) {
		stat_inc(u, st_suppressed);
		return -EIO;
	}
	ims__spin_lock(&u->fault_lock);
	if (u->log_count == u->log_cap) {
		u->fsts |= IMS_IR_FSTS_PFO;
		stat_inc(u, st_overflow);
	} else {
		u->log[(u->log_head + u->log_count) % u->log_cap] =
			(struct ims_ir_fault_record){ .reason = reason, .sid = sid, .index = index };
		u->log_count++;
		out->recorded = true;
	}
	ims__spin_unlock(&u->fault_lock);
	return -EIO;
}

/* ---- data path ---- */

static void decode_compat(const struct ims_hw_ir_unit *u, uint32_t addr, uint32_t data,
			  struct ims_hw_apic_irq *irq)
{
	irq->dest = (addr >> IMS_MSI_ADDR_DEST_SHIFT) & IMS_MSI_ADDR_DEST_MASK;
	if (u->flags & IMS_HW_IR_EXT_DEST)
		irq->dest |= ((addr >> IMS_MSI_ADDR_EXT_DEST_SHIFT) & IMS_MSI_ADDR_EXT_DEST_MASK) << 8;
	irq->vector = data & IMS_MSI_DATA_VECTOR_MASK;
	irq->delivery_mode = (data >> IMS_MSI_DATA_DLM_SHIFT) & IMS_MSI_DATA_DLM_MASK;
	irq->dest_logical = (addr >> IMS_MSI_ADDR_DM_SHIFT) & 1;
	irq->redirection_hint = (addr >> IMS_MSI_ADDR_RH_SHIFT) & 1;
	irq->level_trigger = (data >> IMS_MSI_DATA_TM_SHIFT) & 1;
	irq->level_assert = (data >> IMS_MSI_DATA_LEVEL_SHIFT) & 1;
}

static bool sid_ok(uint64_t hi, uint16_t rid)
{
	uint16_t sid = (uint16_t)ims__field_get(hi, IMS_IRTE_SID_SHIFT, IMS_IRTE_SID_MASK);
	unsigned int sq = (unsigned int)ims__field_get(hi, IMS_IRTE_SQ_SHIFT, IMS_IRTE_SQ_MASK);
	uint8_t bus = rid >> 8;

	switch (ims__field_get(hi, IMS_IRTE_SVT_SHIFT, IMS_IRTE_SVT_MASK)) {
	case IMS_SVT_NONE:
		return true;
	case IMS_SVT_SID:
		return ((rid ^ sid) & ims__irte_sq_mask(sq)) == 0;
	case IMS_SVT_BUS:
		return bus >= (sid >> 8) && bus <= (sid & 0xff);
	default:
		return false;
	}
}

/* Reserved-bit check of a present entry, per format and mode. */
static bool entry_reserved(const struct ims_hw_ir_unit *u, uint64_t lo, uint64_t hi, bool eime)
{
	if (ims__field_get(hi, IMS_IRTE_SVT_SHIFT, IMS_IRTE_SVT_MASK) == IMS_SVT_RSVD)
		return true;
	if ((lo >> IMS_IRTE_IM_SHIFT) & 1) {
		if (!(u->cap & IMS_IR_CAP_PI))
			return true;
		return (lo & IMS_IRTE_POST_RSVD_LO) || (hi & IMS_IRTE_POST_RSVD_HI);
	}
	if ((lo & IMS_IRTE_REMAP_RSVD_LO) || (hi & IMS_IRTE_REMAP_RSVD_HI))
		return true;
	if (!eime && (lo & IMS_IRTE_XAPIC_RSVD_LO))
		return true;
	return !ims__dlm_valid((unsigned int)ims__field_get(lo, IMS_IRTE_DLM_SHIFT, IMS_IRTE_DLM_MASK));
}

/*
 * Post: set PIR[vector], then set ON and notify if ON was clear and either
 * SN is clear or the entry is urgent. Returns false if the descriptor is not
 * reachable. Called inside the RCU read section.
 */
static bool post(struct ims_hw_ir_unit *u, uint64_t lo, uint64_t hi, bool eime,
		 struct ims_hw_apic_irq *notify, bool *notified)
{
	uint64_t pda = ims__field_get(lo, IMS_IRTE_PDA_LO_SHIFT, IMS_IRTE_PDA_LO_MASK) << 6 |
		       ims__field_get(hi, IMS_IRTE_PDA_HI_SHIFT, IMS_IRTE_PDA_HI_MASK) << 32;
	unsigned int vec = (unsigned int)ims__field_get(lo, IMS_IRTE_VECTOR_SHIFT, IMS_IRTE_VECTOR_MASK);
	bool urgent = (lo >> IMS_IRTE_URG_SHIFT) & 1;
	uint64_t *pd = ims__dma_map(u->dma, pda, IMS_PID_SIZE);
	uint64_t ctl, raw;

	*notified = false;
	if (!pd)
		return false;
	__atomic_fetch_or(&pd[vec / 64], ims__cpu_to_le64(1ull << (vec % 64)), __ATOMIC_SEQ_CST);
	raw = __atomic_load_n(&pd[IMS_PID_CTL_WORD], __ATOMIC_SEQ_CST);
	for (;;) {
		ctl = ims__le64_to_cpu(raw);
		if ((ctl >> IMS_PID_ON_SHIFT) & 1)
			return true;
		if (((ctl >> IMS_PID_SN_SHIFT) & 1) && !urgent)
			return true;
		if (__atomic_compare_exchange_n(&pd[IMS_PID_CTL_WORD], &raw,
						ims__cpu_to_le64(ctl | 1ull << IMS_PID_ON_SHIFT), false,
						__ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
			break;
	}
	memset(notify, 0, sizeof(*notify));
	notify->vector = (uint8_t)ims__field_get(ctl, IMS_PID_NV_SHIFT, IMS_PID_NV_MASK);
	notify->dest = (uint32_t)ims__field_get(ctl, IMS_PID_NDST_SHIFT, IMS_PID_NDST_MASK);
	if (!eime)
		notify->dest = (notify->dest >> IMS_PID_NDST_XAPIC_SHIFT) & 0xff;
	notify->delivery_mode = IMS_DM_FIXED;
	*notified = true;
	return true;
}

static int send(struct ims_hw_ir_unit *u, struct ims_ir_outcome *out)
{
	out->accepted = u->apic.fn(u->apic.ctx, &out->irq);
	return 0;
}

int ims__ir_unit_handle(struct ims_hw_ir_unit *u, const struct ims_hw_msi_write *w,
			struct ims_ir_outcome *out)
{
	struct ims_ir_outcome scratch;
	uint32_t addr = (uint32_t)w->addr, index, gsts;
	unsigned int token;
	uint64_t irta, gen = 0, lo, hi;
	struct ims_u128 e;
	bool eime, fpd, notified, rcu = false;
	int ret;

	if (!out)
		out = &scratch;
	memset(out, 0, sizeof(*out));
	if (!ims__msi_is_interrupt(w->addr))
		return ims__error(-EINVAL, "ir unit %s: write to %#llx is not an interrupt", u->name,
				  (unsigned long long)w->addr);
	gsts = atomic_load_explicit(&u->gsts, memory_order_acquire);
	if (!(gsts & IMS_IR_GCMD_IRE) || !ims__msi_is_remappable(addr)) {
		if ((gsts & IMS_IR_GCMD_IRE) && !(gsts & IMS_IR_GCMD_CFI))
			return fault(u, out, IMS_IR_FAULT_COMPAT_BLOCKED, w->rid, 0, false);
		out->kind = IMS_IR_OUT_COMPAT;
		decode_compat(u, addr, w->data, &out->irq);
		hot_inc(u, ST_COMPAT);
		return send(u, out);
	}

	index = ims__msi_remap_handle(addr);
	if (ims__msi_remap_shv(addr)) {
		if (w->data >> 16)
			return fault(u, out, IMS_IR_FAULT_REQ_RESERVED, w->rid, index, false);
		index += w->data & IMS_MSI_DATA_SUBHANDLE_MASK;
	}
	out->index = index;
	irta = atomic_load_explicit(&u->irta_active, memory_order_acquire);
	eime = irta & IMS_IR_IRTA_EIME;
	if (index >= 2u << (irta & IMS_IR_IRTA_S_MASK))
		return fault(u, out, IMS_IR_FAULT_INDEX, w->rid, index, false);

	/*
	 * A cache hit of a remapped entry touches no DMA memory: the RCU read
	 * section (one more full barrier) is entered only on the way to the
	 * table or a posted descriptor, and ended where the section ends.
	 */
	token = unit_enter(u);
	if (!(u->flags & IMS_HW_IR_NO_CACHE) && cache_lookup(u, index, &e)) {
		out->cache_hit = true;
		hot_inc(u, ST_HIT);
	} else {
		uint64_t *p;

		ims__rcu_read_lock();
		rcu = true;
		p = ims__dma_map(u->dma, (irta & IMS_IR_IRTA_ADDR_MASK) + (uint64_t)index * IMS_IRTE_SIZE,
				 IMS_IRTE_SIZE);

		if (!p) {
			ret = fault(u, out, IMS_IR_FAULT_TABLE_ACCESS, w->rid, index, false);
			goto unlock;
		}
		gen = atomic_load_explicit(&u->gen, memory_order_acquire);
		e = ims__atomic128_load(p);
		e.lo = ims__le64_to_cpu(e.lo);
		e.hi = ims__le64_to_cpu(e.hi);
		hot_inc(u, ST_MISS);
		/* A real unit caches what it read; in caching mode (a virtual
		 * unit) even not-present entries, which is why software must
		 * invalidate after making an entry present there. */
		if (!(u->flags & IMS_HW_IR_NO_CACHE) && ((e.lo & 1) || (u->cap & IMS_IR_CAP_CM)))
			cache_fill(u, index, gen, e);
	}
	lo = e.lo;
	hi = e.hi;
	fpd = (lo >> IMS_IRTE_FPD_SHIFT) & 1;
	if (!((lo >> IMS_IRTE_P_SHIFT) & 1)) {
		ret = fault(u, out, IMS_IR_FAULT_NOT_PRESENT, w->rid, index, fpd);
		goto unlock;
	}
	if (entry_reserved(u, lo, hi, eime)) {
		ret = fault(u, out, IMS_IR_FAULT_ENTRY_RESERVED, w->rid, index, fpd);
		goto unlock;
	}
	if (!sid_ok(hi, w->rid)) {
		ret = fault(u, out, IMS_IR_FAULT_SID, w->rid, index, fpd);
		goto unlock;
	}
	if ((lo >> IMS_IRTE_IM_SHIFT) & 1) {
		if (!rcu) {
			ims__rcu_read_lock();
			rcu = true;
		}
		if (!post(u, lo, hi, eime, &out->irq, &notified)) {
			ret = fault(u, out, IMS_IR_FAULT_PID_ACCESS, w->rid, index, fpd);
			goto unlock;
		}
		unit_exit(u, token);
		ims__rcu_read_unlock();
		out->kind = IMS_IR_OUT_POSTED;
		out->notified = notified;
		hot_inc(u, ST_POSTED);
		if (!notified)
			return 0;
		hot_inc(u, ST_NOTIFY);
		return send(u, out);
	}
	unit_exit(u, token);
	if (rcu)
		ims__rcu_read_unlock();

	out->kind = IMS_IR_OUT_REMAPPED;
	out->irq.vector = (uint8_t)ims__field_get(lo, IMS_IRTE_VECTOR_SHIFT, IMS_IRTE_VECTOR_MASK);
	out->irq.delivery_mode = (uint8_t)ims__field_get(lo, IMS_IRTE_DLM_SHIFT, IMS_IRTE_DLM_MASK);
	out->irq.dest_logical = (lo >> IMS_IRTE_DM_SHIFT) & 1;
	out->irq.redirection_hint = (lo >> IMS_IRTE_RH_SHIFT) & 1;
	out->irq.level_trigger = (lo >> IMS_IRTE_TM_SHIFT) & 1;
	out->irq.level_assert = out->irq.level_trigger;
	if (eime)
		out->irq.dest = (uint32_t)ims__field_get(lo, IMS_IRTE_DST_SHIFT, IMS_IRTE_DST_MASK);
	else
		out->irq.dest = (uint32_t)ims__field_get(lo, IMS_IRTE_XAPIC_DST_SHIFT, IMS_IRTE_XAPIC_DST_MASK);
	hot_inc(u, ST_REMAPPED);
	return send(u, out);

unlock:
	unit_exit(u, token);
	if (rcu)
		ims__rcu_read_unlock();
	return ret;
}

static void msi_sink(void *ctx, const struct ims_hw_msi_write *w)
{
	ims__ir_unit_handle(ctx, w, NULL);
}

struct ims_hw_msi_sink ims__ir_unit_msi_sink(struct ims_hw_ir_unit *u)
{
	return (struct ims_hw_msi_sink){ .fn = msi_sink, .ctx = u };
}

/* ---- invalidation queue ---- */

static uint32_t iq_size(uint64_t iqa)
{
	return 256u << (iqa & IMS_IR_IQA_QS_MASK);
}

static void iq_error_locked(struct ims_hw_ir_unit *u)
{
	ims__assert_mutex_held(&u->reg_lock);
	ims__spin_lock(&u->fault_lock);
	u->fsts |= IMS_IR_FSTS_IQE;
	ims__spin_unlock(&u->fault_lock);
	stat_inc(u, st_iq_errors);
}

/* Run descriptors from IQH up to IQT; stop at the first bad one. */
static void iq_process_locked(struct ims_hw_ir_unit *u)
{
	uint32_t n = iq_size(u->iqa);

	ims__assert_mutex_held(&u->reg_lock);
	if (!(atomic_load(&u->gsts) & IMS_IR_GCMD_QIE))
		return;
	ims__rcu_read_lock();
	while (u->iqh != u->iqt) {
		uint32_t head = (uint32_t)(u->iqh >> IMS_IR_IQ_SHIFT);
		uint64_t *d = ims__dma_map(u->dma, (u->iqa & IMS_IR_IRTA_ADDR_MASK) + (uint64_t)head * 16, 16);
		uint64_t lo, hi;

		if (!d) {
			iq_error_locked(u);
			break;
		}
		lo = ims__le64_to_cpu(__atomic_load_n(&d[0], __ATOMIC_ACQUIRE));
		hi = ims__le64_to_cpu(__atomic_load_n(&d[1], __ATOMIC_ACQUIRE));
		if ((lo & IMS_IR_QI_TYPE_MASK) == IMS_IR_QI_IEC) {
			if (lo & IMS_IR_QI_IEC_INDEX) {
				uint32_t im = (uint32_t)ims__field_get(lo, IMS_IR_QI_IEC_IM_SHIFT,
								       IMS_IR_QI_IEC_IM_MASK);
				uint32_t idx = (uint32_t)ims__field_get(lo, IMS_IR_QI_IEC_IIDX_SHIFT,
									IMS_IR_QI_IEC_IIDX_MASK);

				if (im > 16) {
					iq_error_locked(u);
					break;
				}
				idx &= ~((1u << im) - 1);
				cache_invalidate_locked(u, idx, 1u << im);
				stat_inc(u, st_inv_index);
			} else {
				cache_invalidate_locked(u, 0, IMS_IRTE_MAX_ENTRIES);
				stat_inc(u, st_inv_global);
			}
		} else if ((lo & IMS_IR_QI_TYPE_MASK) == IMS_IR_QI_WAIT) {
			if (lo & IMS_IR_QI_WAIT_SW) {
				uint32_t *st = ims__dma_map(u->dma, hi & ~3ull, 4);

				if (!st) {
					iq_error_locked(u);
					break;
				}
				__atomic_store_n(st, (uint32_t)(lo >> IMS_IR_QI_WAIT_DATA_SHIFT),
						 __ATOMIC_RELEASE);
			}
			stat_inc(u, st_inv_wait);
		} else {
			iq_error_locked(u);
			break;
		}
		u->iqh = (uint64_t)((head + 1) % n) << IMS_IR_IQ_SHIFT;
	}
	ims__rcu_read_unlock();
}

/* ---- registers ---- */

static uint32_t fsts_now(struct ims_hw_ir_unit *u)
{
	uint32_t v;

	ims__spin_lock(&u->fault_lock);
	v = u->fsts;
	ims__spin_unlock(&u->fault_lock);
	return v;
}

uint64_t ims__ir_unit_read(struct ims_hw_ir_unit *u, uint32_t off)
{
	uint64_t v = 0;

	switch (off) {
	case IMS_IR_REG_CAP:
		return u->cap;
	case IMS_IR_REG_GSTS:
		return atomic_load(&u->gsts);
	case IMS_IR_REG_FSTS:
		ims__spin_lock(&u->fault_lock);
		v = u->fsts | (u->log_count ? IMS_IR_FSTS_PPF : 0);
		ims__spin_unlock(&u->fault_lock);
		return v;
	case IMS_IR_REG_FRCD_LO:
	case IMS_IR_REG_FRCD_HI:
		ims__spin_lock(&u->fault_lock);
		if (u->log_count) {
			const struct ims_ir_fault_record *r = &u->log[u->log_head];

			v = off == IMS_IR_REG_FRCD_LO ? (uint64_t)r->index << 48
						      : IMS_IR_FRCD_F | (uint64_t)r->reason << 32 | r->sid;
		}
		ims__spin_unlock(&u->fault_lock);
		return v;
	}
	ims__mutex_lock(&u->reg_lock);
	switch (off) {
	case IMS_IR_REG_IRTA:
		v = u->irta;
		break;
	case IMS_IR_REG_IQA:
		v = u->iqa;
		break;
	case IMS_IR_REG_IQH:
		v = u->iqh;
		break;
	case IMS_IR_REG_IQT:
		v = u->iqt;
		break;
	}
	ims__mutex_unlock(&u->reg_lock);
	return v;
}

static void write_gcmd_locked(struct ims_hw_ir_unit *u, uint32_t cmd)
{
	uint32_t sts = atomic_load(&u->gsts) & IMS_IR_GCMD_SIRTP;

	ims__assert_mutex_held(&u->reg_lock);
	if (cmd & IMS_IR_GCMD_SIRTP) {
		atomic_store_explicit(&u->irta_active, u->irta, memory_order_release);
		sts |= IMS_IR_GCMD_SIRTP;	/* IRTPS: a table pointer is latched */
	}
	if (cmd & IMS_IR_GCMD_QIE) {
		if (!(atomic_load(&u->gsts) & IMS_IR_GCMD_QIE))
			u->iqh = u->iqt = 0;
		sts |= IMS_IR_GCMD_QIE;
	}
	/* Remapping cannot be enabled before a table pointer is latched. */
	if ((cmd & IMS_IR_GCMD_IRE) && (sts & IMS_IR_GCMD_SIRTP))
		sts |= IMS_IR_GCMD_IRE;
	sts |= cmd & IMS_IR_GCMD_CFI;
	atomic_store_explicit(&u->gsts, sts, memory_order_release);
}

void ims__ir_unit_write(struct ims_hw_ir_unit *u, uint32_t off, uint64_t val)
{
	if (off == IMS_IR_REG_FSTS || off == IMS_IR_REG_FRCD_HI) {
		ims__spin_lock(&u->fault_lock);
		if (off == IMS_IR_REG_FSTS) {
			u->fsts &= ~((uint32_t)val & (IMS_IR_FSTS_PFO | IMS_IR_FSTS_IQE));
		} else if ((val & IMS_IR_FRCD_F) && u->log_count) {
			u->log_head = (u->log_head + 1) % u->log_cap;
			u->log_count--;
		}
		ims__spin_unlock(&u->fault_lock);
		return;
	}
	ims__mutex_lock(&u->reg_lock);
	switch (off) {
	case IMS_IR_REG_GCMD:
		write_gcmd_locked(u, (uint32_t)val);
		break;
	case IMS_IR_REG_IRTA:
		u->irta = val & (IMS_IR_IRTA_ADDR_MASK | IMS_IR_IRTA_EIME | IMS_IR_IRTA_S_MASK);
		break;
	case IMS_IR_REG_IQA:
		u->iqa = val & (IMS_IR_IRTA_ADDR_MASK | IMS_IR_IQA_QS_MASK);
		break;
	case IMS_IR_REG_IQT:
		u->iqt = val & ((uint64_t)(iq_size(u->iqa) - 1) << IMS_IR_IQ_SHIFT);
		/* An earlier error stops the queue until software clears it. */
		if (!(fsts_now(u) & IMS_IR_FSTS_IQE))
			iq_process_locked(u);
		break;
	}
	ims__mutex_unlock(&u->reg_lock);
}

void ims__ir_unit_stats(struct ims_hw_ir_unit *u, struct ims_ir_unit_stats *out)
{
	memset(out, 0, sizeof(*out));
	out->compat = hot_sum(u, ST_COMPAT);
	out->remapped = hot_sum(u, ST_REMAPPED);
	out->posted = hot_sum(u, ST_POSTED);
	out->notifications = hot_sum(u, ST_NOTIFY);
	out->cache_hits = hot_sum(u, ST_HIT);
	out->cache_misses = hot_sum(u, ST_MISS);
	for (int i = 0; i < IMS_IR_FAULT_NR; i++)
		out->faults[i] = atomic_load(&u->st_faults[i]);
	out->fpd_suppressed = atomic_load(&u->st_suppressed);
	out->log_overflow = atomic_load(&u->st_overflow);
	out->inv_global = atomic_load(&u->st_inv_global);
	out->inv_index = atomic_load(&u->st_inv_index);
	out->inv_wait = atomic_load(&u->st_inv_wait);
	out->iq_errors = atomic_load(&u->st_iq_errors);
}
