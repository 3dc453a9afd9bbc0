/*
 * The APIC bus (see apic_bus.h). Physical destinations are found through
 * a table indexed by APIC ID; logical ones by asking each APIC, which is
 * what logical mode costs on real machines too (it is used only on small
 * ones). The compatibility decode here is the hardware's own, written from
 * the format and not shared with the OS side, so that a bug in one shows
 * against the other.
 */
#include <errno.h>

#include "hw/apic_bus.h"
#include "util/alloc.h"
#include "util/log.h"

#define NO_CPU UINT32_MAX
#define MAX_APIC_ID (1u << 20)

struct ims_hw_apic_bus {
	uint32_t nr_cpus;
	uint32_t flags;
	uint32_t id_slots;		/* entries of by_id */
	struct ims_hw_lapic **lapics;	/* by CPU index */
	uint32_t *by_id;		/* APIC ID -> CPU index, NO_CPU if none */
	atomic_uint lowest_turn;	/* rotates lowest-priority ties */
	atomic_uint_fast64_t dropped;
};

void ims__apic_bus_destroy(struct ims_hw_apic_bus *bus)
{
	if (!bus)
		return;
	if (bus->lapics)
		for (uint32_t i = 0; i < bus->nr_cpus; i++)
			ims__lapic_destroy(bus->lapics[i]);
	ims__free(bus->lapics, bus->nr_cpus * sizeof(*bus->lapics));
	ims__free(bus->by_id, bus->id_slots * sizeof(*bus->by_id));
	ims__free(bus, sizeof(*bus));
}

int ims__apic_bus_create(uint32_t nr_cpus, const uint32_t *apic_ids, uint32_t flags,
			 struct ims_hw_apic_bus **out)
{
	struct ims_hw_apic_bus *bus;
	uint32_t i, max_id = 0;
	int rc;

	if (nr_cpus == 0 || nr_cpus > 65536)
		return ims__error(-EINVAL, "apic bus: nr_cpus %u is not in 1..65536", nr_cpus);
	for (i = 0; i < nr_cpus; i++) {
		uint32_t id = apic_ids ? apic_ids[i] : i;

		if (id >= MAX_APIC_ID)
			return ims__error(-EINVAL, "apic bus: CPU %u: APIC ID 0x%x is above 0x%x", i, id,
					  MAX_APIC_ID - 1);
		if (id > max_id)
			max_id = id;
	}
	bus = ims__zalloc(sizeof(*bus), "hw_apic_bus");
	if (!bus)
		return -ENOMEM;
	bus->nr_cpus = nr_cpus;
	bus->flags = flags;
	bus->id_slots = max_id + 1;
	bus->lapics = ims__calloc(nr_cpus, sizeof(*bus->lapics), "hw_apic_bus");
	bus->by_id = ims__calloc(bus->id_slots, sizeof(*bus->by_id), "hw_apic_bus");
	if (!bus->lapics || !bus->by_id) {
		rc = -ENOMEM;
		goto err;
	}
	for (i = 0; i < bus->id_slots; i++)
		bus->by_id[i] = NO_CPU;
	for (i = 0; i < nr_cpus; i++) {
		uint32_t id = apic_ids ? apic_ids[i] : i;

		if (bus->by_id[id] != NO_CPU) {
			rc = ims__error(-EINVAL, "apic bus: CPUs %u and %u share APIC ID 0x%x",
					bus->by_id[id], i, id);
			goto err;
		}
		bus->by_id[id] = i;
		rc = ims__lapic_create(id, &bus->lapics[i]);
		if (rc)
			goto err;
	}
	*out = bus;
	return 0;

err:
	ims__apic_bus_destroy(bus);
	return rc;
}

uint32_t ims__apic_bus_nr_cpus(const struct ims_hw_apic_bus *bus)
{
	return bus->nr_cpus;
}

struct ims_hw_lapic *ims__apic_bus_lapic(struct ims_hw_apic_bus *bus, uint32_t cpu)
{
	return cpu < bus->nr_cpus ? bus->lapics[cpu] : NULL;
}

static bool is_broadcast(const struct ims_hw_apic_irq *irq)
{
	return irq->dest_logical ? (irq->dest & 0xffu) == 0xffu
				 : irq->dest == 0xffu || irq->dest == 0xffffffffu;
}

static bool matches(struct ims_hw_apic_bus *bus, uint32_t cpu, const struct ims_hw_apic_irq *irq)
{
	if (is_broadcast(irq))
		return true;
	if (irq->dest_logical)
		return ims__lapic_match_logical(bus->lapics[cpu], irq->dest);
	return ims__lapic_id(bus->lapics[cpu]) == irq->dest;
}

/* Lowest priority: the matching APIC with the lowest PPR, ties in turn. */
static int deliver_lowest(struct ims_hw_apic_bus *bus, const struct ims_hw_apic_irq *irq)
{
	uint32_t start, best = NO_CPU, best_ppr = 0;

	/* A physical destination names one APIC: nothing to arbitrate. */
	if (!irq->dest_logical && !is_broadcast(irq)) {
		uint32_t cpu = irq->dest < bus->id_slots ? bus->by_id[irq->dest] : NO_CPU;

		return cpu == NO_CPU ? 0 : ims__lapic_deliver(bus->lapics[cpu], irq->delivery_mode,
							      irq->vector, irq->level_trigger);
	}
	start = atomic_fetch_add_explicit(&bus->lowest_turn, 1, memory_order_relaxed);
	for (uint32_t k = 0; k < bus->nr_cpus; k++) {
		uint32_t cpu = (start + k) % bus->nr_cpus, ppr;

		if (!matches(bus, cpu, irq))
			continue;
		ppr = ims__lapic_ppr(bus->lapics[cpu]);
		if (best == NO_CPU || ppr < best_ppr) {
			best = cpu;
			best_ppr = ppr;
		}
	}
	if (best == NO_CPU)
		return 0;
	return ims__lapic_deliver(bus->lapics[best], irq->delivery_mode, irq->vector,
				  irq->level_trigger);
}

int ims__apic_bus_deliver(struct ims_hw_apic_bus *bus, const struct ims_hw_apic_irq *irq)
{
	int n = 0;

	if (irq->delivery_mode == IMS_DM_LOWEST)
		return deliver_lowest(bus, irq);
	if (!irq->dest_logical && !is_broadcast(irq)) {
		/* The common case: one APIC, found without a search. */
		uint32_t cpu = irq->dest < bus->id_slots ? bus->by_id[irq->dest] : NO_CPU;

		if (cpu == NO_CPU)
			return 0;
		return ims__lapic_deliver(bus->lapics[cpu], irq->delivery_mode, irq->vector,
					  irq->level_trigger);
	}
	for (uint32_t cpu = 0; cpu < bus->nr_cpus; cpu++)
		if (matches(bus, cpu, irq))
			n += ims__lapic_deliver(bus->lapics[cpu], irq->delivery_mode, irq->vector,
						irq->level_trigger);
	return n;
}

static int sink_fn(void *ctx, const struct ims_hw_apic_irq *irq)
{
	return ims__apic_bus_deliver(ctx, irq);
}

struct ims_hw_apic_sink ims__apic_bus_sink(struct ims_hw_apic_bus *bus)
{
	return (struct ims_hw_apic_sink){ .fn = sink_fn, .ctx = bus };
}

int ims__apic_bus_msi_write(struct ims_hw_apic_bus *bus, const struct ims_hw_msi_write *w)
{
	struct ims_hw_apic_irq irq;
	uint32_t a = (uint32_t)w->addr;

	/* Outside the interrupt range, or remappable (bit 4): not ours. */
	if ((w->addr >> 20) != 0xfee || (a & (1u << 4))) {
		atomic_fetch_add_explicit(&bus->dropped, 1, memory_order_relaxed);
		return 0;
	}
	irq.dest = (a >> 12) & 0xffu;
	if ((bus->flags & IMS_APIC_BUS_EXT_DEST) && irq.dest != 0xffu)
		irq.dest |= ((a >> 5) & 0x7fu) << 8;
	irq.dest_logical = a & (1u << 2);
	irq.redirection_hint = a & (1u << 3);
	irq.vector = (uint8_t)w->data;
	irq.delivery_mode = (uint8_t)((w->data >> 8) & 7u);
	irq.level_assert = w->data & (1u << 14);
	irq.level_trigger = w->data & (1u << 15);
	return ims__apic_bus_deliver(bus, &irq);
}

static void msi_sink_fn(void *ctx, const struct ims_hw_msi_write *w)
{
	ims__apic_bus_msi_write(ctx, w);
}

struct ims_hw_msi_sink ims__apic_bus_msi_sink(struct ims_hw_apic_bus *bus)
{
	return (struct ims_hw_msi_sink){ .fn = msi_sink_fn, .ctx = bus };
}

uint64_t ims__apic_bus_dropped(struct ims_hw_apic_bus *bus)
{
	return atomic_load_explicit(&bus->dropped, memory_order_relaxed);
}

static uint32_t reg_read(void *ctx, uint32_t cpu, uint32_t reg)
{
	struct ims_hw_lapic *l = ims__apic_bus_lapic(ctx, cpu);

	return l ? ims__lapic_read(l, reg) : 0;
}

static void reg_write(void *ctx, uint32_t cpu, uint32_t reg, uint32_t val)
{
	struct ims_hw_lapic *l = ims__apic_bus_lapic(ctx, cpu);

	if (l)
		ims__lapic_write(l, reg, val);
}

const struct ims_x86_apic_ops ims__apic_bus_reg_ops = {
	.read = reg_read,
	.write = reg_write,
};
