/*
 * The test machine of x86_machine.h.
 */
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "helpers/x86_machine.h"
#include "hw/lapic.h"

static struct x86m_slot *slot_of(struct ims_irq_data *d)
{
	return d->chip_data;
}

static struct x86m *machine_of(struct ims_irq_data *d)
{
	return ims_irq_domain_host_data(ims_irq_data_domain(d));
}

static int send_msg(struct x86m *m, uint32_t addr, uint32_t data)
{
	struct ims_hw_msi_write w = { .addr = addr, .data = data };

	return ims__apic_bus_msi_write(m->bus, &w);
}

static void slot_write(struct ims_irq_data *d, const struct ims_msi_msg *msg)
{
	struct x86m_slot *s = slot_of(d);

	ims__spin_lock(&s->lock);
	s->addr = msg->address_lo;
	s->data = msg->data;
	ims__spin_unlock(&s->lock);
}

static void slot_mask(struct ims_irq_data *d)
{
	struct x86m_slot *s = slot_of(d);

	ims__spin_lock(&s->lock);
	s->masked = true;
	ims__spin_unlock(&s->lock);
}

/* Unmask replays what was raised while masked, as MSI-X pending bits do. */
static void slot_unmask(struct ims_irq_data *d)
{
	struct x86m_slot *s = slot_of(d);
	struct x86m *m = machine_of(d);
	uint32_t addr, data;
	bool replay, posted;

	ims__spin_lock(&s->lock);
	s->masked = false;
	replay = s->pending;
	s->pending = false;
	posted = s->posted;
	addr = s->addr;
	data = s->data;
	if (replay && !posted)
		atomic_fetch_add(&s->inflight, 1);
	ims__spin_unlock(&s->lock);
	if (!replay)
		return;
	if (posted) {
		if (m->posted_fn)
			m->posted_fn(m->posted_ctx, (uint32_t)(s - m->slots));
		return;
	}
	atomic_fetch_add(&s->sent, 1);
	send_msg(m, addr, data);
	atomic_fetch_sub(&s->inflight, 1);
}

static int slot_set_affinity(struct ims_irq_data *d, const struct ims_cpumask *mask, bool force)
{
	struct ims_msi_msg msg;
	int ret = ims_irq_chip_set_affinity_parent(d, mask, force);

	if (ret == IMS_SET_AFFINITY_OK && ims_irq_chip_compose_msi_msg_parent(d, &msg) == 0)
		slot_write(d, &msg);
	return ret;
}

static const struct ims_irq_chip slot_chip = {
	.name = "test-slot",
	.irq_mask = slot_mask,
	.irq_unmask = slot_unmask,
	.irq_set_affinity = slot_set_affinity,
	.irq_write_msi_msg = slot_write,
};

static int dev_alloc(struct ims_irq_domain *d, unsigned int virq, unsigned int nr, void *arg)
{
	struct x86m *m = ims_irq_domain_host_data(d);
	uint32_t first = *(uint32_t *)arg;
	int ret = ims_irq_domain_alloc_irqs_parent(d, virq, nr, arg);

	if (ret)
		return ret;
	for (unsigned int i = 0; i < nr; i++) {
		struct x86m_slot *s = &m->slots[first + i];

		ims__spin_lock(&s->lock);
		s->masked = true;
		s->pending = false;
		s->posted = false;
		s->addr = s->data = 0;
		ims__spin_unlock(&s->lock);
		ims_irq_domain_set_info(d, virq + i, first + i, s);
	}
	return 0;
}

static void dev_free(struct ims_irq_domain *d, unsigned int virq, unsigned int nr)
{
	ims_irq_domain_free_irqs_parent(d, virq, nr);
}

static int dev_activate(struct ims_irq_domain *d, struct ims_irq_data *irqd, bool reserve)
{
	struct ims_msi_msg msg;
	int ret;

	(void)d;
	(void)reserve;
	ret = ims_irq_chip_compose_msi_msg_parent(irqd, &msg);
	if (ret)
		return ret;
	slot_write(irqd, &msg);
	return 0;
}

static void dev_deactivate(struct ims_irq_domain *d, struct ims_irq_data *irqd)
{
	struct ims_msi_msg zero = { 0, 0, 0 };

	(void)d;
	slot_write(irqd, &zero);
}

static const struct ims_irq_domain_ops dev_ops = {
	.alloc = dev_alloc,
	.free = dev_free,
	.activate = dev_activate,
	.deactivate = dev_deactivate,
};

int x86m_create(struct x86m *m, uint32_t nr_cpus, const uint32_t *apic_ids, uint32_t vflags,
		uint32_t nr_slots)
{
	struct ims_irq_core_config cc = { .nr_cpus = nr_cpus };
	struct ims_x86_vector_config vc = {
		.nr_cpus = nr_cpus, .apic_ids = apic_ids, .flags = vflags,
		.apic = &ims__apic_bus_reg_ops,
	};
	struct ims_irq_domain_info di = { .name = "test-dev", .ops = &dev_ops, .chip = &slot_chip };
	int rc;

	memset(m, 0, sizeof(*m));
	m->nr_cpus = nr_cpus;
	m->nr_slots = nr_slots;
	m->slots = calloc(nr_slots, sizeof(*m->slots));
	if (!m->slots)
		return -ENOMEM;
	rc = ims_irq_core_create(&cc, &m->core);
	if (rc)
		return rc;
	rc = ims__apic_bus_create(nr_cpus, apic_ids,
				  (vflags & IMS_X86_VECTOR_EXT_DEST_ID) ? IMS_APIC_BUS_EXT_DEST : 0, &m->bus);
	if (rc)
		return rc;
	vc.apic_ctx = m->bus;
	rc = ims_x86_vector_domain_create(m->core, &vc, &m->vd);
	if (rc)
		return rc;
	di.parent = ims_x86_vector_irq_domain(m->vd);
	di.host_data = m;
	return ims_irq_domain_create(m->core, &di, &m->dev);
}

void x86m_destroy(struct x86m *m)
{
	if (m->dev)
		ims_irq_domain_remove(m->dev);
	if (m->vd)
		ims_x86_vector_domain_destroy(m->vd);
	ims__apic_bus_destroy(m->bus);
	if (m->core)
		ims_irq_core_destroy(m->core);
	free(m->slots);
	memset(m, 0, sizeof(*m));
}

int x86m_alloc(struct x86m *m, uint32_t slot, unsigned int nr, const struct ims_cpumask *aff)
{
	return ims_irq_domain_alloc_irqs(m->dev, -1, nr, &slot, aff);
}

int x86m_send(struct x86m *m, uint32_t addr, uint32_t data)
{
	return send_msg(m, addr, data);
}

int x86m_fire(struct x86m *m, uint32_t slot)
{
	struct x86m_slot *s = &m->slots[slot];
	uint32_t addr, data;

	int n;

	ims__spin_lock(&s->lock);
	if (s->masked) {
		s->pending = true;
		ims__spin_unlock(&s->lock);
		atomic_fetch_add(&s->latched, 1);
		return 0;
	}
	if (s->posted) {
		ims__spin_unlock(&s->lock);
		if (m->posted_fn)
			m->posted_fn(m->posted_ctx, slot);
		return 0;
	}
	addr = s->addr;
	data = s->data;
	atomic_fetch_add(&s->inflight, 1);
	ims__spin_unlock(&s->lock);
	/* Sent outside the lock: a message read before an update may land after it. */
	atomic_fetch_add(&s->sent, 1);
	n = send_msg(m, addr, data);
	atomic_fetch_sub(&s->inflight, 1);
	return n;
}

void x86m_slot_post(struct x86m *m, uint32_t slot)
{
	struct x86m_slot *s = &m->slots[slot];

	ims__spin_lock(&s->lock);
	s->posted = true;
	ims__spin_unlock(&s->lock);
	while (atomic_load(&s->inflight))
		sched_yield();
}

void x86m_slot_unpost(struct x86m *m, uint32_t slot, const struct ims_msi_msg *msg)
{
	struct x86m_slot *s = &m->slots[slot];

	ims__spin_lock(&s->lock);
	s->addr = msg->address_lo;
	s->data = msg->data;
	s->posted = false;
	ims__spin_unlock(&s->lock);
}

int x86m_poll(struct x86m *m, uint32_t cpu)
{
	int v = ims__lapic_accept(ims__apic_bus_lapic(m->bus, cpu));

	if (v >= 0)
		ims_x86_vector_dispatch(m->vd, cpu, (uint8_t)v);
	return v;
}

unsigned int x86m_run(struct x86m *m)
{
	unsigned int n = 0;
	bool any;

	do {
		any = false;
		for (uint32_t c = 0; c < m->nr_cpus; c++)
			while (x86m_poll(m, c) >= 0) {
				n++;
				any = true;
			}
	} while (any);
	return n;
}

bool x86m_irr(struct x86m *m, uint32_t cpu, uint32_t vector)
{
	return ims__lapic_read(ims__apic_bus_lapic(m->bus, cpu), IMS_LAPIC_IRR + (vector / 32) * 0x10) &
	       (1u << (vector % 32));
}

bool x86m_isr_empty(struct x86m *m, uint32_t cpu)
{
	for (uint32_t w = 0; w < 8; w++)
		if (ims__lapic_read(ims__apic_bus_lapic(m->bus, cpu), IMS_LAPIC_ISR + w * 0x10))
			return false;
	return true;
}
