/*
 * Mediated assignment of an ADI to a guest: the host's emulation of the
 * guest's MSI-X capability and table. The guest's state (message control,
 * entries as written) lives here; the hardware it maps to is the ADI's IMS
 * vectors, each posted to a vCPU through the remapping driver or held
 * masked at its slot. One function, reevaluate_locked(), decides for an
 * entry whether it is live and where it goes, and every guest write that
 * can change that ends in it.
 */
#include <errno.h>
#include <string.h>

#include <ims/remap.h>
#include <ims/x86.h>

#include "os/accel/accel_internal.h"
#include "util/alloc.h"
#include "util/lock.h"
#include "util/log.h"

#define MAX_VCPUS 256
#define CTRL_WRITABLE (IMS_PCI_MSIX_FLAGS_ENABLE | IMS_PCI_MSIX_FLAGS_MASKALL)
#define CTRL_RESERVED 0x3800u	/* message control bits 13:11 */

struct guest_entry {
	uint32_t addr_lo, addr_hi, data, ctrl;	/* as the guest wrote them */
	bool posted;				/* the IMS vector is posted ... */
	uint32_t vcpu;				/* ... to this vCPU ... */
	uint8_t vector;				/* ... with this guest vector */
};

struct ims_accel_guest {
	struct ims_accel *acc;
	struct ims_remap *remap;
	struct ims_array_chip *chip;
	struct ims_accel_adi *adi;
	struct ims_accel_guest_info info;	/* vcpus points at our copy */
	struct ims_accel_guest_vcpu *vcpus;
	/* lock guards msix_ctrl, e[] and the counters: guest accesses serialize. */
	struct ims_mutex lock;
	uint16_t msix_ctrl;			/* enable and function mask */
	struct guest_entry e[IMS_ACCEL_ADI_MAX_VECS];
	uint64_t refused, unroutable;
};

static union ims_msi_cookie cookie(const struct ims_accel_guest *g)
{
	return ims_chip_pasid_cookie(g->info.pasid);
}

static int hold(struct ims_accel_guest *g, unsigned int i, bool on)
{
	return ims_array_chip_hold(g->chip, ims_accel_adi_handle(g->adi, i), on, cookie(g));
}

/* The vCPU and vector a guest message names, or -EINVAL if it cannot be posted. */
static int route(struct ims_accel_guest *g, const struct guest_entry *e, uint32_t *vcpu,
		 uint8_t *vector)
{
	struct ims_msi_msg msg = { e->addr_lo, e->addr_hi, e->data };
	struct ims_x86_msi_fields f;

	if (e->addr_hi || (e->data >> 16) || ims_x86_msi_decode(&msg, &f) || f.format != IMS_X86_MSI_COMPAT ||
	    f.dest_logical || f.delivery_mode != 0 || f.trigger_level || f.vector < 16)
		return -EINVAL;
	for (uint32_t v = 0; v < g->info.nr_vcpus; v++) {
		if (g->vcpus[v].apic_id == f.apic_id) {
			*vcpu = v;
			*vector = f.vector;
			return 0;
		}
	}
	return -EINVAL;
}

/*
 * Live: MSI-X enabled, function and entry unmasked, and a message that can
 * be posted. A live entry is posted first and released second, so a
 * signal latched while it was held goes where the guest now points it; an
 * entry that is not live is held masked at its slot.
 */
static void reevaluate_locked(struct ims_accel_guest *g, unsigned int i)
{
	struct guest_entry *e = &g->e[i];
	bool live = (g->msix_ctrl & IMS_PCI_MSIX_FLAGS_ENABLE) &&
		    !(g->msix_ctrl & IMS_PCI_MSIX_FLAGS_MASKALL) &&
		    !(e->ctrl & IMS_PCI_MSIX_ENTRY_CTRL_MASKBIT);
	uint32_t vcpu;
	uint8_t vector;
	int ret;

	ims__assert_mutex_held(&g->lock);
	if (!live) {
		hold(g, i, true);
		return;
	}
	if (route(g, e, &vcpu, &vector)) {
		g->unroutable++;
		ims__warn_once("accel guest: entry %u: message 0x%x:%x data 0x%x cannot be posted to "
			       "one of the guest's vCPUs; the vector stays masked", i, e->addr_hi,
			       e->addr_lo, e->data);
		hold(g, i, true);
		return;
	}
	if (!e->posted || e->vcpu != vcpu || e->vector != vector) {
		hold(g, i, true);
		ret = ims_remap_irq_post(g->remap, (unsigned int)ims_accel_adi_irq(g->adi, i),
					 g->vcpus[vcpu].pid, vector, false);
		if (ret) {
			g->unroutable++;
			return;
		}
		e->posted = true;
		e->vcpu = vcpu;
		e->vector = vector;
	}
	hold(g, i, false);
}

IMS_API int ims_accel_guest_create(struct ims_accel *acc, const struct ims_accel_guest_info *info,
				   struct ims_accel_guest **out)
{
	struct ims_accel_adi_info ai = { 0 };
	struct ims_accel_guest *g;
	struct ims_remap *remap;
	int ret;

	if (!acc || !info || !out)
		return ims__error(-EINVAL, "accel_guest_create: NULL %s", !acc ? "device" : !info ? "info" : "out");
	if (!info->nvec || info->nvec > IMS_ACCEL_ADI_MAX_VECS || !info->nr_vcpus ||
	    info->nr_vcpus > MAX_VCPUS || !info->vcpus)
		return ims__error(-EINVAL, "accel_guest_create: %u vectors (1..%u), %u vCPUs (1..%u)",
				  info->nvec, IMS_ACCEL_ADI_MAX_VECS, info->nr_vcpus, MAX_VCPUS);
	remap = ims_remap_from_domain(ims__accel_msi_parent(acc));
	if (!ims__accel_ims_chip(acc) || !remap)
		return ims__error(-EOPNOTSUPP, "accel_guest_create: guests need IMS behind interrupt "
				  "remapping, which this device does not have here");
	g = ims__zalloc(sizeof(*g), "accel_guest");
	if (!g)
		return -ENOMEM;
	g->vcpus = ims__calloc(info->nr_vcpus, sizeof(*g->vcpus), "accel_guest_vcpus");
	if (!g->vcpus) {
		ims__free(g, sizeof(*g));
		return -ENOMEM;
	}
	memcpy(g->vcpus, info->vcpus, info->nr_vcpus * sizeof(*g->vcpus));
	g->acc = acc;
	g->remap = remap;
	g->chip = ims__accel_ims_chip(acc);
	g->info = *info;
	g->info.vcpus = g->vcpus;
	ims__mutex_init(&g->lock);
	ai.pasid = info->pasid;
	ai.nvec = info->nvec;
	ret = ims_accel_adi_create(acc, &ai, &g->adi);
	if (ret) {
		ims__mutex_destroy(&g->lock);
		ims__free(g->vcpus, info->nr_vcpus * sizeof(*g->vcpus));
		ims__free(g, sizeof(*g));
		return ret;
	}
	/* MSI-X comes out of reset disabled, entries masked: hold every slot. */
	ims__mutex_lock(&g->lock);
	for (unsigned int i = 0; i < info->nvec; i++) {
		g->e[i].ctrl = IMS_PCI_MSIX_ENTRY_CTRL_MASKBIT;
		reevaluate_locked(g, i);
	}
	ims__mutex_unlock(&g->lock);
	*out = g;
	return 0;
}

IMS_API int ims_accel_guest_destroy(struct ims_accel_guest *g)
{
	int ret;

	if (!g)
		return 0;
	ret = ims_accel_adi_destroy(g->adi);
	if (ret)
		return ret;
	ims__mutex_destroy(&g->lock);
	ims__free(g->vcpus, g->info.nr_vcpus * sizeof(*g->vcpus));
	ims__free(g, sizeof(*g));
	return 0;
}

IMS_API struct ims_accel_adi *ims_accel_guest_adi(struct ims_accel_guest *g)
{
	return g->adi;
}

IMS_API uint64_t ims_accel_guest_refused(struct ims_accel_guest *g)
{
	uint64_t n;

	ims__mutex_lock(&g->lock);
	n = g->refused;
	ims__mutex_unlock(&g->lock);
	return n;
}

IMS_API uint64_t ims_accel_guest_unroutable(struct ims_accel_guest *g)
{
	uint64_t n;

	ims__mutex_lock(&g->lock);
	n = g->unroutable;
	ims__mutex_unlock(&g->lock);
	return n;
}

/* ---- configuration space: the MSI-X capability ---- */

static void cap_bytes_locked(struct ims_accel_guest *g, uint8_t b[IMS_ACCEL_GUEST_MSIX_CAP_SIZE])
{
	uint16_t ctrl = (uint16_t)(g->msix_ctrl | (g->info.nvec - 1));
	uint32_t pba = IMS_ACCEL_GUEST_PBA;	/* BIR 0 */

	memset(b, 0, IMS_ACCEL_GUEST_MSIX_CAP_SIZE);
	b[IMS_PCI_CAP_ID] = IMS_PCI_CAP_ID_MSIX;
	memcpy(b + IMS_PCI_MSIX_FLAGS, &ctrl, 2);	/* the table: BIR 0, offset 0 */
	memcpy(b + IMS_PCI_MSIX_PBA, &pba, 4);
}

static int refuse_locked(struct ims_accel_guest *g, const char *what, uint64_t off, uint32_t size)
{
	g->refused++;
	return ims__error(-EINVAL, "accel guest: %s: %u-byte access at 0x%llx refused", what, size,
			  (unsigned long long)off);
}

static bool bad_access(uint64_t off, uint32_t size, uint32_t sizes)
{
	return size > 8 || !(sizes & (1u << size)) || (off & (size - 1));
}

IMS_API int ims_accel_guest_cfg_read(struct ims_accel_guest *g, uint32_t off, uint32_t size,
				     uint32_t *val)
{
	uint8_t b[IMS_ACCEL_GUEST_MSIX_CAP_SIZE];
	int ret = 0;

	ims__mutex_lock(&g->lock);
	if (!val || bad_access(off, size, 1u << 1 | 1u << 2 | 1u << 4) ||
	    off >= IMS_ACCEL_GUEST_MSIX_CAP_SIZE || size > IMS_ACCEL_GUEST_MSIX_CAP_SIZE - off) {
		ret = refuse_locked(g, "MSI-X capability read", off, size);
	} else {
		cap_bytes_locked(g, b);
		*val = 0;
		memcpy(val, b + off, size);
	}
	ims__mutex_unlock(&g->lock);
	return ret;
}

IMS_API int ims_accel_guest_cfg_write(struct ims_accel_guest *g, uint32_t off, uint32_t size,
				      uint32_t val)
{
	uint8_t b[IMS_ACCEL_GUEST_MSIX_CAP_SIZE];
	uint16_t ctrl, old;
	int ret = 0;

	ims__mutex_lock(&g->lock);
	if (bad_access(off, size, 1u << 1 | 1u << 2 | 1u << 4) ||
	    off >= IMS_ACCEL_GUEST_MSIX_CAP_SIZE || size > IMS_ACCEL_GUEST_MSIX_CAP_SIZE - off) {
		ret = refuse_locked(g, "MSI-X capability write", off, size);
		goto unlock;
	}
	cap_bytes_locked(g, b);
	memcpy(b + off, &val, size);
	memcpy(&ctrl, b + IMS_PCI_MSIX_FLAGS, 2);
	if (ctrl & CTRL_RESERVED) {
		ret = refuse_locked(g, "MSI-X message control: reserved bits", off, size);
		goto unlock;
	}
	/* Only enable and function mask are the guest's; the rest is read-only. */
	old = g->msix_ctrl;
	g->msix_ctrl = ctrl & CTRL_WRITABLE;
	if (old != g->msix_ctrl)
		for (unsigned int i = 0; i < g->info.nvec; i++)
			reevaluate_locked(g, i);
unlock:
	ims__mutex_unlock(&g->lock);
	return ret;
}

/* ---- the MSI-X BAR: table and PBA ---- */

static uint64_t pba_size(const struct ims_accel_guest *g)
{
	return 8ull * ((g->info.nvec + 63) / 64);
}

static bool in_table(const struct ims_accel_guest *g, uint64_t off, uint32_t size)
{
	uint64_t end = (uint64_t)g->info.nvec * IMS_PCI_MSIX_ENTRY_SIZE;

	return off < end && size <= end - off;
}

static bool in_pba(const struct ims_accel_guest *g, uint64_t off, uint32_t size)
{
	return off >= IMS_ACCEL_GUEST_PBA && off - IMS_ACCEL_GUEST_PBA < pba_size(g) &&
	       size <= pba_size(g) - (off - IMS_ACCEL_GUEST_PBA);
}

static uint32_t *field(struct guest_entry *e, uint64_t off)
{
	switch (off % IMS_PCI_MSIX_ENTRY_SIZE) {
	case IMS_PCI_MSIX_ENTRY_ADDR_LO: return &e->addr_lo;
	case IMS_PCI_MSIX_ENTRY_ADDR_HI: return &e->addr_hi;
	case IMS_PCI_MSIX_ENTRY_DATA: return &e->data;
	default: return &e->ctrl;
	}
}

IMS_API int ims_accel_guest_msix_read(struct ims_accel_guest *g, uint64_t off, uint32_t size,
				      uint64_t *val)
{
	int ret = 0;

	ims__mutex_lock(&g->lock);
	if (!val || bad_access(off, size, 1u << 4 | 1u << 8) ||
	    (!in_table(g, off, size) && !in_pba(g, off, size))) {
		ret = refuse_locked(g, "MSI-X BAR read", off, size);
	} else if (in_pba(g, off, size)) {
		*val = 0;
	} else {
		struct guest_entry *e = &g->e[off / IMS_PCI_MSIX_ENTRY_SIZE];

		*val = *field(e, off);
		if (size == 8)
			*val |= (uint64_t)*field(e, off + 4) << 32;
	}
	ims__mutex_unlock(&g->lock);
	return ret;
}

static bool dword_ok(uint64_t off, uint32_t v)
{
	switch (off % IMS_PCI_MSIX_ENTRY_SIZE) {
	case IMS_PCI_MSIX_ENTRY_ADDR_LO: return !(v & 3u);
	case IMS_PCI_MSIX_ENTRY_CTRL: return !(v & ~IMS_PCI_MSIX_ENTRY_CTRL_MASKBIT);
	default: return true;
	}
}

IMS_API int ims_accel_guest_msix_write(struct ims_accel_guest *g, uint64_t off, uint32_t size,
				       uint64_t val)
{
	struct guest_entry *e;
	int ret = 0;

	ims__mutex_lock(&g->lock);
	if (bad_access(off, size, 1u << 4 | 1u << 8) ||
	    (!in_table(g, off, size) && !in_pba(g, off, size))) {
		ret = refuse_locked(g, "MSI-X BAR write", off, size);
		goto unlock;
	}
	if (in_pba(g, off, size))
		goto unlock;	/* the PBA is read-only */
	if (!dword_ok(off, (uint32_t)val) || (size == 8 && !dword_ok(off + 4, (uint32_t)(val >> 32)))) {
		ret = refuse_locked(g, "MSI-X table: reserved bits", off, size);
		goto unlock;
	}
	e = &g->e[off / IMS_PCI_MSIX_ENTRY_SIZE];
	*field(e, off) = (uint32_t)val;
	if (size == 8)
		*field(e, off + 4) = (uint32_t)(val >> 32);
	reevaluate_locked(g, (unsigned int)(off / IMS_PCI_MSIX_ENTRY_SIZE));
unlock:
	ims__mutex_unlock(&g->lock);
	return ret;
}
