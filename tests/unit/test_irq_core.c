/*
 * The interrupt core: descriptors, a three-level domain hierarchy with fake
 * chips, rollback, flows, handlers, disable/enable, storms, affinity, and
 * the fail-Nth loop over every allocating call.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "helpers/fail_nth.h"
#include "os/irq/internal.h"

/* ---- a fake three-level hierarchy: root <- mid <- top ---- */

static char calllog[4096];

__attribute__((format(printf, 1, 2))) static void logf_(const char *fmt, ...)
{
	size_t n = strlen(calllog);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(calllog + n, sizeof(calllog) - n, fmt, ap);
	va_end(ap);
}

struct fake_level {
	const char *tag;
	int fail_alloc;		/* fail alloc of this level with this errno */
	int fail_activate;
	int fail_affinity;
	uint32_t next_hwirq;
	uint32_t live;		/* levels allocated here */
	uint32_t active;
	uint32_t masked;
	struct ims_msi_msg written;
	uint32_t writes;
};

static struct fake_level L_root = { .tag = "R" }, L_mid = { .tag = "M" }, L_top = { .tag = "T" };

static int fake_alloc(struct ims_irq_domain *d, unsigned int virq, unsigned int nr, void *arg)
{
	struct fake_level *l = ims_irq_domain_host_data(d);
	unsigned int i;
	int ret;

	(void)arg;
	if (ims_irq_domain_parent(d)) {
		ret = ims_irq_domain_alloc_irqs_parent(d, virq, nr, arg);
		if (ret)
			return ret;
	}
	if (l->fail_alloc) {
		ims_irq_domain_free_irqs_parent(d, virq, nr);
		return l->fail_alloc;
	}
	for (i = 0; i < nr; i++)
		ims_irq_domain_set_info(d, virq + i, l->next_hwirq++, l);
	l->live += nr;
	return 0;
}

static void fake_free(struct ims_irq_domain *d, unsigned int virq, unsigned int nr)
{
	struct fake_level *l = ims_irq_domain_host_data(d);

	l->live -= nr;
	ims_irq_domain_free_irqs_parent(d, virq, nr);
}

static int fake_activate(struct ims_irq_domain *d, struct ims_irq_data *irqd, bool reserve)
{
	struct fake_level *l = ims_irq_domain_host_data(d);

	(void)reserve;
	(void)irqd;
	if (l->fail_activate)
		return l->fail_activate;
	l->active++;
	logf_("%s+ ", l->tag);
	return 0;
}

static void fake_deactivate(struct ims_irq_domain *d, struct ims_irq_data *irqd)
{
	struct fake_level *l = ims_irq_domain_host_data(d);

	(void)irqd;
	l->active--;
	logf_("%s- ", l->tag);
}

static const struct ims_irq_domain_ops fake_ops = {
	.alloc = fake_alloc,
	.free = fake_free,
	.activate = fake_activate,
	.deactivate = fake_deactivate,
};

static void root_ack(struct ims_irq_data *d)
{
	(void)d;
	logf_("ack ");
}

static int root_set_affinity(struct ims_irq_data *d, const struct ims_cpumask *m, bool force)
{
	struct fake_level *l = d->chip_data;

	(void)force;
	if (l->fail_affinity)
		return l->fail_affinity;
	ims_irq_data_set_effective_cpu(d, ims_cpumask_next(m, 0));
	return IMS_SET_AFFINITY_OK;
}

static void root_compose(struct ims_irq_data *d, struct ims_msi_msg *msg)
{
	msg->address_lo = 0xfee00000;
	msg->data = d->hwirq;
}

static void mid_compose(struct ims_irq_data *d, struct ims_msi_msg *msg)
{
	/* The middle level transforms its parent's message, as remapping does. */
	ims_irq_chip_compose_msi_msg_parent(d, msg);
	msg->address_lo |= 0x10;
	msg->address_hi = 0x1000 + d->hwirq;
}

static void top_mask(struct ims_irq_data *d)
{
	((struct fake_level *)d->chip_data)->masked = 1;
	logf_("mask ");
}

static void top_unmask(struct ims_irq_data *d)
{
	((struct fake_level *)d->chip_data)->masked = 0;
	logf_("unmask ");
}

static void top_write(struct ims_irq_data *d, const struct ims_msi_msg *msg)
{
	struct fake_level *l = d->chip_data;

	l->written = *msg;
	l->writes++;
}

static const struct ims_irq_chip root_chip = {
	.name = "fake-root", .irq_ack = root_ack, .irq_set_affinity = root_set_affinity,
	.irq_compose_msi_msg = root_compose,
};
static const struct ims_irq_chip mid_chip = { .name = "fake-mid", .irq_compose_msi_msg = mid_compose };
static const struct ims_irq_chip top_chip = {
	.name = "fake-top", .irq_mask = top_mask, .irq_unmask = top_unmask,
	.irq_write_msi_msg = top_write,
};

struct world {
	struct ims_irq_core *core;
	struct ims_irq_domain *root, *mid, *top;
};

static struct world W;

static int setup(void **state)
{
	struct ims_irq_core_config cfg = { .nr_cpus = 4 };
	struct ims_irq_domain_info ri = { .name = "root", .ops = &fake_ops, .chip = &root_chip,
					  .host_data = &L_root };
	struct ims_irq_domain_info mi = { .name = "mid", .ops = &fake_ops, .chip = &mid_chip,
					  .host_data = &L_mid };
	struct ims_irq_domain_info ti = { .name = "top", .ops = &fake_ops, .chip = &top_chip,
					  .host_data = &L_top };

	(void)state;
	memset(&L_root, 0, sizeof(L_root));
	memset(&L_mid, 0, sizeof(L_mid));
	memset(&L_top, 0, sizeof(L_top));
	L_root.tag = "R";
	L_mid.tag = "M";
	L_top.tag = "T";
	calllog[0] = '\0';
	assert_int_equal(ims_irq_core_create(&cfg, &W.core), 0);
	assert_int_equal(ims_irq_domain_create(W.core, &ri, &W.root), 0);
	mi.parent = W.root;
	assert_int_equal(ims_irq_domain_create(W.core, &mi, &W.mid), 0);
	ti.parent = W.mid;
	assert_int_equal(ims_irq_domain_create(W.core, &ti, &W.top), 0);
	return 0;
}

static int teardown(void **state)
{
	struct ims_mem_stats m;

	(void)state;
	assert_int_equal(ims__irq_core_check(W.core), 0);
	assert_int_equal(ims_irq_domain_remove(W.top), 0);
	assert_int_equal(ims_irq_domain_remove(W.mid), 0);
	assert_int_equal(ims_irq_domain_remove(W.root), 0);
	assert_int_equal(ims_irq_core_destroy(W.core), 0);
	ims_mem_stats(&m);
	assert_int_equal(m.bytes, 0);
	assert_int_equal(m.objects, 0);
	return 0;
}

static unsigned int hits;
static ims_irqreturn_t count_handler(unsigned int irq, void *ctx)
{
	(void)irq;
	(void)ctx;
	hits++;
	return IMS_IRQ_HANDLED;
}

/* ---- descriptors ---- */

static void descs_alloc_free_ranges(void **state)
{
	int a, b;

	(void)state;
	a = ims_irq_alloc_descs(W.core, -1, 8);
	assert_true(a >= 0);
	b = ims_irq_alloc_descs(W.core, -1, 8);
	assert_int_equal(b, a + 8);
	assert_int_equal(ims_irq_core_nr_irqs(W.core), 16);
	/* A fixed range that overlaps is refused. */
	assert_int_equal(ims_irq_alloc_descs(W.core, a + 4, 2), -EEXIST);
	assert_int_equal(ims_irq_alloc_descs(W.core, 100, 4), 100);
	assert_int_equal(ims_irq_next(W.core, (unsigned int)b + 8), 100);
	assert_int_equal(ims_irq_free_descs(W.core, (unsigned int)a, 8), 0);
	/* The freed hole is found again. */
	assert_int_equal(ims_irq_alloc_descs(W.core, (int)a, 8), a);
	assert_int_equal(ims_irq_free_descs(W.core, (unsigned int)a, 16), 0);
	assert_int_equal(ims_irq_free_descs(W.core, 100, 4), 0);
	assert_int_equal(ims_irq_core_nr_irqs(W.core), 0);
	assert_int_equal(ims_irq_alloc_descs(W.core, -1, 0), -EINVAL);
	assert_int_equal(ims_irq_alloc_descs(W.core, (1 << 22) - 1, 2), -EINVAL);
}

static void descs_double_free_refused_without_change(void **state)
{
	uint64_t warns;
	int a;

	(void)state;
	a = ims_irq_alloc_descs(W.core, -1, 4);
	assert_int_equal(ims_irq_free_descs(W.core, (unsigned int)a + 2, 1), 0);
	warns = ims_warn_count();
	/* The range now has a hole: refused as a whole, nothing freed. */
	assert_int_equal(ims_irq_free_descs(W.core, (unsigned int)a, 4), -EINVAL);
	assert_non_null(strstr(ims_last_error(), "not allocated"));
	assert_true(ims_warn_count() > warns);
	assert_int_equal(ims_irq_core_nr_irqs(W.core), 3);
	assert_int_equal(ims__irq_core_check(W.core), 0);
	assert_int_equal(ims_irq_free_descs(W.core, (unsigned int)a, 2), 0);
	assert_int_equal(ims_irq_free_descs(W.core, (unsigned int)a + 3, 1), 0);
}

static void descs_million_alloc_free_recount(void **state)
{
	const unsigned int n = 1u << 20;
	unsigned int i;

	(void)state;
	for (i = 0; i < n; i++)
		assert_int_equal(ims_irq_alloc_descs(W.core, -1, 1), (int)i);
	assert_int_equal(ims_irq_core_nr_irqs(W.core), n);
	assert_int_equal(ims__irq_core_check(W.core), 0);
	/* Free every other one, check, then the rest. */
	for (i = 0; i < n; i += 2)
		assert_int_equal(ims_irq_free_descs(W.core, i, 1), 0);
	assert_int_equal(ims_irq_core_nr_irqs(W.core), n / 2);
	assert_int_equal(ims__irq_core_check(W.core), 0);
	for (i = 1; i < n; i += 2)
		assert_int_equal(ims_irq_free_descs(W.core, i, 1), 0);
	assert_int_equal(ims_irq_core_nr_irqs(W.core), 0);
	assert_int_equal(W.core->descs.nchunks, 0);
}

/* ---- hierarchy ---- */

static void hierarchy_alloc_sets_every_level(void **state)
{
	struct ims_irq_data *t, *m, *r;
	struct ims_msi_msg msg;
	int virq;

	(void)state;
	virq = ims_irq_domain_alloc_irqs(W.top, -1, 2, NULL, NULL);
	assert_true(virq >= 0);
	assert_int_equal(L_top.live, 2);
	assert_int_equal(L_mid.live, 2);
	assert_int_equal(L_root.live, 2);
	assert_int_equal(ims_irq_domain_nr_irqs(W.root), 2);
	t = ims_irq_domain_get_irq_data(W.top, (unsigned int)virq + 1);
	m = ims_irq_data_parent(t);
	r = ims_irq_data_parent(m);
	assert_ptr_equal(m, ims_irq_domain_get_irq_data(W.mid, (unsigned int)virq + 1));
	assert_ptr_equal(r, ims_irq_domain_get_irq_data(W.root, (unsigned int)virq + 1));
	assert_null(ims_irq_data_parent(r));
	assert_int_equal(t->hwirq, 1);
	assert_ptr_equal(ims_irq_data_domain(m), W.mid);
	assert_string_equal(ims_irq_data_chip(r)->name, "fake-root");
	assert_int_equal(ims_irq_data_irq(r), virq + 1);
	/* Compose: the top has no compose op, the mid transforms the root's. */
	assert_int_equal(ims_irq_chip_compose_msi_msg(t, &msg), 0);
	assert_int_equal(msg.address_lo, 0xfee00010);
	assert_int_equal(msg.address_hi, 0x1001);
	assert_int_equal(msg.data, 1);
	assert_int_equal(ims_irq_chip_compose_msi_msg_parent(m, &msg), 0);
	assert_int_equal(msg.address_lo, 0xfee00000);
	/* Activation bottom-up, deactivation top-down. */
	assert_int_equal(ims_irq_domain_activate_irq(W.core, (unsigned int)virq), 0);
	assert_string_equal(calllog, "R+ M+ T+ ");
	calllog[0] = '\0';
	assert_int_equal(ims_irq_domain_deactivate_irq(W.core, (unsigned int)virq), 0);
	assert_string_equal(calllog, "T- M- R- ");
	/* Parents alone, for a level that stops needing them. */
	calllog[0] = '\0';
	assert_int_equal(ims_irq_domain_activate_irq(W.core, (unsigned int)virq), 0);
	ims_irq_domain_deactivate_parent(t);
	assert_string_equal(calllog, "R+ M+ T+ M- R- ");
	assert_int_equal(ims_irq_domain_activate_parent(t), 0);
	assert_int_equal(L_root.active, 1);
	assert_int_equal(ims_irq_domain_free_irqs(W.core, (unsigned int)virq, 2), 0);
	assert_int_equal(L_root.active, 0);
	assert_int_equal(L_top.active, 0);
	assert_int_equal(L_root.live + L_mid.live + L_top.live, 0);
	assert_int_equal(ims_irq_domain_nr_irqs(W.top), 0);
}

static void hierarchy_rollback_when_any_level_fails(void **state)
{
	struct fake_level *levels[] = { &L_root, &L_mid, &L_top };
	struct ims_mem_stats before, after;
	unsigned int i;

	(void)state;
	for (i = 0; i < 3; i++) {
		ims_mem_stats(&before);
		levels[i]->fail_alloc = -ENOSPC;
		assert_int_equal(ims_irq_domain_alloc_irqs(W.top, -1, 4, NULL, NULL), -ENOSPC);
		levels[i]->fail_alloc = 0;
		ims_mem_stats(&after);
		assert_int_equal(after.bytes, before.bytes);
		assert_int_equal(L_root.live + L_mid.live + L_top.live, 0);
		assert_int_equal(ims_irq_core_nr_irqs(W.core), 0);
		assert_int_equal(ims__irq_core_check(W.core), 0);
	}
	/* Activation failing in the middle undoes the root's activation. */
	{
		int virq = ims_irq_domain_alloc_irqs(W.top, -1, 1, NULL, NULL);

		L_mid.fail_activate = -EIO;
		calllog[0] = '\0';
		assert_int_equal(ims_irq_domain_activate_irq(W.core, (unsigned int)virq), -EIO);
		assert_string_equal(calllog, "R+ R- ");
		assert_int_equal(ims_irq_request(W.core, (unsigned int)virq, count_handler, 0, "x", NULL),
				 -EIO);
		L_mid.fail_activate = 0;
		assert_int_equal(L_root.active, 0);
		assert_int_equal(ims_irq_domain_free_irqs(W.core, (unsigned int)virq, 1), 0);
	}
}

static void hierarchy_refuses_bad_arguments_without_change(void **state)
{
	struct ims_irq_domain_info bad = { .name = "bad" };
	struct ims_irq_domain *d;
	struct ims_cpumask *m = ims_cpumask_create(64);
	int virq;

	(void)state;
	assert_int_equal(ims_irq_domain_create(W.core, &bad, &d), -EINVAL);
	assert_non_null(strstr(ims_last_error(), "alloc op"));
	assert_int_equal(ims_irq_domain_alloc_irqs(W.top, -1, 0, NULL, NULL), -EINVAL);
	/* An affinity with no CPU of this 4-CPU machine. */
	ims_cpumask_set(m, 40);
	assert_int_equal(ims_irq_domain_alloc_irqs(W.top, -1, 1, NULL, m), -EINVAL);
	assert_non_null(strstr(ims_last_error(), "no CPU"));
	virq = ims_irq_domain_alloc_irqs(W.top, -1, 1, NULL, NULL);
	/* The root has irqs and children; removing it is refused. */
	assert_int_equal(ims_irq_domain_remove(W.root), -EBUSY);
	/* Freeing a domain irq as a bare descriptor, or with a handler, is refused. */
	assert_int_equal(ims_irq_free_descs(W.core, (unsigned int)virq, 1), -EINVAL);
	assert_int_equal(ims_irq_request(W.core, (unsigned int)virq, count_handler, 0, "h", NULL), 0);
	assert_int_equal(ims_irq_domain_free_irqs(W.core, (unsigned int)virq, 1), -EBUSY);
	assert_int_equal(ims__irq_core_check(W.core), 0);
	assert_int_equal(ims_irq_free(W.core, (unsigned int)virq, NULL), 0);
	assert_int_equal(ims_irq_domain_free_irqs(W.core, (unsigned int)virq, 1), 0);
	/* Double free of a domain irq: refused, nothing changes. */
	assert_int_equal(ims_irq_domain_free_irqs(W.core, (unsigned int)virq, 1), -EINVAL);
	assert_int_equal(ims_irq_core_destroy(W.core) == -EBUSY, true);
	ims_cpumask_destroy(m);
}

/* ---- handlers and flows ---- */

static int domain_irq_with_handler(void)
{
	int virq = ims_irq_domain_alloc_irqs(W.top, -1, 1, NULL, NULL);

	assert_true(virq >= 0);
	hits = 0;
	assert_int_equal(ims_irq_request(W.core, (unsigned int)virq, count_handler, 0, "dev", NULL), 0);
	return virq;
}

static void release(int virq)
{
	assert_int_equal(ims_irq_free(W.core, (unsigned int)virq, NULL), 0);
	assert_int_equal(ims_irq_domain_free_irqs(W.core, (unsigned int)virq, 1), 0);
}

static void request_starts_and_free_shuts_down(void **state)
{
	struct ims_irq_info info;
	int virq;

	(void)state;
	calllog[0] = '\0';
	virq = domain_irq_with_handler();
	assert_string_equal(calllog, "R+ M+ T+ unmask ");
	assert_int_equal(ims_irq_get_info(W.core, (unsigned int)virq, &info), 0);
	assert_true(info.started && info.activated && !info.masked && !info.disabled);
	assert_string_equal(info.chip, "fake-top");
	assert_string_equal(info.domain, "top");
	assert_string_equal(info.actions, "dev");
	assert_int_equal(info.nr_levels, 3);
	assert_int_equal(ims_irq_handle(W.core, (unsigned int)virq, 2), 0);
	assert_int_equal(hits, 1);
	assert_int_equal(ims_irq_count_cpu(W.core, (unsigned int)virq, 2), 1);
	assert_int_equal(ims_irq_count_cpu(W.core, (unsigned int)virq, 1), 0);
	calllog[0] = '\0';
	assert_int_equal(ims_irq_free(W.core, (unsigned int)virq, NULL), 0);
	assert_string_equal(calllog, "mask T- M- R- ");
	assert_int_equal(ims_irq_domain_free_irqs(W.core, (unsigned int)virq, 1), 0);
}

static void shared_and_exclusive_handlers(void **state)
{
	int a = ims_irq_alloc_descs(W.core, -1, 1);
	int c1, c2;
	uint64_t warns;

	(void)state;
	hits = 0;
	assert_int_equal(ims_irq_request(W.core, (unsigned int)a, count_handler, IMS_IRQF_SHARED, "a",
					 &c1), 0);
	assert_int_equal(ims_irq_request(W.core, (unsigned int)a, count_handler, 0, "b", &c2), -EBUSY);
	assert_int_equal(ims_irq_request(W.core, (unsigned int)a, count_handler, IMS_IRQF_SHARED, "b",
					 &c1), -EEXIST);
	assert_int_equal(ims_irq_request(W.core, (unsigned int)a, count_handler, IMS_IRQF_SHARED, "b",
					 &c2), 0);
	assert_int_equal(ims_irq_handle(W.core, (unsigned int)a, 0), 0);
	assert_int_equal(hits, 2);
	warns = ims_warn_count();
	assert_int_equal(ims_irq_free(W.core, (unsigned int)a, &hits), -ENOENT);
	assert_true(ims_warn_count() > warns);
	assert_int_equal(ims_irq_free(W.core, (unsigned int)a, &c1), 0);
	assert_int_equal(ims_irq_handle(W.core, (unsigned int)a, 0), 0);
	assert_int_equal(hits, 3);
	assert_int_equal(ims_irq_free(W.core, (unsigned int)a, &c2), 0);
	assert_int_equal(ims_irq_request(W.core, (unsigned int)a, NULL, 0, "x", NULL), -EINVAL);
	assert_int_equal(ims_irq_request(W.core, (unsigned int)a, count_handler, 0, "", NULL), -EINVAL);
	assert_int_equal(ims_irq_request(W.core, 999999, count_handler, 0, "x", NULL), -EINVAL);
	assert_int_equal(ims_irq_free_descs(W.core, (unsigned int)a, 1), 0);
}

static struct {
	int virq;
	int depth;
} reent;

static ims_irqreturn_t reentrant_handler(unsigned int irq, void *ctx)
{
	(void)ctx;
	hits++;
	/* A second edge arrives while this one runs (on another CPU). */
	if (reent.depth++ == 0)
		assert_int_equal(ims_irq_handle(W.core, irq, 1), 0);
	return IMS_IRQ_HANDLED;
}

static void edge_arriving_while_running_is_run_again(void **state)
{
	struct ims_irq_info info;
	int virq = ims_irq_domain_alloc_irqs(W.top, -1, 1, NULL, NULL);

	(void)state;
	hits = 0;
	reent.depth = 0;
	assert_int_equal(ims_irq_request(W.core, (unsigned int)virq, reentrant_handler, 0, "re", NULL), 0);
	calllog[0] = '\0';
	assert_int_equal(ims_irq_handle(W.core, (unsigned int)virq, 0), 0);
	/* Once for each edge; the second masked then unmasked around the rerun. */
	assert_int_equal(hits, 2);
	assert_string_equal(calllog, "ack mask ack unmask ");
	assert_int_equal(ims_irq_get_info(W.core, (unsigned int)virq, &info), 0);
	assert_false(info.pending);
	assert_false(info.masked);
	assert_int_equal(info.count, 2);
	release(virq);
}

static void disable_nests_and_enable_replays_once(void **state)
{
	struct ims_irq_info info;
	int virq = domain_irq_with_handler();

	(void)state;
	assert_int_equal(ims_irq_disable(W.core, (unsigned int)virq), 0);
	assert_int_equal(ims_irq_disable_nosync(W.core, (unsigned int)virq), 0);
	/* Lazy disable: not masked until something arrives. */
	assert_int_equal(L_top.masked, 0);
	assert_int_equal(ims_irq_handle(W.core, (unsigned int)virq, 0), 0);
	assert_int_equal(ims_irq_handle(W.core, (unsigned int)virq, 0), 0);
	assert_int_equal(hits, 0);
	assert_int_equal(ims_irq_get_info(W.core, (unsigned int)virq, &info), 0);
	assert_true(info.pending && info.masked && info.disabled);
	assert_int_equal(info.depth, 2);
	assert_int_equal(ims_irq_enable(W.core, (unsigned int)virq), 0);
	assert_int_equal(hits, 0);
	assert_int_equal(ims_irq_enable(W.core, (unsigned int)virq), 0);
	assert_int_equal(hits, 1);
	assert_int_equal(ims_irq_get_info(W.core, (unsigned int)virq, &info), 0);
	assert_false(info.pending || info.masked || info.disabled);
	/* Unbalanced enable: refused, nothing changes. */
	assert_int_equal(ims_irq_enable(W.core, (unsigned int)virq), -EINVAL);
	assert_non_null(strstr(ims_last_error(), "unbalanced"));
	assert_int_equal(ims_irq_get_info(W.core, (unsigned int)virq, &info), 0);
	assert_int_equal(info.depth, 0);
	release(virq);
}

static unsigned int storm_calls;
static ims_irqreturn_t never_mine(unsigned int irq, void *ctx)
{
	(void)irq;
	(void)ctx;
	storm_calls++;
	return IMS_IRQ_NONE;
}

static void storm_is_disabled_and_reported(void **state)
{
	struct ims_irq_core *core;
	struct ims_irq_core_config cfg = { .nr_cpus = 1, .storm_window = 1000, .storm_unhandled = 990 };
	struct ims_irq_info info;
	uint64_t warns = ims_warn_count();
	int a, b, i;

	(void)state;
	assert_int_equal(ims_irq_core_create(&cfg, &core), 0);
	a = ims_irq_alloc_descs(core, -1, 2);
	b = a + 1;
	assert_int_equal(ims_irq_request(core, (unsigned int)a, never_mine, 0, "storm", NULL), 0);
	assert_int_equal(ims_irq_request(core, (unsigned int)b, count_handler, 0, "calm", NULL), 0);
	hits = 0;
	storm_calls = 0;
	for (i = 0; i < 5000; i++) {
		ims_irq_handle(core, (unsigned int)a, 0);
		if (i % 10 == 0)
			ims_irq_handle(core, (unsigned int)b, 0);
	}
	/* Disabled at the end of the first window; the rest held pending. */
	assert_int_equal(storm_calls, 1000);
	assert_int_equal(ims_irq_get_info(core, (unsigned int)a, &info), 0);
	assert_true(info.storm_disabled && info.disabled && info.masked);
	assert_true(ims_warn_count() > warns);
	/* The quiet neighbour keeps working. */
	assert_int_equal(hits, 500);
	/* A handled stream of the same length is not a storm. */
	assert_int_equal(ims_irq_get_info(core, (unsigned int)b, &info), 0);
	assert_false(info.storm_disabled);
	assert_int_equal(ims_irq_free(core, (unsigned int)a, NULL), 0);
	assert_int_equal(ims_irq_free(core, (unsigned int)b, NULL), 0);
	assert_int_equal(ims_irq_free_descs(core, (unsigned int)a, 2), 0);
	assert_int_equal(ims_irq_core_destroy(core), 0);
}

static ims_irqreturn_t self_freeing(unsigned int irq, void *ctx)
{
	(void)ctx;
	assert_int_equal(ims_irq_free(W.core, irq, NULL), -EDEADLK);
	assert_int_equal(ims_irq_synchronize(W.core, irq), -EDEADLK);
	assert_int_equal(ims_irq_disable(W.core, irq), -EDEADLK);
	/* nosync is fine from a handler. */
	assert_int_equal(ims_irq_disable_nosync(W.core, irq), 0);
	assert_int_equal(ims_irq_enable(W.core, irq), 0);
	hits++;
	return IMS_IRQ_HANDLED;
}

static void handler_cannot_wait_for_itself(void **state)
{
	int a = ims_irq_alloc_descs(W.core, -1, 1);

	(void)state;
	hits = 0;
	assert_int_equal(ims_irq_request(W.core, (unsigned int)a, self_freeing, 0, "self", NULL), 0);
	assert_int_equal(ims_irq_handle(W.core, (unsigned int)a, 0), 0);
	assert_int_equal(hits, 1);
	assert_int_equal(ims_irq_free(W.core, (unsigned int)a, NULL), 0);
	assert_int_equal(ims_irq_free_descs(W.core, (unsigned int)a, 1), 0);
}

static void spurious_and_bad_cpu(void **state)
{
	uint64_t before = ims_irq_core_spurious(W.core);

	(void)state;
	assert_int_equal(ims_irq_handle(W.core, 12345, 0), -ENOENT);
	assert_int_equal(ims_irq_core_spurious(W.core), before + 1);
	assert_int_equal(ims_irq_handle(W.core, 0, 4), -EINVAL);
}

static void fasteoi_and_simple_flows(void **state)
{
	static const struct ims_irq_chip eoi_chip = { .name = "eoi", .irq_eoi = root_ack };
	struct ims_irq_domain_info info = { .name = "eoi-root", .ops = &fake_ops, .chip = &eoi_chip,
					    .host_data = &L_root };
	struct ims_irq_domain *d;
	int virq;

	(void)state;
	assert_int_equal(ims_irq_domain_create(W.core, &info, &d), 0);
	virq = ims_irq_domain_alloc_irqs(d, -1, 1, NULL, NULL);
	hits = 0;
	assert_int_equal(ims_irq_request(W.core, (unsigned int)virq, count_handler, 0, "e", NULL), 0);
	assert_int_equal(ims_irq_set_flow(W.core, (unsigned int)virq, IMS_FLOW_FASTEOI), 0);
	calllog[0] = '\0';
	assert_int_equal(ims_irq_handle(W.core, (unsigned int)virq, 0), 0);
	assert_string_equal(calllog, "ack ");	/* the eoi op logs "ack" */
	assert_int_equal(ims_irq_set_flow(W.core, (unsigned int)virq, IMS_FLOW_SIMPLE), 0);
	calllog[0] = '\0';
	assert_int_equal(ims_irq_handle(W.core, (unsigned int)virq, 0), 0);
	assert_string_equal(calllog, "");
	assert_int_equal(hits, 2);
	assert_int_equal(ims_irq_set_flow(W.core, (unsigned int)virq, (enum ims_irq_flow)7), -EINVAL);
	release(virq);
	assert_int_equal(ims_irq_domain_remove(d), 0);
}

/* ---- affinity ---- */

static void affinity_goes_down_the_hierarchy(void **state)
{
	struct ims_cpumask *m = ims_cpumask_create(4), *out = ims_cpumask_create(4);
	int virq = ims_irq_domain_alloc_irqs(W.top, -1, 1, NULL, NULL);

	(void)state;
	assert_int_equal(ims_irq_effective_cpu(W.core, (unsigned int)virq), -ENODATA);
	ims_cpumask_set(m, 2);
	ims_cpumask_set(m, 3);
	assert_int_equal(ims_irq_set_affinity(W.core, (unsigned int)virq, m), 0);
	assert_int_equal(ims_irq_effective_cpu(W.core, (unsigned int)virq), 2);
	assert_int_equal(ims_irq_get_affinity(W.core, (unsigned int)virq, out), 0);
	assert_true(ims_cpumask_equal(m, out));
	/* The chip refuses: nothing changes. */
	L_root.fail_affinity = -ENOSPC;
	ims_cpumask_zero(m);
	ims_cpumask_set(m, 0);
	assert_int_equal(ims_irq_set_affinity(W.core, (unsigned int)virq, m), -ENOSPC);
	L_root.fail_affinity = 0;
	assert_int_equal(ims_irq_effective_cpu(W.core, (unsigned int)virq), 2);
	assert_int_equal(ims_irq_get_affinity(W.core, (unsigned int)virq, out), 0);
	assert_true(ims_cpumask_test(out, 3) && !ims_cpumask_test(out, 0));
	/* An empty mask is refused. */
	ims_cpumask_zero(m);
	assert_int_equal(ims_irq_set_affinity(W.core, (unsigned int)virq, m), -EINVAL);
	assert_int_equal(ims__irq_core_check(W.core), 0);
	/* Equal masks share one interned copy. */
	ims_cpumask_set(m, 1);
	{
		int v2 = ims_irq_domain_alloc_irqs(W.top, -1, 3, NULL, m);

		assert_int_equal(ims_irq_set_affinity(W.core, (unsigned int)virq, m), 0);
		assert_int_equal(W.core->nr_masks, 1);
		assert_int_equal(ims__irq_core_check(W.core), 0);
		assert_int_equal(ims_irq_domain_free_irqs(W.core, (unsigned int)v2, 3), 0);
	}
	assert_int_equal(ims_irq_domain_free_irqs(W.core, (unsigned int)virq, 1), 0);
	assert_int_equal(W.core->nr_masks, 0);
	ims_cpumask_destroy(m);
	ims_cpumask_destroy(out);
}

/* ---- slow-bus chips ---- */

static struct {
	int locked;
	int syncs;
	int fail_sync;
	uint32_t shadow_masked, device_masked;
} bus;

static void bus_mask(struct ims_irq_data *d)
{
	(void)d;
	assert_int_equal(bus.locked, 1);
	bus.shadow_masked = 1;
}

static void bus_unmask(struct ims_irq_data *d)
{
	(void)d;
	assert_int_equal(bus.locked, 1);
	bus.shadow_masked = 0;
}

static void bus_write(struct ims_irq_data *d, const struct ims_msi_msg *m)
{
	(void)d;
	(void)m;
}

static void bus_lock(struct ims_irq_data *d)
{
	(void)d;
	bus.locked++;
}

/* The device takes the shadow, or refuses and keeps what it had. */
static int bus_sync_unlock(struct ims_irq_data *d)
{
	(void)d;
	bus.locked--;
	bus.syncs++;
	if (bus.fail_sync) {
		bus.fail_sync--;
		bus.shadow_masked = bus.device_masked;
		return -EIO;
	}
	bus.device_masked = bus.shadow_masked;
	return 0;
}

static void slow_bus_changes_undone_when_device_refuses(void **state)
{
	static const struct ims_irq_chip bus_chip = {
		.name = "bus", .irq_mask = bus_mask, .irq_unmask = bus_unmask,
		.irq_write_msi_msg = bus_write, .irq_bus_lock = bus_lock,
		.irq_bus_sync_unlock = bus_sync_unlock,
	};
	struct ims_irq_domain_info info = { .name = "bus", .ops = &fake_ops, .chip = &bus_chip,
					    .host_data = &L_top, .parent = W.mid };
	struct ims_cpumask *m = ims_cpumask_create(4);
	struct ims_irq_domain *d;
	struct ims_irq_info info2;
	int virq;

	(void)state;
	memset(&bus, 0, sizeof(bus));
	bus.shadow_masked = bus.device_masked = 1;
	assert_int_equal(ims_irq_domain_create(W.core, &info, &d), 0);
	virq = ims_irq_domain_alloc_irqs(d, -1, 1, NULL, NULL);
	/* The device refuses the unmask of startup: the request is undone. */
	bus.fail_sync = 1;
	hits = 0;
	assert_int_equal(ims_irq_request(W.core, (unsigned int)virq, count_handler, 0, "b", NULL), -EIO);
	assert_int_equal(bus.locked, 0);
	assert_int_equal(bus.device_masked, 1);
	assert_int_equal(ims_irq_get_info(W.core, (unsigned int)virq, &info2), 0);
	assert_int_equal(info2.nr_actions, 0);
	assert_false(info2.started);
	/* Accepted the second time. */
	assert_int_equal(ims_irq_request(W.core, (unsigned int)virq, count_handler, 0, "b", NULL), 0);
	assert_int_equal(bus.device_masked, 0);
	/* Disable is lazy; a signal while disabled masks the shadow only
	 * (the data path never syncs), and enable's sync can fail. */
	assert_int_equal(ims_irq_disable(W.core, (unsigned int)virq), 0);
	bus.locked = 1;		/* the data path runs without the bus lock: allow the mask */
	assert_int_equal(ims_irq_handle(W.core, (unsigned int)virq, 0), 0);
	bus.locked = 0;
	bus.device_masked = 1;	/* as if a later sync had pushed it */
	bus.fail_sync = 1;
	assert_int_equal(ims_irq_enable(W.core, (unsigned int)virq), -EIO);
	assert_int_equal(ims_irq_get_info(W.core, (unsigned int)virq, &info2), 0);
	assert_true(info2.disabled && info2.masked && info2.pending);
	assert_int_equal(info2.depth, 1);
	assert_int_equal(hits, 0);
	assert_int_equal(ims_irq_enable(W.core, (unsigned int)virq), 0);
	assert_int_equal(hits, 1);
	assert_int_equal(bus.device_masked, 0);
	/* Affinity: the device refuses, the old affinity stays. */
	ims_cpumask_set(m, 1);
	assert_int_equal(ims_irq_set_affinity(W.core, (unsigned int)virq, m), 0);
	ims_cpumask_zero(m);
	ims_cpumask_set(m, 3);
	bus.fail_sync = 1;
	assert_int_equal(ims_irq_set_affinity(W.core, (unsigned int)virq, m), -EIO);
	assert_int_equal(ims_irq_effective_cpu(W.core, (unsigned int)virq), 1);
	assert_int_equal(bus.locked, 0);
	assert_int_equal(ims_irq_free(W.core, (unsigned int)virq, NULL), 0);
	assert_int_equal(bus.device_masked, 1);
	assert_int_equal(ims_irq_domain_free_irqs(W.core, (unsigned int)virq, 1), 0);
	assert_int_equal(ims_irq_domain_remove(d), 0);
	ims_cpumask_destroy(m);
}

/* ---- fail-Nth over every allocating call ---- */

struct fn_ctx {
	int virq;
	struct ims_cpumask *mask;
	struct ims_irq_core *core;
	struct ims_irq_domain *dom;
	uint32_t irqs_before;
};

static int check_unchanged(void *p)
{
	struct fn_ctx *c = p;

	if (ims__irq_core_check(W.core))
		return -1;
	if (ims_irq_core_nr_irqs(W.core) != c->irqs_before)
		return -1;
	/* No level of the fake hierarchy holds anything between attempts. */
	return L_root.live + L_mid.live + L_top.live == 0 ? 0 : -1;
}

static int op_core_create(void *p)
{
	struct fn_ctx *c = p;
	struct ims_irq_core_config cfg = { .nr_cpus = 8 };

	return ims_irq_core_create(&cfg, &c->core);
}

static void undo_core_create(void *p)
{
	struct fn_ctx *c = p;

	assert_int_equal(ims_irq_core_destroy(c->core), 0);
}

static int op_alloc_descs(void *p)
{
	struct fn_ctx *c = p;

	c->virq = ims_irq_alloc_descs(W.core, -1, 2000);
	return c->virq;
}

static void undo_alloc_descs(void *p)
{
	struct fn_ctx *c = p;

	assert_int_equal(ims_irq_free_descs(W.core, (unsigned int)c->virq, 2000), 0);
}

static int op_domain_create(void *p)
{
	struct fn_ctx *c = p;
	struct ims_irq_domain_info info = { .name = "fn", .ops = &fake_ops, .parent = W.mid,
					    .host_data = &L_top };

	return ims_irq_domain_create(W.core, &info, &c->dom);
}

static void undo_domain_create(void *p)
{
	struct fn_ctx *c = p;

	assert_int_equal(ims_irq_domain_remove(c->dom), 0);
}

static int op_domain_alloc(void *p)
{
	struct fn_ctx *c = p;

	c->virq = ims_irq_domain_alloc_irqs(W.top, -1, 1500, NULL, c->mask);
	return c->virq;
}

static void undo_domain_alloc(void *p)
{
	struct fn_ctx *c = p;

	assert_int_equal(ims_irq_domain_free_irqs(W.core, (unsigned int)c->virq, 1500), 0);
}

static int op_request(void *p)
{
	struct fn_ctx *c = p;

	return ims_irq_request(W.core, (unsigned int)c->virq, count_handler, 0, "fn", NULL);
}

static void undo_request(void *p)
{
	struct fn_ctx *c = p;

	assert_int_equal(ims_irq_free(W.core, (unsigned int)c->virq, NULL), 0);
}

static int check_no_handler(void *p)
{
	struct fn_ctx *c = p;
	struct ims_irq_info info;

	ims_irq_get_info(W.core, (unsigned int)c->virq, &info);
	return info.nr_actions || info.started || ims__irq_core_check(W.core) ? -1 : 0;
}

static int op_set_affinity(void *p)
{
	struct fn_ctx *c = p;

	return ims_irq_set_affinity(W.core, (unsigned int)c->virq, c->mask);
}

static int check_affinity_unchanged(void *p)
{
	struct fn_ctx *c = p;

	return ims_irq_effective_cpu(W.core, (unsigned int)c->virq) == -ENODATA &&
			       !ims__irq_core_check(W.core) ? 0 : -1;
}

static void undo_set_affinity(void *p)
{
	struct fn_ctx *c = p;

	/* Re-create the descriptor so the next attempt starts without affinity. */
	assert_int_equal(ims_irq_domain_free_irqs(W.core, (unsigned int)c->virq, 1), 0);
	c->virq = ims_irq_domain_alloc_irqs(W.top, -1, 1, NULL, NULL);
}

static void fail_nth_over_every_allocating_call(void **state)
{
	struct fn_ctx c = { 0 };
	struct fail_nth_result r;
	const struct fail_nth_ops core_ops = { op_core_create, undo_core_create, NULL, NULL };
	const struct fail_nth_ops descs_ops = { op_alloc_descs, undo_alloc_descs, check_unchanged, NULL };
	const struct fail_nth_ops dom_ops = { op_domain_create, undo_domain_create, check_unchanged, NULL };
	const struct fail_nth_ops alloc_ops = { op_domain_alloc, undo_domain_alloc, check_unchanged, NULL };
	const struct fail_nth_ops req_ops = { op_request, undo_request, check_no_handler, NULL };
	const struct fail_nth_ops aff_ops = { op_set_affinity, undo_set_affinity, check_affinity_unchanged,
					      NULL };

	(void)state;
	c.mask = ims_cpumask_create(4);
	ims_cpumask_set(c.mask, 1);

	r = fail_nth_run(&core_ops, &c);
	assert_true(r.failures >= 4);
	r = fail_nth_run(&descs_ops, &c);
	assert_true(r.failures >= 3);
	r = fail_nth_run(&dom_ops, &c);
	assert_true(r.failures >= 2);
	r = fail_nth_run(&alloc_ops, &c);
	/* 1500 descriptors + per-CPU counts + chunks + the mask. */
	assert_true(r.failures >= 3000);

	c.virq = ims_irq_domain_alloc_irqs(W.top, -1, 1, NULL, NULL);
	r = fail_nth_run(&req_ops, &c);
	assert_true(r.failures >= 2);
	r = fail_nth_run(&aff_ops, &c);
	assert_true(r.failures >= 1);
	assert_int_equal(ims_irq_domain_free_irqs(W.core, (unsigned int)c.virq, 1), 0);
	ims_cpumask_destroy(c.mask);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(descs_alloc_free_ranges, setup, teardown),
		cmocka_unit_test_setup_teardown(descs_double_free_refused_without_change, setup, teardown),
		cmocka_unit_test_setup_teardown(descs_million_alloc_free_recount, setup, teardown),
		cmocka_unit_test_setup_teardown(hierarchy_alloc_sets_every_level, setup, teardown),
		cmocka_unit_test_setup_teardown(hierarchy_rollback_when_any_level_fails, setup, teardown),
		cmocka_unit_test_setup_teardown(hierarchy_refuses_bad_arguments_without_change, setup,
						teardown),
		cmocka_unit_test_setup_teardown(request_starts_and_free_shuts_down, setup, teardown),
		cmocka_unit_test_setup_teardown(shared_and_exclusive_handlers, setup, teardown),
		cmocka_unit_test_setup_teardown(edge_arriving_while_running_is_run_again, setup, teardown),
		cmocka_unit_test_setup_teardown(disable_nests_and_enable_replays_once, setup, teardown),
		cmocka_unit_test_setup_teardown(storm_is_disabled_and_reported, setup, teardown),
		cmocka_unit_test_setup_teardown(handler_cannot_wait_for_itself, setup, teardown),
		cmocka_unit_test_setup_teardown(spurious_and_bad_cpu, setup, teardown),
		cmocka_unit_test_setup_teardown(fasteoi_and_simple_flows, setup, teardown),
		cmocka_unit_test_setup_teardown(affinity_goes_down_the_hierarchy, setup, teardown),
		cmocka_unit_test_setup_teardown(slow_bus_changes_undone_when_device_refuses, setup, teardown),
		cmocka_unit_test_setup_teardown(fail_nth_over_every_allocating_call, setup, teardown),
	};

	ims_set_log(NULL, IMS_LOG_ERR, NULL);
	return cmocka_run_group_tests_name("irq_core", tests, NULL, NULL);
}
