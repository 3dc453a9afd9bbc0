/*
 * The reference accelerator model. One lock (the device lock) guards the
 * WQs, their rings, the error and command registers and the counters; it
 * is taken inside the configuration lock by register accesses, alone by
 * ims__hw_accel_step(), and held while a completion is signalled, so that
 * once a WQ disable command has returned no completion of that WQ is
 * written or signalled any more.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "hw/accel/accel.h"
#include "hw/dma.h"
#include "hw/pci/siov_dvsec.h"
#include "util/alloc.h"
#include "util/bitmap.h"
#include "util/lock.h"
#include "util/log.h"
#include "util/rcu.h"

#define MAX_WQS 4096
#define MAX_DEPTH 1024
#define MAX_IMS 65536
#define DESC_DW (IMS_ACCEL_DESC_SIZE / 4)

struct hw_wq {
	uint32_t ctrl;			/* WQCFG CTRL */
	bool enabled;
	uint32_t head, count;		/* ring of wq_depth descriptors */
	uint32_t staged[DESC_DW];	/* the portal's write buffer */
};

struct ims_hw_accel {
	struct ims_hw_accel_params p;
	struct ims_hw_pci_cfg *cfg;
	struct ims_hw_msix *msix;
	struct ims_hw_ims_array *ims;
	uint32_t wqcfg_off, portal_off, ims_off;
	struct ims_hw_mmio_region regs_region, wqcfg_region, portal_region;

	/*
	 * Device lock: guards everything below. Order: config lock, device
	 * lock, then the IMS array's or MSI-X's lock, then the sink.
	 */
	struct ims_mutex lock;
	bool enabled;
	uint32_t cmdsts;
	uint32_t err_status, err_info, err_count;
	struct hw_wq *wqs;
	uint32_t (*ring)[DESC_DW];	/* nr_wqs * wq_depth descriptors */
	uint64_t *busy;			/* WQs with queued descriptors */
	uint32_t cursor;		/* round robin: next WQ to look at */
	uint32_t queued;
	struct ims_hw_accel_stats stats;

	/* The device thread; kick_lock guards kicks and stop (a leaf). */
	pthread_t thread;
	atomic_bool thread_running;	/* read by portal stores to decide to kick */
	pthread_mutex_t kick_lock;
	pthread_cond_t kick_cond;
	uint64_t kicks;
	bool stop;
};

static uint32_t round_up(uint32_t v, uint32_t to)
{
	return (v + to - 1) / to * to;
}

static void kick(struct ims_hw_accel *a)
{
	pthread_mutex_lock(&a->kick_lock);
	a->kicks++;
	pthread_cond_signal(&a->kick_cond);
	pthread_mutex_unlock(&a->kick_lock);
}

/* Latch the first error, count every one, and raise the admin vector. */
static void record_error_locked(struct ims_hw_accel *a, enum ims_accel_err code, uint32_t wq,
				uint32_t info)
{
	ims__assert_mutex_held(&a->lock);
	a->stats.errors[code]++;
	a->err_count++;
	if (a->err_status & IMS_ACCEL_ERR_VALID) {
		a->err_status |= IMS_ACCEL_ERR_OVERFLOW;
	} else {
		a->err_status = IMS_ACCEL_ERR_VALID | (uint32_t)code << IMS_ACCEL_ERR_CODE_SHIFT |
				(wq & 0xffffu) << IMS_ACCEL_ERR_WQ_SHIFT;
		a->err_info = info;
	}
	ims__hw_msix_signal(a->msix, IMS_ACCEL_MSIX_ADMIN);
}

/* ---- WQs ---- */

static void wq_disable_locked(struct ims_hw_accel *a, uint32_t w)
{
	struct hw_wq *wq = &a->wqs[w];

	ims__assert_mutex_held(&a->lock);
	a->stats.dropped += wq->count;
	a->queued -= wq->count;
	wq->count = 0;
	wq->head = 0;
	wq->enabled = false;
	memset(wq->staged, 0, sizeof(wq->staged));
	ims__clear_bit(a->busy, w);
}

static uint32_t command_locked(struct ims_hw_accel *a, uint32_t cmd)
{
	uint32_t op = cmd >> IMS_ACCEL_CMD_OP_SHIFT, w = cmd & IMS_ACCEL_CMD_WQ_MASK;

	ims__assert_mutex_held(&a->lock);
	if (cmd & IMS_ACCEL_CMD_RESERVED)
		return IMS_ACCEL_CMDSTS_INVALID;
	switch (op) {
	case IMS_ACCEL_CMD_ENABLE_DEV:
		a->enabled = true;
		return IMS_ACCEL_CMDSTS_OK;
	case IMS_ACCEL_CMD_DISABLE_DEV:
		for (uint32_t i = 0; i < a->p.nr_wqs; i++)
			wq_disable_locked(a, i);
		a->enabled = false;
		return IMS_ACCEL_CMDSTS_OK;
	case IMS_ACCEL_CMD_ENABLE_WQ:
		if (w >= a->p.nr_wqs)
			return IMS_ACCEL_CMDSTS_INVALID;
		if (!a->enabled || a->wqs[w].enabled)
			return IMS_ACCEL_CMDSTS_BAD_STATE;
		a->wqs[w].enabled = true;
		return IMS_ACCEL_CMDSTS_OK;
	case IMS_ACCEL_CMD_DISABLE_WQ:
		if (w >= a->p.nr_wqs)
			return IMS_ACCEL_CMDSTS_INVALID;
		wq_disable_locked(a, w);
		return IMS_ACCEL_CMDSTS_OK;
	default:
		return IMS_ACCEL_CMDSTS_INVALID;
	}
}

/* Check a whole descriptor as the portal's last store completes it. */
static enum ims_accel_err check_desc_locked(struct ims_hw_accel *a, uint32_t w, const uint32_t *d,
					    uint32_t *info)
{
	const struct hw_wq *wq = &a->wqs[w];
	uint32_t op = d[IMS_ACCEL_DESC_OP / 4], pasid = d[IMS_ACCEL_DESC_PASID / 4];
	uint32_t handle = d[IMS_ACCEL_DESC_HANDLE / 4], idx = handle & IMS_ACCEL_HANDLE_INDEX_MASK;
	bool wq_pasid = wq->ctrl & IMS_ACCEL_WQCFG_PASID_EN;

	ims__assert_mutex_held(&a->lock);
	*info = 0;
	if (!a->enabled || !wq->enabled)
		return IMS_ACCEL_ERR_WQ_DISABLED;
	if ((op & IMS_ACCEL_DESC_OP_RESERVED) || (pasid & IMS_ACCEL_DESC_PASID_RESERVED) ||
	    (handle & IMS_ACCEL_HANDLE_RESERVED) || d[IMS_ACCEL_DESC_RSVD / 4])
		return IMS_ACCEL_ERR_BAD_DESC;
	if ((op & IMS_ACCEL_DESC_OP_MASK) >= IMS_ACCEL_OP_MAX)
		return IMS_ACCEL_ERR_BAD_OPCODE;
	*info = pasid;
	if (!!(pasid & IMS_ACCEL_DESC_PASID_VALID) != wq_pasid ||
	    (wq_pasid && (pasid & IMS_ACCEL_DESC_PASID_MASK) != wq->ctrl >> IMS_ACCEL_WQCFG_PASID_SHIFT))
		return IMS_ACCEL_ERR_BAD_PASID;
	*info = handle;
	if (op & IMS_ACCEL_DESC_RCI) {
		if (handle & IMS_ACCEL_HANDLE_MSIX) {
			if (!(wq->ctrl & IMS_ACCEL_WQCFG_MSIX_OK) || idx == IMS_ACCEL_MSIX_ADMIN ||
			    idx >= a->p.nr_msix)
				return IMS_ACCEL_ERR_BAD_HANDLE;
		} else if (idx >= a->p.nr_ims) {
			return IMS_ACCEL_ERR_BAD_HANDLE;
		}
	}
	*info = d[IMS_ACCEL_DESC_COMPL_LO / 4];
	if ((op & IMS_ACCEL_DESC_CRAV) && (*info % IMS_ACCEL_CR_ALIGN))
		return IMS_ACCEL_ERR_BAD_COMPL_ADDR;
	*info = 0;
	if (wq->count == a->p.wq_depth)
		return IMS_ACCEL_ERR_QUEUE_FULL;
	return IMS_ACCEL_ERR_NONE;
}

static void submit_locked(struct ims_hw_accel *a, uint32_t w)
{
	struct hw_wq *wq = &a->wqs[w];
	enum ims_accel_err err;
	uint32_t info;

	ims__assert_mutex_held(&a->lock);
	err = check_desc_locked(a, w, wq->staged, &info);
	if (err) {
		record_error_locked(a, err, w, info);
	} else {
		uint32_t slot = (wq->head + wq->count) % a->p.wq_depth;

		memcpy(a->ring[(size_t)w * a->p.wq_depth + slot], wq->staged, sizeof(wq->staged));
		wq->count++;
		a->queued++;
		a->stats.submitted++;
		ims__set_bit(a->busy, w);
	}
	/* A portal store is a whole descriptor: nothing carries over. */
	memset(wq->staged, 0, sizeof(wq->staged));
}

/* Write the completion record, then raise the interrupt it asks for. */
static void complete_locked(struct ims_hw_accel *a, uint32_t w, const uint32_t *d)
{
	uint32_t op = d[IMS_ACCEL_DESC_OP / 4], pasid = d[IMS_ACCEL_DESC_PASID / 4];
	uint32_t handle = d[IMS_ACCEL_DESC_HANDLE / 4];
	uint64_t result = 0;

	ims__assert_mutex_held(&a->lock);
	a->stats.completed++;
	if ((op & IMS_ACCEL_DESC_OP_MASK) == IMS_ACCEL_OP_ECHO)
		result = (uint64_t)d[IMS_ACCEL_DESC_OPERAND_HI / 4] << 32 | d[IMS_ACCEL_DESC_OPERAND_LO / 4];
	if (op & IMS_ACCEL_DESC_CRAV) {
		uint64_t addr = (uint64_t)d[IMS_ACCEL_DESC_COMPL_HI / 4] << 32 | d[IMS_ACCEL_DESC_COMPL_LO / 4];
		uint8_t *cr = a->p.mem.map ? a->p.mem.map(a->p.mem.ctx, addr, IMS_ACCEL_CR_SIZE) : NULL;

		if (!cr) {
			/* Not DMA-able: the descriptor fails and raises nothing. */
			if (a->p.mem.put && a->p.mem.map)
				a->p.mem.put(a->p.mem.ctx);
			record_error_locked(a, IMS_ACCEL_ERR_BAD_COMPL_ADDR, w, (uint32_t)addr);
			return;
		}
		memcpy(cr + IMS_ACCEL_CR_RESULT, &result, sizeof(result));
		/* The status last, so a reader that sees it sees the result. */
		__atomic_store_n((uint32_t *)(void *)(cr + IMS_ACCEL_CR_STATUS),
				 IMS_ACCEL_CR_STATUS_SUCCESS, __ATOMIC_RELEASE);
		if (a->p.mem.put)
			a->p.mem.put(a->p.mem.ctx);
	}
	if (!(op & IMS_ACCEL_DESC_RCI))
		return;
	if (handle & IMS_ACCEL_HANDLE_MSIX) {
		if (!ims__hw_msix_signal(a->msix, handle & IMS_ACCEL_HANDLE_INDEX_MASK))
			a->stats.irqs++;
		return;
	}
	if (ims__hw_ims_array_signal(a->ims, handle & IMS_ACCEL_HANDLE_INDEX_MASK,
				     pasid & IMS_ACCEL_DESC_PASID_VALID,
				     pasid & IMS_ACCEL_DESC_PASID_MASK) == -EPERM)
		record_error_locked(a, IMS_ACCEL_ERR_IRQ_REFUSED, w, handle);
	else
		a->stats.irqs++;
}

unsigned int ims__hw_accel_step(struct ims_hw_accel *a, unsigned int n)
{
	unsigned int done = 0;

	ims__mutex_lock(&a->lock);
	while (done < n && a->queued) {
		uint32_t w = (uint32_t)ims__find_next_bit(a->busy, a->p.nr_wqs, a->cursor);
		struct hw_wq *wq;
		uint32_t d[DESC_DW];

		if (w >= a->p.nr_wqs)
			w = (uint32_t)ims__find_next_bit(a->busy, a->p.nr_wqs, 0);
		if (IMS_NEVER(w >= a->p.nr_wqs))
			break;
		wq = &a->wqs[w];
		memcpy(d, a->ring[(size_t)w * a->p.wq_depth + wq->head], sizeof(d));
		wq->head = (wq->head + 1) % a->p.wq_depth;
		if (--wq->count == 0)
			ims__clear_bit(a->busy, w);
		a->queued--;
		a->cursor = w + 1;
		complete_locked(a, w, d);
		done++;
	}
	ims__mutex_unlock(&a->lock);
	return done;
}

unsigned int ims__hw_accel_queued(struct ims_hw_accel *a)
{
	unsigned int n;

	ims__mutex_lock(&a->lock);
	n = a->queued;
	ims__mutex_unlock(&a->lock);
	return n;
}

/* ---- registers ---- */

static int regs_read(void *ctx, uint64_t off, uint32_t size, uint64_t *val)
{
	struct ims_hw_accel *a = ctx;

	(void)size;
	ims__mutex_lock(&a->lock);
	switch (off) {
	case IMS_ACCEL_REG_VERSION: *val = IMS_ACCEL_VERSION_1; break;
	case IMS_ACCEL_REG_WQCAP:
		*val = a->p.nr_wqs | (uint32_t)a->p.wq_depth << IMS_ACCEL_WQCAP_DEPTH_SHIFT;
		break;
	case IMS_ACCEL_REG_IMSCAP: *val = a->p.nr_ims; break;
	case IMS_ACCEL_REG_IMS_OFFSET: *val = a->ims_off; break;
	case IMS_ACCEL_REG_WQCFG_OFFSET: *val = a->wqcfg_off; break;
	case IMS_ACCEL_REG_PORTAL_OFFSET: *val = a->portal_off; break;
	case IMS_ACCEL_REG_OPCAP: *val = (1u << IMS_ACCEL_OP_MAX) - 1; break;
	case IMS_ACCEL_REG_CMDSTS: *val = a->cmdsts; break;
	case IMS_ACCEL_REG_GENSTS: *val = a->enabled ? IMS_ACCEL_GENSTS_ENABLED : 0; break;
	case IMS_ACCEL_REG_ERR_STATUS: *val = a->err_status; break;
	case IMS_ACCEL_REG_ERR_INFO: *val = a->err_info; break;
	case IMS_ACCEL_REG_ERR_COUNT: *val = a->err_count; break;
	default: *val = 0; break;	/* reserved: reads 0 */
	}
	ims__mutex_unlock(&a->lock);
	return 0;
}

static int regs_write(void *ctx, uint64_t off, uint32_t size, uint64_t val)
{
	struct ims_hw_accel *a = ctx;
	uint32_t v = (uint32_t)val;

	(void)size;
	ims__mutex_lock(&a->lock);
	if (off == IMS_ACCEL_REG_CMD) {
		a->cmdsts = command_locked(a, v);
	} else if (off == IMS_ACCEL_REG_ERR_STATUS) {
		uint32_t clear = v & (IMS_ACCEL_ERR_VALID | IMS_ACCEL_ERR_OVERFLOW);

		/* Clearing VALID frees the latch for the next error. */
		if (clear & IMS_ACCEL_ERR_VALID)
			a->err_status = a->err_info = 0;
		else
			a->err_status &= ~clear;
	}
	/* Everything else is read-only: writes are ignored. */
	ims__mutex_unlock(&a->lock);
	return 0;
}

static const struct ims_hw_mmio_ops regs_ops = {
	.name = "accel-regs", .read = regs_read, .write = regs_write, .sizes = IMS_HW_MMIO_SIZE(4),
};

static int wqcfg_read(void *ctx, uint64_t off, uint32_t size, uint64_t *val)
{
	struct ims_hw_accel *a = ctx;
	const struct hw_wq *wq = &a->wqs[off / IMS_ACCEL_WQCFG_SIZE];

	(void)size;
	ims__mutex_lock(&a->lock);
	switch (off % IMS_ACCEL_WQCFG_SIZE) {
	case IMS_ACCEL_WQCFG_CTRL: *val = wq->ctrl; break;
	case IMS_ACCEL_WQCFG_STATUS:
		*val = (wq->enabled ? IMS_ACCEL_WQSTS_ENABLED : 0) | wq->count;
		break;
	default: *val = 0; break;
	}
	ims__mutex_unlock(&a->lock);
	return 0;
}

static int wqcfg_write(void *ctx, uint64_t off, uint32_t size, uint64_t val)
{
	struct ims_hw_accel *a = ctx;
	struct hw_wq *wq = &a->wqs[off / IMS_ACCEL_WQCFG_SIZE];

	(void)size;
	ims__mutex_lock(&a->lock);
	/* A WQ's PASID and permissions change only while it is disabled. */
	if (off % IMS_ACCEL_WQCFG_SIZE == IMS_ACCEL_WQCFG_CTRL && !wq->enabled)
		wq->ctrl = (uint32_t)val & IMS_ACCEL_WQCFG_WRITABLE;
	ims__mutex_unlock(&a->lock);
	return 0;
}

static const struct ims_hw_mmio_ops wqcfg_ops = {
	.name = "accel-wqcfg", .read = wqcfg_read, .write = wqcfg_write, .sizes = IMS_HW_MMIO_SIZE(4),
};

static int portal_read(void *ctx, uint64_t off, uint32_t size, uint64_t *val)
{
	(void)ctx;
	(void)off;
	(void)size;
	*val = 0;	/* portals are write-only */
	return 0;
}

static int portal_write(void *ctx, uint64_t off, uint32_t size, uint64_t val)
{
	struct ims_hw_accel *a = ctx;
	uint32_t w = (uint32_t)(off / IMS_ACCEL_PORTAL_STRIDE);
	uint32_t at = (uint32_t)(off % IMS_ACCEL_PORTAL_STRIDE);
	bool submitted = false;

	if (at >= IMS_ACCEL_DESC_SIZE)
		return 0;	/* the rest of the portal ignores stores */
	ims__mutex_lock(&a->lock);
	a->wqs[w].staged[at / 4] = (uint32_t)val;
	if (size == 8)
		a->wqs[w].staged[at / 4 + 1] = (uint32_t)(val >> 32);
	if (at + size == IMS_ACCEL_DESC_SIZE) {
		submit_locked(a, w);
		submitted = true;
	}
	ims__mutex_unlock(&a->lock);
	if (submitted && a->thread_running)
		kick(a);
	return 0;
}

static const struct ims_hw_mmio_ops portal_ops = {
	.name = "accel-portal", .read = portal_read, .write = portal_write,
	.sizes = IMS_HW_MMIO_SIZE(4) | IMS_HW_MMIO_SIZE(8),
};

/* ---- device thread ---- */

static void *device_thread(void *arg)
{
	struct ims_hw_accel *a = arg;

	for (;;) {
		uint64_t seen;

		pthread_mutex_lock(&a->kick_lock);
		seen = a->kicks;
		if (a->stop) {
			pthread_mutex_unlock(&a->kick_lock);
			return NULL;
		}
		pthread_mutex_unlock(&a->kick_lock);
		if (ims__hw_accel_step(a, 64))
			continue;
		pthread_mutex_lock(&a->kick_lock);
		while (!a->stop && a->kicks == seen)
			pthread_cond_wait(&a->kick_cond, &a->kick_lock);
		pthread_mutex_unlock(&a->kick_lock);
	}
}

int ims__hw_accel_thread_start(struct ims_hw_accel *a)
{
	if (a->thread_running)
		return ims__error(-EBUSY, "accel: the device thread already runs");
	a->stop = false;
	a->thread_running = true;
	if (pthread_create(&a->thread, NULL, device_thread, a)) {
		a->thread_running = false;
		return ims__error(-EAGAIN, "accel: cannot start the device thread");
	}
	return 0;
}

void ims__hw_accel_thread_stop(struct ims_hw_accel *a)
{
	if (!a->thread_running)
		return;
	pthread_mutex_lock(&a->kick_lock);
	a->stop = true;
	pthread_cond_signal(&a->kick_cond);
	pthread_mutex_unlock(&a->kick_lock);
	pthread_join(a->thread, NULL);
	a->thread_running = false;
}

/* ---- construction ---- */

static uint64_t pow2_at_least(uint64_t v)
{
	uint64_t s = 0x4000;

	while (s < v)
		s <<= 1;
	return s;
}

static void accel_free(struct ims_hw_accel *a)
{
	ims__hw_msix_destroy(a->msix);
	if (a->cfg)
		ims__hw_pci_cfg_destroy(a->cfg);
	ims__hw_ims_array_destroy(a->ims);
	if (a->busy)
		ims__free(a->busy, IMS_BITMAP_WORDS(a->p.nr_wqs) * sizeof(uint64_t));
	if (a->ring)
		ims__free(a->ring, (size_t)a->p.nr_wqs * a->p.wq_depth * sizeof(*a->ring));
	if (a->wqs)
		ims__free(a->wqs, a->p.nr_wqs * sizeof(*a->wqs));
	pthread_cond_destroy(&a->kick_cond);
	pthread_mutex_destroy(&a->kick_lock);
	ims__mutex_destroy(&a->lock);
	ims__free(a, sizeof(*a));
}

static int build_function(struct ims_hw_accel *a, const struct ims_hw_msi_sink *sink)
{
	struct ims_hw_pci_cfg_params cp = {
		.vendor_id = IMS_ACCEL_VENDOR_ID, .device_id = IMS_ACCEL_DEVICE_ID, .revision = 1,
		.class_code = 0x088000, .subsys_vendor_id = IMS_ACCEL_VENDOR_ID,
		.subsys_id = IMS_ACCEL_DEVICE_ID, .rid = a->p.rid, .extended = true,
	};
	struct ims_hw_siov_dvsec_params dp = { .ims_supported = a->p.dvsec_ims };
	uint32_t pba_off = round_up((uint32_t)a->p.nr_msix * IMS_PCI_MSIX_ENTRY_SIZE, 0x1000);
	struct ims_hw_msix_params mp = {
		.nr_entries = a->p.nr_msix, .table_bar = IMS_ACCEL_MSIX_BAR, .table_offset = 0,
		.pba_bar = IMS_ACCEL_MSIX_BAR, .pba_offset = pba_off,
	};
	struct ims_hw_ims_array_params ap = { a->p.nr_ims, a->p.rid };
	struct ims_hw_mmio_region r;
	uint64_t bar0_size;
	uint16_t off;
	int err;

	a->wqcfg_off = IMS_ACCEL_REGS_SIZE;
	a->portal_off = a->wqcfg_off + round_up((uint32_t)a->p.nr_wqs * IMS_ACCEL_WQCFG_SIZE, 0x1000);
	a->ims_off = a->portal_off + round_up((uint32_t)a->p.nr_wqs * IMS_ACCEL_PORTAL_STRIDE, 0x1000);
	bar0_size = pow2_at_least(a->ims_off + (uint64_t)a->p.nr_ims * IMS_SLOT_SIZE);

	err = ims__hw_pci_cfg_create(&cp, &a->cfg);
	err = err ? err : ims__hw_pci_bar_add(a->cfg, IMS_ACCEL_REG_BAR, bar0_size, IMS_HW_PCI_BAR_64BIT);
	err = err ? err : ims__hw_pci_bar_add(a->cfg, IMS_ACCEL_MSIX_BAR,
					      pow2_at_least(pba_off + 8u * IMS_BITMAP_WORDS(a->p.nr_msix)),
					      IMS_HW_PCI_BAR_64BIT);
	err = err ? err : ims__hw_msix_create(a->cfg, &mp, sink, &a->msix);
	err = err ? err : ims__hw_pci_add_siov_dvsec(a->cfg, &dp, &off);
	if (err)
		return err;
	a->regs_region = (struct ims_hw_mmio_region){ &regs_ops, a, IMS_ACCEL_REGS_SIZE };
	a->wqcfg_region = (struct ims_hw_mmio_region){ &wqcfg_ops, a,
						       (uint64_t)a->p.nr_wqs * IMS_ACCEL_WQCFG_SIZE };
	a->portal_region = (struct ims_hw_mmio_region){ &portal_ops, a,
							(uint64_t)a->p.nr_wqs * IMS_ACCEL_PORTAL_STRIDE };
	err = ims__hw_pci_bar_map(a->cfg, IMS_ACCEL_REG_BAR, 0, &a->regs_region);
	err = err ? err : ims__hw_pci_bar_map(a->cfg, IMS_ACCEL_REG_BAR, a->wqcfg_off, &a->wqcfg_region);
	err = err ? err : ims__hw_pci_bar_map(a->cfg, IMS_ACCEL_REG_BAR, a->portal_off, &a->portal_region);
	if (err || !a->p.nr_ims)
		return err;
	err = ims__hw_ims_array_create(&ap, sink, &a->ims);
	if (err)
		return err;
	ims__hw_ims_array_region(a->ims, &r);
	return ims__hw_pci_bar_map(a->cfg, IMS_ACCEL_REG_BAR, a->ims_off, &r);
}

int ims__hw_accel_create(const struct ims_hw_accel_params *p, const struct ims_hw_msi_sink *sink,
			 struct ims_hw_accel **out)
{
	struct ims_hw_accel *a;
	int err;

	if (!p || !sink || !sink->fn || !out)
		return ims__error(-EINVAL, "accel: NULL parameters, sink or out");
	if (!p->nr_wqs || p->nr_wqs > MAX_WQS || !p->wq_depth || p->wq_depth > MAX_DEPTH)
		return ims__error(-EINVAL, "accel: %u WQs of depth %u: need 1..%u WQs of depth 1..%u",
				  p->nr_wqs, p->wq_depth, MAX_WQS, MAX_DEPTH);
	if (p->nr_ims > MAX_IMS)
		return ims__error(-EINVAL, "accel: %u IMS slots exceed %u", p->nr_ims, MAX_IMS);
	if (p->nr_msix < 2 || p->nr_msix > IMS_PCI_MSIX_MAX_ENTRIES)
		return ims__error(-EINVAL, "accel: %u MSI-X entries is not 2..%u", p->nr_msix,
				  IMS_PCI_MSIX_MAX_ENTRIES);
	a = ims__zalloc(sizeof(*a), "accel");
	if (!a)
		return -ENOMEM;
	a->p = *p;
	ims__mutex_init(&a->lock);
	pthread_mutex_init(&a->kick_lock, NULL);
	pthread_cond_init(&a->kick_cond, NULL);
	err = -ENOMEM;
	a->wqs = ims__calloc(p->nr_wqs, sizeof(*a->wqs), "accel_wqs");
	if (!a->wqs)
		goto fail;
	a->ring = ims__calloc((size_t)p->nr_wqs * p->wq_depth, sizeof(*a->ring), "accel_ring");
	if (!a->ring)
		goto fail;
	a->busy = ims__calloc(IMS_BITMAP_WORDS(p->nr_wqs), sizeof(uint64_t), "accel_busy");
	if (!a->busy)
		goto fail;
	err = build_function(a, sink);
	if (err)
		goto fail;
	*out = a;
	return 0;
fail:
	accel_free(a);
	return err;
}

void ims__hw_accel_destroy(struct ims_hw_accel *a)
{
	if (!a)
		return;
	ims__hw_accel_thread_stop(a);
	accel_free(a);
}

struct ims_hw_pci_cfg *ims__hw_accel_cfg(struct ims_hw_accel *a)
{
	return a->cfg;
}

struct ims_hw_ims_array *ims__hw_accel_ims(struct ims_hw_accel *a)
{
	return a->ims;
}

struct ims_hw_msix *ims__hw_accel_msix(struct ims_hw_accel *a)
{
	return a->msix;
}

void ims__hw_accel_get_stats(struct ims_hw_accel *a, struct ims_hw_accel_stats *st)
{
	ims__mutex_lock(&a->lock);
	*st = a->stats;
	ims__mutex_unlock(&a->lock);
}

static void *dma_map(void *ctx, uint64_t addr, size_t len)
{
	ims__rcu_read_lock();
	return ims__dma_map(ctx, addr, len);
}

static void dma_put(void *ctx)
{
	(void)ctx;
	ims__rcu_read_unlock();
}

void ims__hw_accel_mem_from_dma(struct ims_hw_dma *dma, struct ims_hw_accel_mem *mem)
{
	mem->map = dma_map;
	mem->put = dma_put;
	mem->ctx = dma;
}
