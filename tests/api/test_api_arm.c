/*
 * The ITS driver through the public headers alone, over a GIC that the
 * test itself supplies (struct ims_arm_gic_ops): a second oracle beside
 * the model. The test's GIC takes every command and records it; the test
 * checks the command stream an OS must produce (boot: MAPC per CPU; first
 * vector of a device: MAPD with its ITT; activation: MAPTI, INV, SYNC;
 * a move: MOVI; deactivation: DISCARD; the last vector: MAPD V=0), the
 * message a device gets, and dispatch from the CPU interface to the
 * handler. The IMS domain is the public msi.h one, on the ITS.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <ims/ims.h>

#define NCPU 2u
#define BASE 0x10000000ull
#define MAXCMD 256

/* ---- a GIC that takes every command ---- */

struct gic {
	uint64_t baser[8], cbaser, cwriter;
	uint64_t *queue;		/* the driver's queue, from CBASER */
	uint64_t cmd[MAXCMD][4];
	unsigned int ncmd;
	uint32_t iar[NCPU];		/* what ICC_IAR1 returns next, per CPU */
	uint32_t eoi[NCPU];
	size_t mem_live;
};

static struct gic g;

static uint64_t its_read(void *ctx, uint32_t off, unsigned int size)
{
	struct gic *x = ctx;

	(void)size;
	if (off == IMS_GITS_TYPER)
		return IMS_GITS_TYPER_PHYSICAL | 7ull << IMS_GITS_TYPER_ITT_ENTRY_SHIFT |
		       15ull << IMS_GITS_TYPER_IDBITS_SHIFT | 15ull << IMS_GITS_TYPER_DEVBITS_SHIFT;
	if (off >= IMS_GITS_BASER(0) && off < IMS_GITS_BASER(8))
		return x->baser[(off - IMS_GITS_BASER(0)) / 8];
	if (off == IMS_GITS_CREADR)
		return x->cwriter;	/* every command taken at once */
	return 0;
}

static void its_write(void *ctx, uint32_t off, unsigned int size, uint64_t val)
{
	struct gic *x = ctx;

	(void)size;
	if (off == IMS_GITS_CBASER) {
		x->cbaser = val;
		x->queue = (uint64_t *)(uintptr_t)(val & IMS_GITS_CBASER_ADDR_MASK);
	} else if (off >= IMS_GITS_BASER(0) && off < IMS_GITS_BASER(8)) {
		uint64_t *b = &x->baser[(off - IMS_GITS_BASER(0)) / 8];

		*b = (*b & (0x7ull << 56 | 0x1full << 48)) | (val & ~(0x7ull << 56 | 0x1full << 48));
	} else if (off == IMS_GITS_CWRITER) {
		uint64_t qsize = ((x->cbaser & 0xff) + 1) * 4096;

		for (uint64_t o = x->cwriter; o != (val & IMS_GITS_CQ_OFFSET_MASK); o = (o + 32) % qsize) {
			assert_true(x->ncmd < MAXCMD);
			memcpy(x->cmd[x->ncmd++], &x->queue[o / 8], 32);
		}
		x->cwriter = val & IMS_GITS_CQ_OFFSET_MASK;
	}
}

static uint64_t rd_read(void *ctx, uint32_t cpu, uint32_t off, unsigned int size)
{
	(void)ctx, (void)cpu, (void)off, (void)size;
	return 0;
}

static void rd_write(void *ctx, uint32_t cpu, uint32_t off, unsigned int size, uint64_t val)
{
	(void)ctx, (void)cpu, (void)off, (void)size, (void)val;
}

static uint64_t icc_read(void *ctx, uint32_t cpu, enum ims_icc_reg reg)
{
	struct gic *x = ctx;
	uint32_t v;

	if (reg != IMS_ICC_IAR1)
		return 0;
	v = x->iar[cpu];
	x->iar[cpu] = IMS_ICC_SPURIOUS;
	return v;
}

static void icc_write(void *ctx, uint32_t cpu, enum ims_icc_reg reg, uint64_t val)
{
	struct gic *x = ctx;

	if (reg == IMS_ICC_EOIR1)
		x->eoi[cpu] = (uint32_t)val;
}

static void *mem_alloc(void *ctx, size_t size, size_t align, uint64_t *pa)
{
	struct gic *x = ctx;
	void *p = aligned_alloc(align, (size + align - 1) & ~(align - 1));

	if (!p)
		return NULL;
	memset(p, 0, size);
	x->mem_live++;
	*pa = (uint64_t)(uintptr_t)p;
	return p;
}

static void mem_free(void *ctx, void *p, size_t size)
{
	struct gic *x = ctx;

	(void)size;
	x->mem_live--;
	free(p);
}

static const struct ims_arm_gic_ops ops = {
	its_read, its_write, rd_read, rd_write, icc_read, icc_write, mem_alloc, mem_free,
};

/* ---- a device chip ---- */

static struct ims_msi_msg slots[16];

static void s_mask(struct ims_irq_data *d) { (void)d; }
static void s_unmask(struct ims_irq_data *d) { (void)d; }
static void s_write(struct ims_irq_data *d, const struct ims_msi_msg *m)
{
	slots[ims_msi_irq_desc(d)->index] = *m;
}

static const struct ims_msi_domain_template tmpl = {
	.name = "IMS-test", .type = IMS_MSI_TYPE_IMS,
	.chip = { .irq_mask = s_mask, .irq_unmask = s_unmask, .irq_write_msi_msg = s_write },
};

static unsigned int handled;

static ims_irqreturn_t handler(unsigned int irq, void *ctx)
{
	(void)irq, (void)ctx;
	handled++;
	return IMS_IRQ_HANDLED;
}

static unsigned int cmd_at(unsigned int from, unsigned int c)
{
	for (unsigned int i = from; i < g.ncmd; i++)
		if ((g.cmd[i][0] & 0xff) == c)
			return i;
	fail_msg("command 0x%x not sent after #%u", c, from);
	return 0;
}

static void the_driver_sends_what_an_os_must(void **state)
{
	struct ims_irq_core_config cc = { .nr_cpus = NCPU };
	struct ims_irq_core *core;
	struct ims_arm_its *its;
	struct ims_arm_its_config ic = { .nr_cpus = NCPU, .its_base = BASE, .events_per_device = 32,
					 .ops = &ops, .ctx = &g };
	struct ims_device *dev;
	struct ims_device_info di = { .name = "0000:05:00.0", .rid = 0x0500 };
	struct ims_msi_map m;
	struct ims_cpumask *mask;
	union ims_msi_cookie ck = { 0 };
	unsigned int i, mapd, mapti;
	uint32_t lpi, cpu;

	(void)state;
	memset(&g, 0, sizeof(g));
	g.baser[0] = 1ull << 56 | 7ull << 48;
	g.baser[3] = 4ull << 56 | 7ull << 48;
	g.iar[0] = g.iar[1] = IMS_ICC_SPURIOUS;
	assert_int_equal(ims_irq_core_create(&cc, &core), 0);
	assert_int_equal(ims_arm_its_create(core, &ic, &its), 0);
	assert_true(g.baser[0] & IMS_GITS_BASER_VALID);
	assert_true(g.baser[3] & IMS_GITS_BASER_VALID);	/* found by type, not position */
	/* Boot: MAPC n -> CPU n, each followed by a SYNC. */
	for (i = 0; i < NCPU; i++) {
		assert_int_equal(g.cmd[2 * i][0] & 0xff, IMS_ITS_CMD_MAPC);
		assert_int_equal(g.cmd[2 * i][2] & 0xffff, i);
		assert_int_equal(g.cmd[2 * i][2] >> 16 & 0xffff, i);
		assert_true(g.cmd[2 * i][2] & IMS_ITS_CMD_VALID);
		assert_int_equal(g.cmd[2 * i + 1][0] & 0xff, IMS_ITS_CMD_SYNC);
	}
	di.core = core;
	di.msi_parent = ims_arm_its_irq_domain(its);
	assert_int_equal(ims_device_create(&di, &dev), 0);
	assert_int_equal(ims_msi_create_device_domain(dev, IMS_MSI_SECONDARY_DOMAIN, &tmpl, 16, NULL), 0);
	m = ims_msi_alloc_irq_at(dev, IMS_MSI_SECONDARY_DOMAIN, 3, NULL, ck);
	assert_true(m.virq >= 0);
	mapd = cmd_at(2 * NCPU, IMS_ITS_CMD_MAPD);
	assert_int_equal(g.cmd[mapd][0] >> 32, 0x0500);
	assert_int_equal(g.cmd[mapd][1] & 0x1f, 4);		/* 32 events: 5 bits */
	assert_true(g.cmd[mapd][2] & IMS_ITS_CMD_VALID);
	assert_int_equal(g.cmd[mapd][2] & 0xff, 0);		/* ITT 256-byte aligned */
	assert_int_equal(ims_irq_request(core, (unsigned)m.virq, handler, 0, "h", NULL), 0);
	mapti = cmd_at(mapd, IMS_ITS_CMD_MAPTI);
	lpi = (uint32_t)(g.cmd[mapti][1] >> 32);
	cpu = (uint32_t)(g.cmd[mapti][2] & 0xffff);
	assert_true(lpi >= IMS_LPI_BASE);
	assert_int_equal(g.cmd[mapti][0] >> 32, 0x0500);
	assert_int_equal(g.cmd[cmd_at(mapti, IMS_ITS_CMD_INV)][1] & 0xffffffffu, g.cmd[mapti][1] & 0xffffffffu);
	cmd_at(mapti, IMS_ITS_CMD_SYNC);
	/* The device's message: TRANSLATER and the EventID. */
	assert_int_equal(slots[3].address_lo, (uint32_t)(BASE + IMS_GITS_TRANSLATER));
	assert_int_equal(slots[3].address_hi, 0);
	assert_int_equal(slots[3].data, (uint32_t)g.cmd[mapti][1]);
	/* Dispatch: the CPU interface says lpi; the handler runs; EOI follows. */
	g.iar[cpu] = lpi;
	assert_int_equal(ims_arm_its_dispatch(its, cpu), 1);
	assert_int_equal(handled, 1);
	assert_int_equal(g.eoi[cpu], lpi);
	assert_int_equal(ims_arm_its_dispatch(its, cpu), 0);
	g.iar[cpu] = lpi + 1;					/* nobody's LPI */
	assert_int_equal(ims_arm_its_dispatch(its, cpu), -ENOENT);
	assert_int_equal(g.eoi[cpu], lpi + 1);
	/* A move is one MOVI; the message stays. */
	mask = ims_cpumask_create(NCPU);
	ims_cpumask_set(mask, 1 - cpu);
	i = g.ncmd;
	assert_int_equal(ims_irq_set_affinity(core, (unsigned)m.virq, mask), 0);
	assert_int_equal(g.cmd[cmd_at(i, IMS_ITS_CMD_MOVI)][2] & 0xffff, 1 - cpu);
	assert_int_equal(slots[3].data, (uint32_t)g.cmd[mapti][1]);
	ims_cpumask_destroy(mask);
	/* Teardown: DISCARD, then the device is unmapped and its ITT freed. */
	i = g.ncmd;
	assert_int_equal(ims_irq_free(core, (unsigned)m.virq, NULL), 0);
	cmd_at(i, IMS_ITS_CMD_DISCARD);
	i = g.ncmd;
	assert_int_equal(ims_msi_free_irq(dev, IMS_MSI_SECONDARY_DOMAIN, 3), 0);
	mapd = cmd_at(i, IMS_ITS_CMD_MAPD);
	assert_false(g.cmd[mapd][2] & IMS_ITS_CMD_VALID);
	assert_int_equal(ims_device_destroy(dev), 0);
	assert_int_equal(ims_arm_its_destroy(its), 0);
	assert_int_equal(g.mem_live, 0);
	assert_int_equal(ims_irq_core_destroy(core), 0);
}

static void unsupported_its_is_refused(void **state)
{
	struct ims_irq_core_config cc = { .nr_cpus = NCPU };
	struct ims_irq_core *core;
	struct ims_arm_its *its;
	struct ims_arm_its_config ic = { .nr_cpus = NCPU, .its_base = BASE, .ops = &ops, .ctx = &g };

	(void)state;
	memset(&g, 0, sizeof(g));
	g.baser[0] = 1ull << 56 | 7ull << 48;	/* no collection table */
	assert_int_equal(ims_irq_core_create(&cc, &core), 0);
	assert_int_equal(ims_arm_its_create(core, &ic, &its), -ENODEV);
	assert_non_null(strstr(ims_last_error(), "collection"));
	assert_int_equal(g.mem_live, 0);
	assert_int_equal(ims_irq_core_destroy(core), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(the_driver_sends_what_an_os_must),
		cmocka_unit_test(unsupported_its_is_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
