/*
 * Test bench for the remapping unit: DMA memory with a table, an
 * invalidation queue, status words and posted descriptors; a unit wired to
 * an APIC sink that records what arrives; and helpers that program the unit
 * through its registers the way a driver would. Included by the unit tests
 * of the remapping unit (header only, so each test binary stays one file).
 */
#ifndef IMS_TEST_IR_ENV_H
#define IMS_TEST_IR_ENV_H

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <ims/remap.h>

#include "hw/dma.h"
#include "hw/iommu/irte.h"
#include "hw/iommu/remap_unit.h"
#include "util/atomic128.h"

struct apic_rec {
	unsigned int count;
	struct ims_hw_apic_irq last;
	int ret;		/* what the sink returns */
};

struct ir_env {
	struct ims_hw_dma *dma;
	struct ims_hw_ir_unit *u;
	struct apic_rec apic;
	uint64_t *table;
	size_t table_bytes;
	uint64_t *iq;		/* 256 descriptors */
	uint32_t iq_tail;
	uint32_t *status;
	uint64_t *pids;		/* 4 descriptors of 64 bytes */
	uint32_t s;		/* table holds 2^(s+1) entries */
	bool eime;
};

static inline int apic_record(void *ctx, const struct ims_hw_apic_irq *irq)
{
	struct apic_rec *r = ctx;

	r->count++;
	r->last = *irq;
	return r->ret;
}

#define IQ_BYTES 4096u
#define PIDS_BYTES 256u

/* Table of 2^(s+1) entries; unit flags; EIME; CFI. Enables remapping. */
static inline struct ir_env *ir_env_new_sink(uint32_t s, uint32_t flags, bool eime, bool cfi, uint32_t cache,
					     uint32_t log, const struct ims_hw_apic_sink *sink)
{
	struct ir_env *e = calloc(1, sizeof(*e));
	struct ims_hw_ir_unit_config cfg = {
		.name = "ir-test", .apic = { apic_record, NULL }, .rid_first = 0, .rid_last = 0xffff,
		.cache_entries = cache, .fault_log = log, .flags = flags,
	};

	assert_non_null(e);
	e->apic.ret = 1;
	cfg.apic.ctx = &e->apic;
	if (sink)
		cfg.apic = *sink;
	e->s = s;
	e->eime = eime;
	assert_int_equal(ims__dma_create(&e->dma), 0);
	cfg.dma = e->dma;
	e->table_bytes = (size_t)(2u << s) * IMS_IRTE_SIZE;
	e->table = ims__dma_alloc_aligned(e->table_bytes, 4096, "test_table");
	e->iq = ims__dma_alloc_aligned(IQ_BYTES, 4096, "test_iq");
	e->status = ims__dma_alloc_aligned(64, 64, "test_status");
	e->pids = ims__dma_alloc_aligned(PIDS_BYTES, 64, "test_pid");
	assert_non_null(e->table);
	assert_non_null(e->iq);
	assert_int_equal(ims__dma_register(e->dma, e->table, e->table_bytes), 0);
	assert_int_equal(ims__dma_register(e->dma, e->iq, IQ_BYTES), 0);
	assert_int_equal(ims__dma_register(e->dma, e->status, 64), 0);
	assert_int_equal(ims__dma_register(e->dma, e->pids, PIDS_BYTES), 0);
	assert_int_equal(ims__ir_unit_create(&cfg, &e->u), 0);
	ims__ir_unit_write(e->u, IMS_IR_REG_IRTA,
			   ims__dma_addr(e->table) | (eime ? IMS_IR_IRTA_EIME : 0) | s);
	ims__ir_unit_write(e->u, IMS_IR_REG_GCMD, IMS_IR_GCMD_SIRTP);
	ims__ir_unit_write(e->u, IMS_IR_REG_IQA, ims__dma_addr(e->iq));
	ims__ir_unit_write(e->u, IMS_IR_REG_GCMD, IMS_IR_GCMD_SIRTP | IMS_IR_GCMD_QIE);
	ims__ir_unit_write(e->u, IMS_IR_REG_GCMD,
			   IMS_IR_GCMD_QIE | IMS_IR_GCMD_IRE | (cfi ? IMS_IR_GCMD_CFI : 0));
	return e;
}

static inline struct ir_env *ir_env_new(uint32_t s, uint32_t flags, bool eime, bool cfi, uint32_t cache,
					uint32_t log)
{
	return ir_env_new_sink(s, flags, eime, cfi, cache, log, NULL);
}

static inline void ir_env_free(struct ir_env *e)
{
	ims__ir_unit_destroy(e->u);
	assert_int_equal(ims__dma_unregister(e->dma, e->table), 0);
	assert_int_equal(ims__dma_unregister(e->dma, e->iq), 0);
	assert_int_equal(ims__dma_unregister(e->dma, e->status), 0);
	assert_int_equal(ims__dma_unregister(e->dma, e->pids), 0);
	assert_int_equal(ims__dma_destroy(e->dma), 0);
	ims__dma_free_aligned(e->table, e->table_bytes, 4096);
	ims__dma_free_aligned(e->iq, IQ_BYTES, 4096);
	ims__dma_free_aligned(e->status, 64, 64);
	ims__dma_free_aligned(e->pids, PIDS_BYTES, 64);
	free(e);
}

static inline void ir_set(struct ir_env *e, uint32_t index, uint64_t lo, uint64_t hi)
{
	struct ims_u128 v = { ims__cpu_to_le64(lo), ims__cpu_to_le64(hi) };

	ims__atomic128_store(&e->table[index * 2], v);
}

static inline void ir_qi(struct ir_env *e, uint64_t lo, uint64_t hi)
{
	e->iq[e->iq_tail * 2] = lo;
	e->iq[e->iq_tail * 2 + 1] = hi;
	e->iq_tail = (e->iq_tail + 1) % 256;
}

/* Queue descriptors end with a wait whose status write proves completion. */
static inline void ir_qi_submit(struct ir_env *e)
{
	static uint32_t token = 1;

	token++;
	ir_qi(e, IMS_IR_QI_WAIT | IMS_IR_QI_WAIT_SW | (uint64_t)token << IMS_IR_QI_WAIT_DATA_SHIFT,
	      ims__dma_addr(e->status));
	ims__ir_unit_write(e->u, IMS_IR_REG_IQT, (uint64_t)e->iq_tail << IMS_IR_IQ_SHIFT);
	assert_int_equal(__atomic_load_n(e->status, __ATOMIC_ACQUIRE), token);
}

static inline void ir_inv_index(struct ir_env *e, uint32_t index, uint32_t im)
{
	ir_qi(e, IMS_IR_QI_IEC | IMS_IR_QI_IEC_INDEX | (uint64_t)im << IMS_IR_QI_IEC_IM_SHIFT |
		 (uint64_t)index << IMS_IR_QI_IEC_IIDX_SHIFT, 0);
	ir_qi_submit(e);
}

static inline void ir_inv_global(struct ir_env *e)
{
	ir_qi(e, IMS_IR_QI_IEC, 0);
	ir_qi_submit(e);
}

/* A remapped entry in xAPIC or x2APIC form. */
static inline void ir_remapped(struct ir_env *e, uint32_t index, uint8_t vector, uint32_t apic_id,
			       uint16_t sid, uint8_t svt, uint8_t sq)
{
	struct ims_irte t = { .present = true, .vector = vector, .sid = sid, .svt = svt, .sq = sq,
			      .dest = e->eime ? apic_id : apic_id << 8 };
	uint64_t lo, hi;

	assert_int_equal(ims_irte_encode(&t, &lo, &hi), 0);
	ir_set(e, index, lo, hi);
}

static inline int ir_raise(struct ir_env *e, uint16_t handle, bool shv, uint32_t data, uint16_t rid,
			   struct ims_ir_outcome *out)
{
	struct ims_hw_msi_write w = { .addr = ims__msi_remap_addr(handle, shv), .data = data, .rid = rid };

	return ims__ir_unit_handle(e->u, &w, out);
}

#endif
