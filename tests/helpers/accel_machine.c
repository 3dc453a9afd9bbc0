/*
 * The end-to-end accelerator machine; see accel_machine.h.
 */
#include <errno.h>
#include <string.h>

#include "helpers/accel_machine.h"
#include "hw/lapic.h"

#define AM_RID 0x0500

static int os_dma_map(void *ctx, void *host, size_t len, uint64_t *bus)
{
	*bus = ims__dma_addr(host);
	return ims__dma_register(ctx, host, len);
}

static void os_dma_unmap(void *ctx, void *host)
{
	ims__dma_unregister(ctx, host);
}

#define AM_ITS_BASE 0x08080000ull

/* The rest of the machine, once the MSI parent and the sink exist. */
static int add_device(struct accel_machine *m, struct ims_hw_accel_params *p,
		      const struct ims_hw_msi_sink *sink, struct ims_irq_domain *parent)
{
	int ret;

	p->rid = AM_RID;
	ims__hw_accel_mem_from_dma(m->dma, &p->mem);
	ret = ims__hw_accel_create(p, sink, &m->hw);
	if (ret)
		return ret;
	m->ai.name = "0000:05:00.0";
	m->ai.core = m->core;
	m->ai.msi_parent = parent;
	m->ai.rid = AM_RID;
	ims__hw_pci_cfg_access(ims__hw_accel_cfg(m->hw), &m->ai.cfg);
	ims__hw_bar_io_init(&m->bar0, ims__hw_accel_cfg(m->hw), IMS_ACCEL_REG_BAR,
			    &m->ai.bar[IMS_ACCEL_REG_BAR]);
	ims__hw_bar_io_init(&m->bar2, ims__hw_accel_cfg(m->hw), IMS_ACCEL_MSIX_BAR,
			    &m->ai.bar[IMS_ACCEL_MSIX_BAR]);
	m->ai.dma = (struct ims_accel_dma_ops){ os_dma_map, os_dma_unmap, m->dma };
	return 0;
}

static int create_arm(struct accel_machine *m, uint32_t nr_cpus, struct ims_hw_accel_params *p)
{
	struct ims_irq_core_config cc = { .nr_cpus = nr_cpus };
	struct ims_hw_gic_params gp = { .nr_cpus = nr_cpus, .its_base = AM_ITS_BASE };
	struct ims_arm_its_config ic = { .nr_cpus = nr_cpus, .its_base = AM_ITS_BASE,
					 .ops = &ims__hw_gic_ops };
	struct ims_hw_msi_sink sink;
	int ret;

	ret = ims_irq_core_create(&cc, &m->core);
	ret = ret ? ret : ims__hw_gic_create(&gp, &m->gic);
	if (ret)
		return ret;
	ic.ctx = m->gic;
	ret = ims_arm_its_create(m->core, &ic, &m->its);
	ret = ret ? ret : ims__dma_create(&m->dma);
	if (ret)
		return ret;
	ims__hw_gic_msi_sink(m->gic, &sink);
	return add_device(m, p, &sink, ims_arm_its_irq_domain(m->its));
}

int am_create_arch(struct accel_machine *m, enum am_arch arch, uint32_t nr_cpus,
		   struct ims_hw_accel_params *p, uint32_t ir_flags)
{
	if (arch == AM_X86)
		return am_create(m, nr_cpus, p, ir_flags);
	memset(m, 0, sizeof(*m));
	m->arch = AM_ARM;
	m->nr_cpus = nr_cpus;
	return create_arm(m, nr_cpus, p);
}

uint32_t am_parent_entries(struct accel_machine *m)
{
	if (m->arch == AM_ARM) {
		struct ims_arm_its_stats st;

		ims_arm_its_get_stats(m->its, &st);
		return st.lpis_used;
	} else {
		struct ims_remap_stats st;

		ims_remap_get_stats(m->remap, &st);
		return st.allocated;
	}
}

int am_parent_check(struct accel_machine *m)
{
	return m->arch == AM_ARM ? 0 : ims_remap_check(m->remap);
}

int am_create(struct accel_machine *m, uint32_t nr_cpus, struct ims_hw_accel_params *p,
	      uint32_t ir_flags)
{
	struct ims_irq_core_config cc = { .nr_cpus = nr_cpus };

	return am_create_core(m, &cc, p, ir_flags);
}

int am_create_core(struct accel_machine *m, const struct ims_irq_core_config *core_cfg,
		   struct ims_hw_accel_params *p, uint32_t ir_flags)
{
	struct ims_irq_core_config cc = *core_cfg;
	uint32_t nr_cpus = cc.nr_cpus;
	struct ims_x86_vector_config vc = { .nr_cpus = nr_cpus, .apic = &ims__apic_bus_reg_ops };
	struct ims_hw_ir_unit_config uc = { .name = "dmar0", .rid_first = 0, .rid_last = 0xffff,
					    .flags = ir_flags };
	struct ims_remap_config rc = { .name = "IR-0" };
	struct ims_hw_msi_sink sink;
	int ret;

	memset(m, 0, sizeof(*m));
	m->nr_cpus = nr_cpus;
	ret = ims_irq_core_create(&cc, &m->core);
	ret = ret ? ret : ims__apic_bus_create(nr_cpus, NULL, 0, &m->bus);
	if (ret)
		return ret;
	vc.apic_ctx = m->bus;
	ret = ims_x86_vector_domain_create(m->core, &vc, &m->vd);
	ret = ret ? ret : ims__dma_create(&m->dma);
	if (ret)
		return ret;
	uc.dma = m->dma;
	uc.apic = ims__apic_bus_sink(m->bus);
	ret = ims__ir_unit_create(&uc, &m->unit);
	if (ret)
		return ret;
	rc.unit = m->unit;
	rc.dma = m->dma;
	rc.parent = ims_x86_vector_irq_domain(m->vd);
	ret = ims_remap_create(m->core, &rc, &m->remap);
	if (ret)
		return ret;
	sink = ims__ir_unit_msi_sink(m->unit);
	return add_device(m, p, &sink, ims_remap_domain(m->remap));
}

int am_destroy(struct accel_machine *m)
{
	int ret = 0;

	if (m->acc)
		ret = ims_accel_remove(m->acc);
	ims__hw_accel_destroy(m->hw);
	if (m->arch == AM_ARM) {
		if (!ret && m->its)
			ret = ims_arm_its_destroy(m->its);
		ims__hw_gic_destroy(m->gic);
		if (!ret && m->dma)
			ret = ims__dma_destroy(m->dma);
		if (!ret && m->core)
			ret = ims_irq_core_destroy(m->core);
		return ret;
	}
	if (!ret && m->remap)
		ret = ims_remap_destroy(m->remap);
	ims__ir_unit_destroy(m->unit);
	if (!ret && m->dma)
		ret = ims__dma_destroy(m->dma);
	if (!ret && m->vd)
		ret = ims_x86_vector_domain_destroy(m->vd);
	ims__apic_bus_destroy(m->bus);
	if (!ret && m->core)
		ret = ims_irq_core_destroy(m->core);
	return ret;
}

int am_poll(struct accel_machine *m, uint32_t cpu)
{
	int v;

	if (m->arch == AM_ARM)
		return ims_arm_its_dispatch(m->its, cpu) > 0 ? 0 : -1;
	v = ims__lapic_accept(ims__apic_bus_lapic(m->bus, cpu));

	if (v >= 0)
		ims_x86_vector_dispatch(m->vd, cpu, (uint8_t)v);
	return v;
}

unsigned int am_run(struct accel_machine *m)
{
	unsigned int n = 0;
	bool any;

	do {
		any = ims__hw_accel_step(m->hw, 1u << 30) > 0;
		for (uint32_t c = 0; c < m->nr_cpus; c++)
			while (am_poll(m, c) >= 0) {
				n++;
				any = true;
			}
	} while (any);
	return n;
}
