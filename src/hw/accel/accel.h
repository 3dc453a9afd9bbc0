/*
 * The reference SIOV accelerator, hardware side: one PCI function with
 * MSI-X (entry 0 for errors), the SIOV DVSEC, and a register BAR holding
 * capability, command and error registers, a WQ configuration table, one
 * submission portal per WQ and an IMS slot array (ims/accel.h has the
 * layout, docs/accel.md the behaviour).
 *
 * Work is processed only when the platform says so: ims__hw_accel_step()
 * completes up to n queued descriptors, taking WQs round robin, so a
 * deterministic simulation decides when the device runs; or a device
 * thread (ims__hw_accel_thread_start) steps whenever work is queued.
 * Completing a descriptor writes its completion record through the
 * platform's DMA map (a record outside DMA-able memory is an error, never
 * a wild write) and raises the interrupt its handle names through the IMS
 * slot (with the descriptor's PASID, so the slot refuses another ADI's
 * PASID) or the MSI-X entry. Errors are latched in the error register and
 * signalled on MSI-X entry 0.
 */
#ifndef IMS_HW_ACCEL_H
#define IMS_HW_ACCEL_H

#include <ims/accel.h>

#include "hw/bus.h"
#include "hw/ims/ims_array.h"
#include "hw/pci/config.h"
#include "hw/pci/msix.h"

/*
 * DMA-able memory as the device sees it. map returns the host pointer for
 * [addr, addr + len) when that range is wholly DMA-able, else NULL; put
 * ends the use of a pointer map returned (optional). Called with the
 * device's lock held; must not call back into the device.
 */
struct ims_hw_accel_mem {
	void *(*map)(void *ctx, uint64_t addr, size_t len);
	void (*put)(void *ctx);
	void *ctx;
};

struct ims_hw_dma;
/*
 * The machine's DMA-able memory (hw/dma.h) as the device's: map looks the
 * range up inside an RCU read section that put ends.
 */
void ims__hw_accel_mem_from_dma(struct ims_hw_dma *dma, struct ims_hw_accel_mem *mem);

struct ims_hw_accel_params {
	uint16_t rid;
	uint16_t nr_wqs;	/* 1..4096 */
	uint16_t wq_depth;	/* descriptors per WQ, 1..1024 */
	uint32_t nr_ims;	/* IMS slots, 0..65536; 0: no array */
	uint16_t nr_msix;	/* 2..2048 */
	bool dvsec_ims;		/* the DVSEC's IMS-supported bit */
	struct ims_hw_accel_mem mem;
};

struct ims_hw_accel_stats {
	uint64_t submitted;	/* descriptors accepted */
	uint64_t completed;	/* descriptors processed */
	uint64_t dropped;	/* queued descriptors dropped by a WQ disable */
	uint64_t irqs;		/* completion interrupts sent or latched */
	uint64_t errors[IMS_ACCEL_ERR_MAX];
};

struct ims_hw_accel;

int ims__hw_accel_create(const struct ims_hw_accel_params *p, const struct ims_hw_msi_sink *sink,
			 struct ims_hw_accel **out);
/* Stops the device thread if it runs. */
void ims__hw_accel_destroy(struct ims_hw_accel *a);
struct ims_hw_pci_cfg *ims__hw_accel_cfg(struct ims_hw_accel *a);
struct ims_hw_ims_array *ims__hw_accel_ims(struct ims_hw_accel *a);
struct ims_hw_msix *ims__hw_accel_msix(struct ims_hw_accel *a);

/*
 * Complete up to n queued descriptors. Context: device side, any thread;
 * takes the device lock, then the IMS array's or MSI-X's lock, and calls
 * the sink under them. Return: descriptors completed.
 */
unsigned int ims__hw_accel_step(struct ims_hw_accel *a, unsigned int n);
/* Descriptors queued on every WQ. */
unsigned int ims__hw_accel_queued(struct ims_hw_accel *a);

/* A device thread that steps whenever work is queued; stop joins it. */
int ims__hw_accel_thread_start(struct ims_hw_accel *a);
void ims__hw_accel_thread_stop(struct ims_hw_accel *a);

void ims__hw_accel_get_stats(struct ims_hw_accel *a, struct ims_hw_accel_stats *st);

#endif
