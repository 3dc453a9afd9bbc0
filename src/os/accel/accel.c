/*
 * The accelerator driver: probe, the admin vector, ADIs, submission and
 * completion. It reaches the device only through configuration space
 * accessors, the BARs' MMIO accessors and the completion records in
 * memory it made DMA-able; it never looks at the device model.
 *
 * Completion: each ADI owns one completion record per descriptor its WQ
 * can hold. A descriptor names its record and one of the ADI's vectors;
 * that vector's handler scans the records outstanding on it and retires
 * those whose status the device has written. An interrupt may find
 * nothing (its record was retired by an earlier one on the same vector,
 * or it was in flight while its vector changed owner): it is answered
 * IMS_IRQ_NONE and counted, never taken for someone else's completion.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "os/accel/accel_internal.h"
#include "util/alloc.h"
#include "util/bitmap.h"
#include "util/lock.h"
#include "util/log.h"

#define MAX_DEPTH 1024

struct ims_accel {
	char *name;
	struct ims_accel_info info;
	struct ims_device *dev;
	struct ims_array_chip *ims_chip;	/* NULL: MSI-X only */
	struct accel_msix msix;
	uint16_t msix_cap;
	uint32_t nr_wqs, wq_depth, nr_ims;
	uint32_t ims_off, wqcfg_off, portal_off;
	int admin_irq;
	uint16_t orig_cmd;			/* command register before probe */
	bool cmd_set;				/* probe changed it */

	/* lock guards wq_used and nr_adis. Taken before the device lock. */
	struct ims_mutex lock;
	uint64_t *wq_used;
	uint32_t nr_adis;

	/* err_lock guards err (the admin handler updates it). A leaf. */
	ims_spinlock_t err_lock;
	struct ims_accel_err_info err;
};

enum rec_state { REC_FREE = 0, REC_BUSY = 1, REC_DONE = 2 };

struct accel_rec {
	uint8_t state;			/* enum rec_state */
	uint8_t vec;
	uint16_t gen;			/* ticket generation */
	uint32_t status;
	uint64_t result;
};

struct adi_vec {
	struct ims_accel_adi *adi;
	unsigned int vec;
};

struct ims_accel_adi {
	struct ims_accel *acc;
	struct ims_accel_adi_info info;
	uint32_t wq;
	int group;
	enum ims_msi_domain_id domid;
	/* lock guards recs, hint and the portal's stores. Taken in handlers. */
	struct ims_mutex lock;
	struct accel_rec *recs;		/* wq_depth */
	uint32_t hint;
	void *cr_raw;			/* completion records: DMA-able memory */
	uint8_t *cr;			/* 32-byte aligned inside cr_raw */
	uint64_t cr_bus;
	atomic_uint_fast64_t completions, empty_irqs;
	struct ims_msi_map maps[IMS_ACCEL_ADI_MAX_VECS];
	struct adi_vec vecs[IMS_ACCEL_ADI_MAX_VECS];
};

static size_t cr_bytes(const struct ims_accel *acc)
{
	return (size_t)acc->wq_depth * IMS_ACCEL_CR_SIZE;
}

/* ---- registers ---- */

static int reg_rd(struct ims_accel *acc, uint32_t off, uint32_t *val)
{
	int ret = acc->info.bar[IMS_ACCEL_REG_BAR].read32(acc->info.bar[IMS_ACCEL_REG_BAR].ctx, off, val);

	return ret ? ims__error(-EIO, "accel %s: register read at 0x%x failed (%d)", acc->name, off, ret)
		   : 0;
}

static int reg_wr(struct ims_accel *acc, uint32_t off, uint32_t val)
{
	int ret = acc->info.bar[IMS_ACCEL_REG_BAR].write32(acc->info.bar[IMS_ACCEL_REG_BAR].ctx, off, val);

	return ret ? ims__error(-EIO, "accel %s: register write at 0x%x failed (%d)", acc->name, off,
				ret)
		   : 0;
}

static int command(struct ims_accel *acc, uint32_t op, uint32_t wq)
{
	uint32_t sts;
	int ret = reg_wr(acc, IMS_ACCEL_REG_CMD, op << IMS_ACCEL_CMD_OP_SHIFT | wq);

	ret = ret ? ret : reg_rd(acc, IMS_ACCEL_REG_CMDSTS, &sts);
	if (!ret && sts != IMS_ACCEL_CMDSTS_OK)
		ret = ims__error(-EIO, "accel %s: command %u (WQ %u) failed with status %u", acc->name,
				 op, wq, sts);
	return ret;
}

static int cfg_rd16(struct ims_accel *acc, uint32_t off, uint16_t *v)
{
	return ims_pci_cfg_read16(&acc->info.cfg, off, v);
}

static int cfg_wr16(struct ims_accel *acc, uint32_t off, uint16_t v)
{
	int ret = acc->info.cfg.write(acc->info.cfg.ctx, off, 2, v);

	return ret ? ims__error(-EIO, "accel %s: configuration write at 0x%x failed (%d)", acc->name,
				off, ret)
		   : 0;
}

/* ---- admin vector ---- */

static ims_irqreturn_t admin_handler(unsigned int irq, void *ctx)
{
	struct ims_accel *acc = ctx;
	uint32_t st, info = 0;

	(void)irq;
	if (reg_rd(acc, IMS_ACCEL_REG_ERR_STATUS, &st) || !(st & IMS_ACCEL_ERR_VALID))
		return IMS_IRQ_NONE;
	reg_rd(acc, IMS_ACCEL_REG_ERR_INFO, &info);
	reg_wr(acc, IMS_ACCEL_REG_ERR_STATUS, IMS_ACCEL_ERR_VALID | IMS_ACCEL_ERR_OVERFLOW);
	ims__spin_lock(&acc->err_lock);
	acc->err.count++;
	acc->err.by_code[(st & IMS_ACCEL_ERR_CODE_MASK) >> IMS_ACCEL_ERR_CODE_SHIFT < IMS_ACCEL_ERR_MAX
				 ? (st & IMS_ACCEL_ERR_CODE_MASK) >> IMS_ACCEL_ERR_CODE_SHIFT
				 : 0]++;
	acc->err.last_status = st;
	acc->err.last_info = info;
	ims__spin_unlock(&acc->err_lock);
	return IMS_IRQ_HANDLED;
}

IMS_API void ims_accel_errors(struct ims_accel *acc, struct ims_accel_err_info *out)
{
	ims__spin_lock(&acc->err_lock);
	*out = acc->err;
	ims__spin_unlock(&acc->err_lock);
}

/* ---- probe ---- */

static int check_info(const struct ims_accel_info *info)
{
	const struct ims_io_access *b0;

	if (!info)
		return ims__error(-EINVAL, "accel_probe: NULL info");
	if (!info->name || !info->name[0] || !info->core || !info->msi_parent)
		return ims__error(-EINVAL, "accel_probe: a device needs a name, a core and an MSI parent");
	if (!info->cfg.read || !info->cfg.write)
		return ims__error(-EINVAL, "accel_probe: %s: configuration space must be readable and "
				  "writable", info->name);
	b0 = &info->bar[IMS_ACCEL_REG_BAR];
	if (!b0->read32 || !b0->write32)
		return ims__error(-EINVAL, "accel_probe: %s: no accessor for the register BAR %d",
				  info->name, IMS_ACCEL_REG_BAR);
	if (!!info->dma.map != !!info->dma.unmap)
		return ims__error(-EINVAL, "accel_probe: %s: DMA map and unmap go together", info->name);
	return 0;
}

/* Identity, MSI-X, and the layout the capability registers give. */
static int read_device(struct ims_accel *acc, const struct ims_pci_dev_info *pi)
{
	uint32_t ver, wqcap, regs[4];
	uint64_t bar0 = pi->bars[IMS_ACCEL_REG_BAR].size;
	const struct ims_io_access *tb;
	uint16_t cmd;
	int ret;

	if (pi->vendor_id != IMS_ACCEL_VENDOR_ID || pi->device_id != IMS_ACCEL_DEVICE_ID)
		return ims__error(-ENODEV, "accel_probe: %s: %04x:%04x is not the accelerator",
				  acc->name, pi->vendor_id, pi->device_id);
	if (!pi->has_msix || pi->msix.table_size < 2)
		return ims__error(-ENODEV, "accel_probe: %s: no MSI-X with an admin and a work vector",
				  acc->name);
	tb = &acc->info.bar[pi->msix.table_bir];
	if (!tb->read32 || !tb->write32)
		return ims__error(-EINVAL, "accel_probe: %s: no accessor for BAR %u, which holds the "
				  "MSI-X table", acc->name, pi->msix.table_bir);
	acc->msix.io = *tb;
	acc->msix.table = pi->msix.table_offset;
	acc->msix.nr = pi->msix.table_size;
	acc->msix_cap = pi->msix.offset;

	ret = cfg_rd16(acc, IMS_PCI_COMMAND, &cmd);
	ret = ret ? ret : cfg_wr16(acc, IMS_PCI_COMMAND,
				   cmd | IMS_PCI_COMMAND_MEMORY | IMS_PCI_COMMAND_MASTER);
	if (!ret) {
		acc->orig_cmd = cmd;
		acc->cmd_set = true;
	}
	ret = ret ? ret : reg_rd(acc, IMS_ACCEL_REG_VERSION, &ver);
	ret = ret ? ret : reg_rd(acc, IMS_ACCEL_REG_WQCAP, &wqcap);
	ret = ret ? ret : reg_rd(acc, IMS_ACCEL_REG_IMSCAP, &regs[0]);
	ret = ret ? ret : reg_rd(acc, IMS_ACCEL_REG_IMS_OFFSET, &regs[1]);
	ret = ret ? ret : reg_rd(acc, IMS_ACCEL_REG_WQCFG_OFFSET, &regs[2]);
	ret = ret ? ret : reg_rd(acc, IMS_ACCEL_REG_PORTAL_OFFSET, &regs[3]);
	if (ret)
		return ret;
	if (ver >> 16 != IMS_ACCEL_VERSION_1 >> 16)
		return ims__error(-ENODEV, "accel_probe: %s: version 0x%x not supported", acc->name, ver);
	acc->nr_wqs = wqcap & IMS_ACCEL_WQCAP_NR_MASK;
	acc->wq_depth = wqcap >> IMS_ACCEL_WQCAP_DEPTH_SHIFT;
	acc->nr_ims = regs[0];
	acc->ims_off = regs[1];
	acc->wqcfg_off = regs[2];
	acc->portal_off = regs[3];
	if (!acc->nr_wqs || !acc->wq_depth || acc->wq_depth > MAX_DEPTH)
		return ims__error(-EINVAL, "accel_probe: %s: WQCAP 0x%x: %u WQs of depth %u", acc->name,
				  wqcap, acc->nr_wqs, acc->wq_depth);
	if (acc->ims_off % IMS_SLOT_SIZE || acc->wqcfg_off % IMS_ACCEL_WQCFG_SIZE ||
	    acc->portal_off % IMS_ACCEL_PORTAL_STRIDE || acc->nr_ims > IMS_MSI_MAX_SOFT_INDEX)
		return ims__error(-EINVAL, "accel_probe: %s: misaligned layout (IMS 0x%x, WQCFG 0x%x, "
				  "portals 0x%x) or %u IMS slots", acc->name, acc->ims_off,
				  acc->wqcfg_off, acc->portal_off, acc->nr_ims);
	if (bar0 && ((uint64_t)acc->wqcfg_off + (uint64_t)acc->nr_wqs * IMS_ACCEL_WQCFG_SIZE > bar0 ||
		     (uint64_t)acc->portal_off + (uint64_t)acc->nr_wqs * IMS_ACCEL_PORTAL_STRIDE > bar0 ||
		     (uint64_t)acc->ims_off + (uint64_t)acc->nr_ims * IMS_SLOT_SIZE > bar0))
		return ims__error(-EINVAL, "accel_probe: %s: the layout exceeds BAR 0 (0x%llx bytes)",
				  acc->name, (unsigned long long)bar0);
	return 0;
}

/* The IMS domain, if the device has IMS and the platform isolates it. */
static int setup_ims(struct ims_accel *acc, const struct ims_pci_dev_info *pi)
{
	struct ims_array_chip_info ci = { acc->info.bar[IMS_ACCEL_REG_BAR], acc->ims_off, acc->nr_ims };
	int ret;

	if (!ims_pci_dev_supports_ims(pi) || !acc->nr_ims) {
		ims__info("accel %s: the device does not offer IMS (SIOV DVSEC %s, %u slots); MSI-X only",
			  acc->name, pi->has_siov ? "without the IMS bit" : "absent", acc->nr_ims);
		return 0;
	}
	ret = ims_array_chip_create(&ci, &acc->ims_chip);
	if (ret)
		return ret;
	ret = ims_msi_create_device_domain(acc->dev, IMS_MSI_SECONDARY_DOMAIN, ims_array_chip_template(),
					   acc->nr_ims, acc->ims_chip);
	if (ret == -EOPNOTSUPP) {
		ims__info("accel %s: the platform refuses IMS here (%s); falling back to MSI-X only",
			  acc->name, ims_last_error());
		ret = 0;
	}
	if (ret || !ims_msi_device_domain(acc->dev, IMS_MSI_SECONDARY_DOMAIN)) {
		ims_array_chip_destroy(acc->ims_chip);
		acc->ims_chip = NULL;
	}
	return ret;
}

static void acc_free(struct ims_accel *acc)
{
	if (acc->wq_used)
		ims__free(acc->wq_used, IMS_BITMAP_WORDS(acc->nr_wqs) * sizeof(uint64_t));
	ims__mutex_destroy(&acc->lock);
	ims__free_str(acc->name);
	ims__free(acc, sizeof(*acc));
}

IMS_API int ims_accel_probe(const struct ims_accel_info *info, struct ims_accel **out)
{
	struct ims_device_info di = { 0 };
	struct ims_pci_dev_info *pi;
	struct ims_accel *acc;
	struct ims_msi_map m;
	uint16_t flags;
	int ret;

	ret = check_info(info);
	if (ret)
		return ret;
	if (!out)
		return ims__error(-EINVAL, "accel_probe: %s: NULL out", info->name);
	acc = ims__zalloc(sizeof(*acc), "accel_dev");
	if (!acc)
		return -ENOMEM;
	ims__mutex_init(&acc->lock);
	ims__spin_init(&acc->err_lock);
	atomic_init(&acc->msix.io_errors, 0);
	acc->info = *info;
	acc->admin_irq = -1;
	ret = -ENOMEM;
	acc->name = ims__strdup(info->name, "accel_name");
	if (!acc->name)
		goto free_acc;
	acc->info.name = acc->name;
	pi = ims__zalloc(sizeof(*pi), "accel_probe_info");
	if (!pi)
		goto free_acc;
	ret = ims_pci_dev_probe(&info->cfg, pi);
	ret = ret ? ret : read_device(acc, pi);
	if (ret)
		goto free_pi;
	ret = -ENOMEM;
	acc->wq_used = ims__calloc(IMS_BITMAP_WORDS(acc->nr_wqs), sizeof(uint64_t), "accel_wq_used");
	if (!acc->wq_used)
		goto free_pi;

	di.name = acc->name;
	di.core = info->core;
	di.msi_parent = info->msi_parent;
	di.rid = info->rid;
	ret = ims_device_create(&di, &acc->dev);
	if (ret)
		goto free_pi;
	ret = ims_msi_create_device_domain(acc->dev, IMS_MSI_DEFAULT_DOMAIN, &ims__accel_msix_template,
					   acc->msix.nr, &acc->msix);
	ret = ret ? ret : setup_ims(acc, pi);
	if (ret)
		goto destroy_dev;

	/* Entries come out of reset masked: enabling MSI-X lets nothing through yet. */
	ret = cfg_rd16(acc, acc->msix_cap + IMS_PCI_MSIX_FLAGS, &flags);
	ret = ret ? ret : cfg_wr16(acc, acc->msix_cap + IMS_PCI_MSIX_FLAGS,
				   (uint16_t)((flags | IMS_PCI_MSIX_FLAGS_ENABLE) &
					      ~IMS_PCI_MSIX_FLAGS_MASKALL));
	if (ret)
		goto destroy_dev;
	m = ims_msi_alloc_irq_at(acc->dev, IMS_MSI_DEFAULT_DOMAIN, IMS_ACCEL_MSIX_ADMIN, NULL,
				 (union ims_msi_cookie){ 0 });
	ret = m.virq < 0 ? m.virq : 0;
	if (ret)
		goto disable_msix;
	acc->admin_irq = m.virq;
	ret = ims_irq_request(info->core, (unsigned int)m.virq, admin_handler, 0, "accel-admin", acc);
	if (ret)
		goto disable_msix;
	ret = command(acc, IMS_ACCEL_CMD_ENABLE_DEV, 0);
	if (ret)
		goto free_admin;
	ims__free(pi, sizeof(*pi));
	*out = acc;
	return 0;

free_admin:
	ims_irq_free(info->core, (unsigned int)acc->admin_irq, acc);
disable_msix:
	cfg_wr16(acc, acc->msix_cap + IMS_PCI_MSIX_FLAGS, flags);
destroy_dev:
	if (IMS_NEVER(ims_device_destroy(acc->dev)))
		ims__warn("accel_probe: %s: device left behind", acc->name);
	ims_array_chip_destroy(acc->ims_chip);
free_pi:
	ims__free(pi, sizeof(*pi));
	/* A failed probe leaves decode and bus mastering as it found them. */
	if (acc->cmd_set)
		cfg_wr16(acc, IMS_PCI_COMMAND, acc->orig_cmd);
free_acc:
	acc_free(acc);
	return ret;
}

IMS_API int ims_accel_remove(struct ims_accel *acc)
{
	uint16_t flags;
	int ret;

	if (!acc)
		return 0;
	ims__mutex_lock(&acc->lock);
	ret = acc->nr_adis ? ims__error(-EBUSY, "accel_remove: %s still has %u ADIs", acc->name,
					acc->nr_adis)
			   : 0;
	ims__mutex_unlock(&acc->lock);
	if (ret)
		return ret;
	command(acc, IMS_ACCEL_CMD_DISABLE_DEV, 0);
	ims_irq_free(acc->info.core, (unsigned int)acc->admin_irq, acc);
	ret = ims_device_destroy(acc->dev);
	if (ret)
		return ret;
	ims_array_chip_destroy(acc->ims_chip);
	if (!cfg_rd16(acc, acc->msix_cap + IMS_PCI_MSIX_FLAGS, &flags))
		cfg_wr16(acc, acc->msix_cap + IMS_PCI_MSIX_FLAGS,
			 (uint16_t)(flags & ~IMS_PCI_MSIX_FLAGS_ENABLE));
	cfg_wr16(acc, IMS_PCI_COMMAND, acc->orig_cmd);
	acc_free(acc);
	return 0;
}

IMS_API bool ims_accel_has_ims(const struct ims_accel *acc)
{
	return acc && acc->ims_chip;
}

IMS_API struct ims_device *ims_accel_device(struct ims_accel *acc)
{
	return acc->dev;
}

IMS_API uint32_t ims_accel_nr_wqs(const struct ims_accel *acc)
{
	return acc->nr_wqs;
}

IMS_API uint32_t ims_accel_nr_adis(struct ims_accel *acc)
{
	uint32_t n;

	ims__mutex_lock(&acc->lock);
	n = acc->nr_adis;
	ims__mutex_unlock(&acc->lock);
	return n;
}

IMS_API int ims_accel_admin_irq(const struct ims_accel *acc)
{
	return acc->admin_irq;
}

/* ---- ADIs ---- */

/*
 * Retire up to max records of vector vec that the device has completed;
 * with a callback, copy them to done[] (*n of them) to report unlocked.
 */
struct adi_done {
	uint32_t ticket, status;
	uint64_t result;
};

static unsigned int scan_locked(struct ims_accel_adi *adi, unsigned int vec, struct adi_done *done,
				unsigned int max, unsigned int *n)
{
	unsigned int found = 0;

	ims__assert_mutex_held(&adi->lock);
	*n = 0;
	for (uint32_t i = 0; i < adi->acc->wq_depth; i++) {
		struct accel_rec *r = &adi->recs[i];
		uint8_t *cr = adi->cr + (size_t)i * IMS_ACCEL_CR_SIZE;
		uint32_t st;

		if (r->state != REC_BUSY || r->vec != vec)
			continue;
		if (adi->info.complete && *n == max)
			break;
		st = __atomic_load_n((uint32_t *)(void *)(cr + IMS_ACCEL_CR_STATUS), __ATOMIC_ACQUIRE);
		if (st == IMS_ACCEL_CR_STATUS_NONE)
			continue;
		r->status = st;
		memcpy(&r->result, cr + IMS_ACCEL_CR_RESULT, sizeof(r->result));
		__atomic_store_n((uint32_t *)(void *)(cr + IMS_ACCEL_CR_STATUS), 0, __ATOMIC_RELAXED);
		found++;
		if (!adi->info.complete) {
			r->state = REC_DONE;
			continue;
		}
		done[*n] = (struct adi_done){ (uint32_t)r->gen << 16 | i, r->status, r->result };
		(*n)++;
		r->state = REC_FREE;
	}
	return found;
}

static ims_irqreturn_t adi_handler(unsigned int irq, void *ctx)
{
	struct adi_vec *hv = ctx;
	struct ims_accel_adi *adi = hv->adi;
	struct adi_done done[32];
	unsigned int n, found = 0;

	(void)irq;
	do {
		ims__mutex_lock(&adi->lock);
		found += scan_locked(adi, hv->vec, done, 32, &n);
		ims__mutex_unlock(&adi->lock);
		for (unsigned int k = 0; k < n; k++)
			adi->info.complete(adi, adi->info.ctx, hv->vec, done[k].ticket, done[k].status,
					   done[k].result);
	} while (n == 32);
	if (!found) {
		atomic_fetch_add(&adi->empty_irqs, 1);
		return IMS_IRQ_NONE;
	}
	atomic_fetch_add(&adi->completions, found);
	return IMS_IRQ_HANDLED;
}

static void adi_free_mem(struct ims_accel_adi *adi)
{
	struct ims_accel *acc = adi->acc;

	if (adi->cr_raw)
		ims__free(adi->cr_raw, cr_bytes(acc) + IMS_ACCEL_CR_ALIGN);
	if (adi->recs)
		ims__free(adi->recs, acc->wq_depth * sizeof(*adi->recs));
	ims__mutex_destroy(&adi->lock);
	ims__free(adi, sizeof(*adi));
}

static int wq_reserve(struct ims_accel *acc, uint32_t *wq)
{
	uint32_t w;

	ims__mutex_lock(&acc->lock);
	w = (uint32_t)ims__find_next_zero_bit(acc->wq_used, acc->nr_wqs, 0);
	if (w < acc->nr_wqs) {
		ims__set_bit(acc->wq_used, w);
		acc->nr_adis++;
	}
	ims__mutex_unlock(&acc->lock);
	if (w >= acc->nr_wqs)
		return ims__error(-ENOSPC, "accel %s: all %u WQs are held by ADIs", acc->name,
				  acc->nr_wqs);
	*wq = w;
	return 0;
}

static void wq_release(struct ims_accel *acc, uint32_t wq)
{
	ims__mutex_lock(&acc->lock);
	ims__clear_bit(acc->wq_used, wq);
	acc->nr_adis--;
	ims__mutex_unlock(&acc->lock);
}

static uint32_t wqcfg(const struct ims_accel *acc, uint32_t wq, uint32_t field)
{
	return acc->wqcfg_off + wq * IMS_ACCEL_WQCFG_SIZE + field;
}

/* The WQ takes only descriptors with the ADI's PASID. */
static int wq_configure(struct ims_accel_adi *adi)
{
	struct ims_accel *acc = adi->acc;
	uint32_t want = IMS_ACCEL_WQCFG_PASID_EN | adi->info.pasid << IMS_ACCEL_WQCFG_PASID_SHIFT, got;
	int ret;

	/* Without IMS, completions go through MSI-X entries the WQ must be allowed. */
	if (!acc->ims_chip)
		want |= IMS_ACCEL_WQCFG_MSIX_OK;
	ret = reg_wr(acc, wqcfg(acc, adi->wq, IMS_ACCEL_WQCFG_CTRL), want);
	ret = ret ? ret : reg_rd(acc, wqcfg(acc, adi->wq, IMS_ACCEL_WQCFG_CTRL), &got);
	if (!ret && got != want)
		ret = ims__error(-EIO, "accel %s: WQ %u kept configuration 0x%x, not 0x%x (still "
				 "enabled?)", acc->name, adi->wq, got, want);
	return ret;
}

static void free_handlers(struct ims_accel_adi *adi, unsigned int n)
{
	while (n--)
		ims_irq_free(adi->acc->info.core, (unsigned int)adi->maps[n].virq, &adi->vecs[n]);
}

IMS_API int ims_accel_adi_create(struct ims_accel *acc, const struct ims_accel_adi_info *info,
				 struct ims_accel_adi **out)
{
	struct ims_accel_adi *adi;
	union ims_msi_cookie cookie = { 0 };
	unsigned int v = 0;
	int ret;

	if (!acc || !info || !out)
		return ims__error(-EINVAL, "accel_adi_create: NULL %s", !acc ? "device" : !info ? "info" : "out");
	if (info->pasid > IMS_CHIP_PASID_MAX)
		return ims__error(-EINVAL, "accel_adi_create: %s: PASID 0x%x exceeds 20 bits", acc->name,
				  info->pasid);
	if (!info->nvec || info->nvec > IMS_ACCEL_ADI_MAX_VECS)
		return ims__error(-EINVAL, "accel_adi_create: %s: %u vectors is not 1..%u", acc->name,
				  info->nvec, IMS_ACCEL_ADI_MAX_VECS);
	adi = ims__zalloc(sizeof(*adi), "accel_adi");
	if (!adi)
		return -ENOMEM;
	adi->acc = acc;
	adi->info = *info;
	ims__mutex_init(&adi->lock);
	atomic_init(&adi->completions, 0);
	atomic_init(&adi->empty_irqs, 0);
	adi->domid = acc->ims_chip ? IMS_MSI_SECONDARY_DOMAIN : IMS_MSI_DEFAULT_DOMAIN;
	ret = -ENOMEM;
	adi->recs = ims__calloc(acc->wq_depth, sizeof(*adi->recs), "accel_adi_recs");
	if (!adi->recs)
		goto free_mem;
	adi->cr_raw = ims__zalloc(cr_bytes(acc) + IMS_ACCEL_CR_ALIGN, "accel_adi_cr");
	if (!adi->cr_raw)
		goto free_mem;
	adi->cr = (uint8_t *)(((uintptr_t)adi->cr_raw + IMS_ACCEL_CR_ALIGN - 1) &
			      ~(uintptr_t)(IMS_ACCEL_CR_ALIGN - 1));
	adi->cr_bus = (uint64_t)(uintptr_t)adi->cr;
	if (acc->info.dma.map) {
		ret = acc->info.dma.map(acc->info.dma.ctx, adi->cr, cr_bytes(acc), &adi->cr_bus);
		if (ret) {
			ret = ims__error(ret, "accel_adi_create: %s: completion records cannot be made "
					 "DMA-able", acc->name);
			goto free_mem;
		}
	}
	ret = wq_reserve(acc, &adi->wq);
	if (ret)
		goto unmap;
	ret = wq_configure(adi);
	if (ret)
		goto release_wq;
	if (acc->ims_chip)
		cookie = ims_chip_pasid_cookie(info->pasid);
	adi->group = ims_msi_alloc_group(acc->dev, adi->domid, info->nvec, info->affinity, cookie,
					 adi->maps);
	if (adi->group < 0) {
		ret = adi->group;
		goto unconfigure;
	}
	for (v = 0; v < info->nvec; v++) {
		adi->vecs[v] = (struct adi_vec){ adi, v };
		ret = ims_irq_request(acc->info.core, (unsigned int)adi->maps[v].virq, adi_handler, 0,
				      "accel-adi", &adi->vecs[v]);
		if (ret)
			goto free_handlers;
	}
	ret = command(acc, IMS_ACCEL_CMD_ENABLE_WQ, adi->wq);
	if (ret)
		goto free_handlers;
	*out = adi;
	return 0;

free_handlers:
	free_handlers(adi, v);
	if (IMS_NEVER(ims_msi_free_group(acc->dev, adi->domid, adi->group)))
		ims__warn("accel_adi_create: %s: group %d left behind", acc->name, adi->group);
unconfigure:
	reg_wr(acc, wqcfg(acc, adi->wq, IMS_ACCEL_WQCFG_CTRL), 0);
release_wq:
	wq_release(acc, adi->wq);
unmap:
	if (acc->info.dma.unmap)
		acc->info.dma.unmap(acc->info.dma.ctx, adi->cr);
free_mem:
	adi_free_mem(adi);
	return ret;
}

IMS_API int ims_accel_adi_destroy(struct ims_accel_adi *adi)
{
	struct ims_accel *acc;
	int ret;

	if (!adi)
		return 0;
	acc = adi->acc;
	/* From one of its own handlers this would wait for itself: refuse first. */
	for (unsigned int v = 0; v < adi->info.nvec; v++) {
		ret = ims_irq_synchronize(acc->info.core, (unsigned int)adi->maps[v].virq);
		if (ret)
			return ret;
	}
	/* The device stops the WQ: nothing of it completes or signals after this. */
	if (command(acc, IMS_ACCEL_CMD_DISABLE_WQ, adi->wq))
		ims__warn("accel_adi_destroy: %s: WQ %u did not take the disable; its slots are reset "
			  "all the same", acc->name, adi->wq);
	free_handlers(adi, adi->info.nvec);
	ret = ims_msi_free_group(acc->dev, adi->domid, adi->group);
	if (IMS_NEVER(ret))
		return ret;
	reg_wr(acc, wqcfg(acc, adi->wq, IMS_ACCEL_WQCFG_CTRL), 0);
	wq_release(acc, adi->wq);
	if (acc->info.dma.unmap)
		acc->info.dma.unmap(acc->info.dma.ctx, adi->cr);
	adi_free_mem(adi);
	return 0;
}

IMS_API uint32_t ims_accel_adi_wq(const struct ims_accel_adi *adi)
{
	return adi->wq;
}

IMS_API int ims_accel_adi_irq(const struct ims_accel_adi *adi, unsigned int vec)
{
	if (vec >= adi->info.nvec)
		return ims__error(-EINVAL, "accel_adi_irq: vector %u of %u", vec, adi->info.nvec);
	return adi->maps[vec].virq;
}

IMS_API uint32_t ims_accel_adi_handle(const struct ims_accel_adi *adi, unsigned int vec)
{
	uint32_t index = vec < adi->info.nvec ? (uint32_t)adi->maps[vec].index : 0;

	return adi->domid == IMS_MSI_SECONDARY_DOMAIN ? index : index | IMS_ACCEL_HANDLE_MSIX;
}

IMS_API uint64_t ims_accel_adi_completions(struct ims_accel_adi *adi)
{
	return atomic_load(&adi->completions);
}

IMS_API uint64_t ims_accel_adi_empty_irqs(struct ims_accel_adi *adi)
{
	return atomic_load(&adi->empty_irqs);
}

/* ---- work ---- */

IMS_API int ims_accel_submit(struct ims_accel_adi *adi, unsigned int vec, enum ims_accel_opcode op,
			     uint64_t operand, uint32_t *ticket)
{
	struct ims_accel *acc;
	uint32_t d[IMS_ACCEL_DESC_SIZE / 4] = { 0 }, portal, i, depth;
	struct accel_rec *r = NULL;
	int ret = 0;

	if (!adi || !ticket)
		return ims__error(-EINVAL, "accel_submit: NULL %s", adi ? "ticket" : "ADI");
	acc = adi->acc;
	depth = acc->wq_depth;
	if (vec >= adi->info.nvec)
		return ims__error(-EINVAL, "accel_submit: vector %u of %u", vec, adi->info.nvec);
	if ((unsigned int)op >= IMS_ACCEL_OP_MAX)
		return ims__error(-EINVAL, "accel_submit: unknown operation %d", (int)op);
	ims__mutex_lock(&adi->lock);
	for (uint32_t k = 0; k < depth; k++) {
		i = (adi->hint + k) % depth;
		if (adi->recs[i].state == REC_FREE) {
			r = &adi->recs[i];
			break;
		}
	}
	if (!r) {
		ret = ims__error(-EBUSY, "accel_submit: WQ %u: all %u completion records are in use",
				 adi->wq, depth);
		goto unlock;
	}
	adi->hint = (i + 1) % depth;
	r->state = REC_BUSY;
	r->vec = (uint8_t)vec;
	r->gen++;
	d[IMS_ACCEL_DESC_OP / 4] = (uint32_t)op | IMS_ACCEL_DESC_RCI | IMS_ACCEL_DESC_CRAV;
	d[IMS_ACCEL_DESC_PASID / 4] = IMS_ACCEL_DESC_PASID_VALID | adi->info.pasid;
	d[IMS_ACCEL_DESC_COMPL_LO / 4] = (uint32_t)(adi->cr_bus + (uint64_t)i * IMS_ACCEL_CR_SIZE);
	d[IMS_ACCEL_DESC_COMPL_HI / 4] = (uint32_t)((adi->cr_bus + (uint64_t)i * IMS_ACCEL_CR_SIZE) >> 32);
	d[IMS_ACCEL_DESC_HANDLE / 4] = ims_accel_adi_handle(adi, vec);
	d[IMS_ACCEL_DESC_OPERAND_LO / 4] = (uint32_t)operand;
	d[IMS_ACCEL_DESC_OPERAND_HI / 4] = (uint32_t)(operand >> 32);
	portal = acc->portal_off + adi->wq * IMS_ACCEL_PORTAL_STRIDE;
	/* In order: the store of the last dword submits the whole descriptor. */
	for (uint32_t k = 0; !ret && k < IMS_ACCEL_DESC_SIZE / 4; k++)
		ret = reg_wr(acc, portal + 4 * k, d[k]);
	if (ret) {
		r->state = REC_FREE;
		goto unlock;
	}
	*ticket = (uint32_t)r->gen << 16 | i;
unlock:
	ims__mutex_unlock(&adi->lock);
	return ret;
}

IMS_API int ims_accel_poll(struct ims_accel_adi *adi, uint32_t ticket, uint64_t *result)
{
	uint32_t i = ticket & 0xffff;
	struct accel_rec *r;
	int ret;

	if (!adi || !result)
		return ims__error(-EINVAL, "accel_poll: NULL %s", adi ? "result" : "ADI");
	if (adi->info.complete)
		return ims__error(-EINVAL, "accel_poll: the ADI reports completions to its callback");
	ims__mutex_lock(&adi->lock);
	r = i < adi->acc->wq_depth ? &adi->recs[i] : NULL;
	if (!r || r->state == REC_FREE || r->gen != ticket >> 16) {
		ret = ims__error(-EINVAL, "accel_poll: ticket 0x%x is not outstanding", ticket);
	} else if (r->state == REC_BUSY) {
		ret = -EAGAIN;
	} else {
		*result = r->result;
		r->state = REC_FREE;
		ret = 0;
	}
	ims__mutex_unlock(&adi->lock);
	return ret;
}

int ims__accel_check(struct ims_accel *acc)
{
	uint32_t n = 0;
	int ret = 0;

	ims__mutex_lock(&acc->lock);
	for (uint32_t w = 0; w < acc->nr_wqs; w++)
		n += ims__test_bit(acc->wq_used, w);
	if (n != acc->nr_adis)
		ret = ims__error(-EIO, "accel %s: %u ADIs counted, %u WQs held", acc->name, acc->nr_adis, n);
	ims__mutex_unlock(&acc->lock);
	return ret;
}

struct ims_array_chip *ims__accel_ims_chip(struct ims_accel *acc)
{
	return acc->ims_chip;
}

struct ims_irq_domain *ims__accel_msi_parent(struct ims_accel *acc)
{
	return acc->info.msi_parent;
}

struct ims_irq_core *ims__accel_core(struct ims_accel *acc)
{
	return acc->info.core;
}
