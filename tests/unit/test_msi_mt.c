/*
 * MSI-X and IMS vectors of one device allocated, requested, fired and freed
 * from eight threads at once, with a ninth raising interrupts on whatever
 * irq numbers exist. Run under TSan in CI; at the end every counter equals
 * its recount and nothing is left.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "helpers/fake_msi.h"
#include "os/irq/internal.h"
#include "os/msi/msi_internal.h"

#define THREADS 8

static struct ims_irq_core *core;
static struct fake_parent remap;
static struct fake_ims ims, msix;
static struct ims_device *dev;
static atomic_bool stop;
static atomic_uint_fast64_t handled, ops_done;

static unsigned int ops_per_thread(void)
{
	const char *e = getenv("IMS_TEST_SCALE");

	return e ? (unsigned int)atoi(e) : 3000;
}

static ims_irqreturn_t handler(unsigned int irq, void *ctx)
{
	(void)irq;
	(void)ctx;
	atomic_fetch_add(&handled, 1);
	return IMS_IRQ_HANDLED;
}

static uint64_t rng(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void *worker(void *arg)
{
	unsigned int id = (unsigned int)(uintptr_t)arg;
	enum ims_msi_domain_id domid = id % 2 ? IMS_MSI_SECONDARY_DOMAIN : IMS_MSI_DEFAULT_DOMAIN;
	uint64_t seed = 0x9e3779b97f4a7c15ull * (id + 1);
	struct ims_msi_map held[16];
	int groups[4] = { 0 };
	unsigned int nheld = 0, n = ops_per_thread();
	union ims_msi_cookie cookie = { .value = id };

	for (unsigned int op = 0; op < n; op++) {
		unsigned int r = (unsigned int)(rng(&seed) % 10);

		if (r < 4 && nheld < 16) {
			struct ims_msi_map m = ims_msi_alloc_irq_at(dev, domid, IMS_MSI_ANY_INDEX, NULL, cookie);

			if (m.index >= 0) {
				assert_int_equal(ims_irq_request(core, (unsigned int)m.virq, handler, 0, "mt",
								 NULL), 0);
				held[nheld++] = m;
			} else {
				assert_int_equal(m.index, -ENOSPC);
			}
		} else if (r < 8 && nheld) {
			struct ims_msi_map m = held[--nheld];

			ims_irq_handle(core, (unsigned int)m.virq, id % 4);
			assert_int_equal(ims_irq_free(core, (unsigned int)m.virq, NULL), 0);
			assert_int_equal(ims_msi_free_irq(dev, domid, (uint32_t)m.index), 0);
		} else if (domid == IMS_MSI_SECONDARY_DOMAIN) {
			unsigned int g = r % 4;

			if (groups[g]) {
				assert_int_equal(ims_msi_free_group(dev, domid, groups[g]), 0);
				groups[g] = 0;
			} else {
				struct ims_msi_map maps[3];
				int ret = ims_msi_alloc_group(dev, domid, 3, NULL, cookie, maps);

				if (ret > 0)
					groups[g] = ret;
				else
					assert_int_equal(ret, -ENOSPC);
			}
		}
		atomic_fetch_add(&ops_done, 1);
	}
	while (nheld) {
		struct ims_msi_map m = held[--nheld];

		assert_int_equal(ims_irq_free(core, (unsigned int)m.virq, NULL), 0);
		assert_int_equal(ims_msi_free_irq(dev, domid, (uint32_t)m.index), 0);
	}
	for (unsigned int g = 0; g < 4; g++)
		if (groups[g])
			assert_int_equal(ims_msi_free_group(dev, domid, groups[g]), 0);
	return NULL;
}

/* Raises interrupts on any irq number; most exist, some were just freed. */
static void *firer(void *arg)
{
	uint64_t seed = 12345;

	(void)arg;
	while (!atomic_load(&stop))
		ims_irq_handle(core, (unsigned int)(rng(&seed) % 256), (uint32_t)(seed % 4));
	return NULL;
}

static void msix_and_ims_from_eight_threads(void **state)
{
	struct ims_irq_core_config cfg = { .nr_cpus = 4 };
	struct ims_device_info di = { .name = "0000:05:00.0", .rid = 0x0500 };
	struct ims_msi_domain_template msix_t = fake_ims_template;
	pthread_t t[THREADS], f;
	struct ims_mem_stats m;

	(void)state;
	assert_int_equal(ims_irq_core_create(&cfg, &core), 0);
	assert_int_equal(fake_parent_create(core, "IR", true, &remap), 0);
	di.core = core;
	di.msi_parent = remap.domain;
	assert_int_equal(ims_device_create(&di, &dev), 0);
	msix_t.type = IMS_MSI_TYPE_MSIX;
	msix_t.name = "PCI-MSIX";
	assert_int_equal(ims_msi_create_device_domain(dev, IMS_MSI_DEFAULT_DOMAIN, &msix_t, 48, &msix), 0);
	assert_int_equal(ims_msi_create_device_domain(dev, IMS_MSI_SECONDARY_DOMAIN, &fake_ims_template, 96,
						      &ims), 0);
	pthread_create(&f, NULL, firer, NULL);
	for (uintptr_t i = 0; i < THREADS; i++)
		pthread_create(&t[i], NULL, worker, (void *)i);
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	atomic_store(&stop, true);
	pthread_join(f, NULL);
	printf("%llu operations, %llu interrupts handled\n", (unsigned long long)atomic_load(&ops_done),
	       (unsigned long long)atomic_load(&handled));
	assert_int_equal(ims__msi_device_check(dev), 0);
	assert_int_equal(ims__irq_core_check(core), 0);
	assert_int_equal(ims_msi_nr_allocated(dev, IMS_MSI_SECONDARY_DOMAIN), 0);
	assert_int_equal(ims_msi_nr_allocated(dev, IMS_MSI_DEFAULT_DOMAIN), 0);
	assert_int_equal(atomic_load(&remap.live), 0);
	assert_int_equal(ims_device_destroy(dev), 0);
	assert_int_equal(ims_irq_domain_remove(remap.domain), 0);
	assert_int_equal(ims_irq_core_destroy(core), 0);
	ims_mem_stats(&m);
	assert_int_equal(m.bytes, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(msix_and_ims_from_eight_threads),
	};

	return cmocka_run_group_tests_name("msi_mt", tests, NULL, NULL);
}
