/*
 * A minimal GIC "driver" for tests of the model itself and for its fuzzer:
 * it gives the GIC its tables and command queue as an OS would, sends raw
 * commands, and reports what the ITS said. Header-only so that only the
 * programs that use it carry it. Uses the model only through its register
 * and memory operations, plus the stats calls.
 */
#ifndef IMS_TESTS_GIC_HARNESS_H
#define IMS_TESTS_GIC_HARNESS_H

#include <string.h>

#include "hw/arm/gic.h"

#define GH_QUEUE_SIZE	(16u * 4096u)
#define GH_ITS_BASE	0x8080000ull
#define GH_MAX_CPUS	8u

struct gic_harness {
	struct ims_hw_gic *gic;
	struct ims_hw_msi_sink sink;
	uint32_t nr_cpus;
	uint64_t *queue;
	uint32_t cwriter;
	uint8_t *prop;
	size_t prop_size;
	void *pend[GH_MAX_CPUS];
	size_t pend_size;
	void *dt, *ct;
	size_t dt_size, ct_size;
};

static inline void *gh_alloc(struct gic_harness *h, size_t size, size_t align, uint64_t *pa)
{
	return ims__hw_gic_ops.mem_alloc(h->gic, size, align, pa);
}

static inline uint64_t gh_its_read(struct gic_harness *h, uint32_t off)
{
	return ims__hw_gic_ops.its_read(h->gic, off, 8);
}

static inline void gh_its_write(struct gic_harness *h, uint32_t off, uint64_t v)
{
	ims__hw_gic_ops.its_write(h->gic, off, 8, v);
}

static inline void gh_set_cfg(struct gic_harness *h, uint32_t intid, uint8_t v)
{
	__atomic_store_n(&h->prop[intid - IMS_LPI_BASE], v, __ATOMIC_RELAXED);
}

/* Build and program a GIC with lpi_bits INTID bits (14..16). */
static inline int gh_init(struct gic_harness *h, uint32_t nr_cpus, uint8_t lpi_bits)
{
	struct ims_hw_gic_params p = { .nr_cpus = nr_cpus, .its_base = GH_ITS_BASE,
				       .lpi_bits = lpi_bits };
	uint64_t pa;
	int ret;

	memset(h, 0, sizeof(*h));
	h->nr_cpus = nr_cpus;
	ret = ims__hw_gic_create(&p, &h->gic);
	if (ret)
		return ret;
	ims__hw_gic_msi_sink(h->gic, &h->sink);
	h->prop_size = (1u << lpi_bits) - IMS_LPI_BASE;
	h->prop = gh_alloc(h, h->prop_size, 4096, &pa);
	for (size_t i = 0; i < h->prop_size; i++)
		h->prop[i] = 0xa0 | IMS_LPI_CFG_RES1 | IMS_LPI_CFG_ENABLE;
	h->pend_size = (1u << lpi_bits) / 8;
	for (uint32_t c = 0; c < nr_cpus; c++) {
		h->pend[c] = gh_alloc(h, h->pend_size, IMS_GICR_PEND_ALIGN, &pa);
		ims__hw_gic_ops.rdist_write(h->gic, c, IMS_GICR_PROPBASER, 8,
					    (uint64_t)(uintptr_t)h->prop | (lpi_bits - 1u));
		ims__hw_gic_ops.rdist_write(h->gic, c, IMS_GICR_PENDBASER, 8, pa | IMS_GICR_PENDBASER_PTZ);
		ims__hw_gic_ops.rdist_write(h->gic, c, IMS_GICR_CTLR, 4, IMS_GICR_CTLR_ENABLE_LPIS);
		ims__hw_gic_ops.icc_write(h->gic, c, IMS_ICC_PMR, 0xff);
		ims__hw_gic_ops.icc_write(h->gic, c, IMS_ICC_IGRPEN1, 1);
	}
	h->queue = gh_alloc(h, GH_QUEUE_SIZE, 4096, &pa);
	gh_its_write(h, IMS_GITS_CBASER, IMS_GITS_CBASER_VALID | pa | (GH_QUEUE_SIZE / 4096 - 1));
	h->dt_size = 4096u * 16;	/* 8192 devices */
	h->dt = gh_alloc(h, h->dt_size, 4096, &pa);
	gh_its_write(h, IMS_GITS_BASER(0), IMS_GITS_BASER_VALID | pa | (h->dt_size / 4096 - 1));
	h->ct_size = 4096;		/* 512 collections */
	h->ct = gh_alloc(h, h->ct_size, 4096, &pa);
	gh_its_write(h, IMS_GITS_BASER(1), IMS_GITS_BASER_VALID | pa);
	gh_its_write(h, IMS_GITS_CTLR, IMS_GITS_CTLR_ENABLED);
	return 0;
}

static inline void gh_fini(struct gic_harness *h)
{
	ims__hw_gic_destroy(h->gic);
	h->gic = NULL;
}

/*
 * Queue one command and run it. Returns 0, or the ITS's error code when it
 * stalled; the stalled command is then replaced by a SYNC and retried, so
 * the queue goes on.
 */
static inline uint32_t gh_cmd(struct gic_harness *h, uint64_t c0, uint64_t c1, uint64_t c2, uint64_t c3)
{
	uint64_t *slot = h->queue + h->cwriter / 8, rd;
	uint32_t next = (h->cwriter + IMS_ITS_CMD_SIZE) % GH_QUEUE_SIZE, code = 0;

	__atomic_store_n(&slot[0], c0, __ATOMIC_RELAXED);
	__atomic_store_n(&slot[1], c1, __ATOMIC_RELAXED);
	__atomic_store_n(&slot[2], c2, __ATOMIC_RELAXED);
	__atomic_store_n(&slot[3], c3, __ATOMIC_RELAXED);
	h->cwriter = next;
	gh_its_write(h, IMS_GITS_CWRITER, next);
	rd = gh_its_read(h, IMS_GITS_CREADR);
	if (rd & IMS_GITS_CREADR_STALLED) {
		code = (uint32_t)gh_its_read(h, IMS_GITS_ERR_CODE);
		__atomic_store_n(&slot[0], (uint64_t)IMS_ITS_CMD_SYNC, __ATOMIC_RELAXED);
		__atomic_store_n(&slot[2], 0, __ATOMIC_RELAXED);
		gh_its_write(h, IMS_GITS_CWRITER, next | IMS_GITS_CWRITER_RETRY);
	}
	return code;
}

static inline uint32_t gh_mapd(struct gic_harness *h, uint32_t dev, uint32_t bits, uint64_t itt, bool v)
{
	return gh_cmd(h, IMS_ITS_CMD_MAPD | (uint64_t)dev << 32, bits - 1,
		      (itt & IMS_ITS_CMD_ITT_MASK) | (v ? IMS_ITS_CMD_VALID : 0), 0);
}

static inline uint32_t gh_mapc(struct gic_harness *h, uint32_t icid, uint64_t cpu, bool v)
{
	return gh_cmd(h, IMS_ITS_CMD_MAPC, 0,
		      icid | cpu << IMS_ITS_CMD_RDBASE_SHIFT | (v ? IMS_ITS_CMD_VALID : 0), 0);
}

static inline uint32_t gh_mapti(struct gic_harness *h, uint32_t dev, uint32_t ev, uint32_t lpi, uint32_t icid)
{
	return gh_cmd(h, IMS_ITS_CMD_MAPTI | (uint64_t)dev << 32, ev | (uint64_t)lpi << 32, icid, 0);
}

/* Commands naming a DeviceID and an EventID (MOVI takes an ICID). */
static inline uint32_t gh_ev(struct gic_harness *h, unsigned int cmd, uint32_t dev, uint32_t ev, uint32_t icid)
{
	return gh_cmd(h, cmd | (uint64_t)dev << 32, ev, icid, 0);
}

static inline void gh_fire(struct gic_harness *h, uint16_t rid, uint32_t eventid)
{
	struct ims_hw_msi_write w = { .addr = GH_ITS_BASE + IMS_GITS_TRANSLATER, .data = eventid, .rid = rid };

	h->sink.fn(h->sink.ctx, &w);
}

static inline uint32_t gh_ack(struct gic_harness *h, uint32_t cpu)
{
	return (uint32_t)ims__hw_gic_ops.icc_read(h->gic, cpu, IMS_ICC_IAR1);
}

static inline void gh_eoi(struct gic_harness *h, uint32_t cpu, uint32_t intid)
{
	ims__hw_gic_ops.icc_write(h->gic, cpu, IMS_ICC_EOIR1, intid);
}

#endif
