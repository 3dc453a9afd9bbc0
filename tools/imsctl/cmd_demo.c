/*
 * imsctl demo: the narrated run of the whole system. Until the machine
 * model exists it runs the interrupt core on its own: bare descriptors,
 * handlers, an edge held pending while disabled and replayed, and the
 * /proc/interrupts-style table.
 */
#include <string.h>

#include "imsctl.h"

#define DEMO_CPUS 4
#define DEMO_IRQS 4

static ims_irqreturn_t demo_handler(unsigned int irq, void *ctx)
{
	(void)irq;
	(void)ctx;
	return IMS_IRQ_HANDLED;
}

static void print_table(struct ims_irq_core *core)
{
	printf("%8s", "");
	for (uint32_t c = 0; c < DEMO_CPUS; c++)
		printf(" %8s%u", "CPU", c);
	printf("  %-8s %-8s %s\n", "chip", "state", "action");
	for (int irq = ims_irq_next(core, 0); irq >= 0; irq = ims_irq_next(core, (unsigned int)irq + 1)) {
		struct ims_irq_info info;

		if (ims_irq_get_info(core, (unsigned int)irq, &info))
			continue;
		printf("%7d:", irq);
		for (uint32_t c = 0; c < DEMO_CPUS; c++)
			printf(" %9llu", (unsigned long long)ims_irq_count_cpu(core, (unsigned int)irq, c));
		printf("  %-8s %-8s %s\n", info.chip, info.disabled ? "disabled" : "enabled",
		       info.actions);
	}
}

int imsctl_cmd_demo(int argc, char **argv)
{
	struct ims_irq_core_config cfg = { .nr_cpus = DEMO_CPUS };
	struct ims_irq_core *core;
	char name[32];
	int base;

	if (imsctl_wants_help(argc, argv)) {
		printf("usage: imsctl demo\n\nRun the narrated demonstration.\n");
		return IMSCTL_OK;
	}
	if (ims_irq_core_create(&cfg, &core)) {
		fprintf(stderr, "imsctl: demo: %s\n", ims_last_error());
		return IMSCTL_FAIL;
	}
	printf("ims demo: the interrupt core of a %d-CPU machine (the machine model comes later)\n\n",
	       DEMO_CPUS);
	base = ims_irq_alloc_descs(core, -1, DEMO_IRQS);
	printf("allocated irqs %d-%d\n", base, base + DEMO_IRQS - 1);
	for (int i = 0; i < DEMO_IRQS; i++) {
		snprintf(name, sizeof(name), "demo-q%d", i);
		ims_irq_request(core, (unsigned int)(base + i), demo_handler, 0, name, NULL);
	}
	printf("requested a handler on each; firing 1000 interrupts spread over the CPUs\n");
	for (int n = 0; n < 1000; n++)
		ims_irq_handle(core, (unsigned int)(base + n % DEMO_IRQS), (uint32_t)(n / 7) % DEMO_CPUS);
	printf("disabling irq %d, firing it 3 times (held pending), enabling it (replayed once)\n",
	       base);
	ims_irq_disable(core, (unsigned int)base);
	for (int n = 0; n < 3; n++)
		ims_irq_handle(core, (unsigned int)base, 0);
	ims_irq_enable(core, (unsigned int)base);
	printf("\n");
	print_table(core);
	for (int i = 0; i < DEMO_IRQS; i++)
		ims_irq_free(core, (unsigned int)(base + i), NULL);
	ims_irq_free_descs(core, (unsigned int)base, DEMO_IRQS);
	ims_irq_core_destroy(core);
	return IMSCTL_OK;
}
