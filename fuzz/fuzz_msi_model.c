/*
 * Model-based fuzzer of the interrupt core and the device MSI layer: bytes
 * become a stream of operations (allocate at an index, at any index, as a
 * group; free; request and free handlers; fire; disable and enable; move)
 * on an MSI-X and an IMS domain of one device, and after every operation
 * the result and every handler's call count are compared with a
 * deliberately simple reference model. Each input starts from nothing and
 * must end with every byte given back.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers/fake_msi.h"
#include "os/irq/internal.h"
#include "os/msi/msi_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NDOM 2
#define MAXSZ 32

static const uint32_t dom_size[NDOM] = { 8, 32 };	/* MSI-X, IMS */

struct mslot {
	bool alloc, handler, pending;
	int group;
	unsigned int depth;
	uint64_t expected;
	int virq;
};

struct fstate {
	struct ims_irq_core *core;
	struct fake_parent parent;
	struct fake_ims ims, msix;
	struct ims_device *dev;
	struct mslot m[NDOM][MAXSZ];
	uint64_t calls[NDOM][MAXSZ];	/* what handlers actually saw */
};

static struct fstate S;

#define CHECK(cond, ...)                                                      \
	do {                                                                  \
		if (!(cond)) {                                                \
			fprintf(stderr, "model mismatch: " __VA_ARGS__);      \
			fprintf(stderr, " (last error: %s)\n", ims_last_error()); \
			abort();                                              \
		}                                                             \
	} while (0)

static ims_irqreturn_t handler(unsigned int irq, void *ctx)
{
	(void)irq;
	(*(uint64_t *)ctx)++;
	return IMS_IRQ_HANDLED;
}

struct input {
	const uint8_t *p;
	size_t n;
};

static unsigned int take(struct input *in)
{
	if (!in->n)
		return 0;
	in->n--;
	return *in->p++;
}

static int lowest_free(int d, uint32_t from)
{
	for (uint32_t i = from; i < dom_size[d]; i++)
		if (!S.m[d][i].alloc)
			return (int)i;
	return -1;
}

static void model_alloc(int d, int i, int group, int virq)
{
	S.m[d][i] = (struct mslot){ .alloc = true, .group = group, .virq = virq };
	S.calls[d][i] = 0;
}

static void op_alloc(int d, unsigned int idx)
{
	union ims_msi_cookie c = { .value = idx };
	struct ims_msi_map map;
	bool any = idx == 255;
	int want;

	if (any) {
		want = lowest_free(d, 0);
		map = ims_msi_alloc_irq_at(S.dev, (enum ims_msi_domain_id)d, IMS_MSI_ANY_INDEX, NULL, c);
		if (want < 0) {
			CHECK(map.index == -ENOSPC, "alloc any: expected -ENOSPC, got %d", map.index);
			return;
		}
	} else {
		map = ims_msi_alloc_irq_at(S.dev, (enum ims_msi_domain_id)d, idx, NULL, c);
		if (idx >= dom_size[d]) {
			CHECK(map.index == -EINVAL, "alloc %u beyond size: got %d", idx, map.index);
			return;
		}
		if (S.m[d][idx].alloc) {
			CHECK(map.index == -EEXIST, "alloc %u taken: got %d", idx, map.index);
			return;
		}
		want = (int)idx;
	}
	CHECK(map.index == want && map.virq >= 0, "alloc: expected index %d, got %d/%d", want, map.index,
	      map.virq);
	model_alloc(d, want, 0, map.virq);
}

static void op_group(unsigned int n)
{
	struct ims_msi_map maps[4];
	int free = 0, g;

	n = n % 4 + 1;
	for (uint32_t i = 0; i < dom_size[1]; i++)
		free += !S.m[1][i].alloc;
	g = ims_msi_alloc_group(S.dev, IMS_MSI_SECONDARY_DOMAIN, n, NULL, (union ims_msi_cookie){ 0 }, maps);
	if ((unsigned int)free < n) {
		CHECK(g == -ENOSPC, "group of %u with %d free: got %d", n, free, g);
		return;
	}
	CHECK(g == lowest_free(1, 0) + 1, "group id %d, expected %d", g, lowest_free(1, 0) + 1);
	for (unsigned int k = 0, from = 0; k < n; k++) {
		int want = lowest_free(1, from);

		CHECK(maps[k].index == want, "group member %u at %d, expected %d", k, maps[k].index, want);
		model_alloc(1, want, g, maps[k].virq);
		from = (uint32_t)want + 1;
	}
}

static void op_free(int d, unsigned int idx)
{
	struct mslot *s = idx < MAXSZ ? &S.m[d][idx] : NULL;
	int ret = ims_msi_free_irq(S.dev, (enum ims_msi_domain_id)d, idx);

	if (!s || !s->alloc || s->group)
		CHECK(ret == -EINVAL, "free %u: expected -EINVAL, got %d", idx, ret);
	else if (s->handler)
		CHECK(ret == -EBUSY, "free %u with handler: got %d", idx, ret);
	else {
		CHECK(ret == 0, "free %u: got %d", idx, ret);
		s->alloc = false;
	}
}

static void op_free_group(unsigned int idx)
{
	struct mslot *s = &S.m[1][idx % dom_size[1]];
	int g = s->alloc ? s->group : (int)(idx % dom_size[1]) + 1;
	bool exists = false, busy = false;
	int ret = ims_msi_free_group(S.dev, IMS_MSI_SECONDARY_DOMAIN, g);

	for (uint32_t i = 0; i < dom_size[1]; i++) {
		if (S.m[1][i].alloc && S.m[1][i].group == g) {
			exists = true;
			busy |= S.m[1][i].handler;
		}
	}
	if (!g || !exists)
		CHECK(ret == -EINVAL, "free group %d (none): got %d", g, ret);
	else if (busy)
		CHECK(ret == -EBUSY, "free group %d busy: got %d", g, ret);
	else {
		CHECK(ret == 0, "free group %d: got %d", g, ret);
		for (uint32_t i = 0; i < dom_size[1]; i++)
			if (S.m[1][i].alloc && S.m[1][i].group == g)
				S.m[1][i].alloc = false;
	}
}

static void op_request(int d, struct mslot *s, uint32_t i)
{
	int ret = ims_irq_request(S.core, (unsigned int)s->virq, handler, 0, "fz", &S.calls[d][i]);

	if (s->handler) {
		CHECK(ret == -EBUSY, "request twice: got %d", ret);
		return;
	}
	CHECK(ret == 0, "request: got %d", ret);
	s->handler = true;
	s->depth = 0;
	if (s->pending) {	/* an interrupt that came before any handler is replayed */
		s->expected++;
		s->pending = false;
	}
}

static void op_release(int d, struct mslot *s, uint32_t i)
{
	int ret = ims_irq_free(S.core, (unsigned int)s->virq, &S.calls[d][i]);

	if (!s->handler) {
		CHECK(ret == -ENOENT, "free handler none: got %d", ret);
		return;
	}
	CHECK(ret == 0, "free handler: got %d", ret);
	s->handler = false;
	s->pending = false;
}

static void op_fire(struct mslot *s)
{
	CHECK(ims_irq_handle(S.core, (unsigned int)s->virq, 1) == 0, "fire");
	if (s->handler && s->depth == 0)
		s->expected++;
	else
		s->pending = true;
}

static void op_disable(struct mslot *s)
{
	int ret = ims_irq_disable(S.core, (unsigned int)s->virq);

	if (!s->handler || s->depth >= 3) {
		if (!s->handler)
			CHECK(ret == -EINVAL, "disable without handler: got %d", ret);
		else
			CHECK(ret == 0, "disable: got %d", ret);
		if (s->handler)
			s->depth++;
		return;
	}
	CHECK(ret == 0, "disable: got %d", ret);
	s->depth++;
}

static void op_enable(struct mslot *s)
{
	int ret = ims_irq_enable(S.core, (unsigned int)s->virq);

	if (!s->handler || s->depth == 0) {
		CHECK(ret == -EINVAL, "enable at depth 0: got %d", ret);
		return;
	}
	CHECK(ret == 0, "enable: got %d", ret);
	if (--s->depth == 0 && s->pending) {
		s->expected++;
		s->pending = false;
	}
}

static void op_affinity(struct mslot *s, unsigned int bits)
{
	struct ims_cpumask *m = ims_cpumask_create(4);
	int ret;

	for (uint32_t c = 0; c < 4; c++)
		if (bits & (1u << c))
			ims_cpumask_set(m, c);
	ret = ims_irq_set_affinity(S.core, (unsigned int)s->virq, m);
	CHECK(ret == ((bits & 15) ? 0 : -EINVAL), "affinity 0x%x: got %d", bits & 15, ret);
	ims_cpumask_destroy(m);
}

static void compare(void)
{
	for (int d = 0; d < NDOM; d++)
		for (uint32_t i = 0; i < dom_size[d]; i++)
			if (S.m[d][i].alloc)
				CHECK(S.calls[d][i] == S.m[d][i].expected,
				      "domain %d index %u: handler ran %llu times, model says %llu", d, i,
				      (unsigned long long)S.calls[d][i],
				      (unsigned long long)S.m[d][i].expected);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ims_irq_core_config cfg = { .nr_cpus = 4, .max_irqs = 4096 };
	struct ims_device_info di = { .name = "fz", .rid = 0x100 };
	struct ims_msi_domain_template msix_t = fake_ims_template;
	struct input in = { data, size };
	struct ims_mem_stats m0, m1;

	ims_mem_stats(&m0);
	memset(&S, 0, sizeof(S));
	ims_set_log(NULL, IMS_LOG_ERR, NULL);
	if (ims_irq_core_create(&cfg, &S.core) || fake_parent_create(S.core, "IR", true, &S.parent))
		abort();
	di.core = S.core;
	di.msi_parent = S.parent.domain;
	msix_t.type = IMS_MSI_TYPE_MSIX;
	msix_t.name = "MSIX";
	if (ims_device_create(&di, &S.dev) ||
	    ims_msi_create_device_domain(S.dev, IMS_MSI_DEFAULT_DOMAIN, &msix_t, dom_size[0], &S.msix) ||
	    ims_msi_create_device_domain(S.dev, IMS_MSI_SECONDARY_DOMAIN, &fake_ims_template, dom_size[1],
					 &S.ims))
		abort();

	while (in.n) {
		unsigned int op = take(&in) % 12, d = take(&in) % NDOM, a = take(&in);
		uint32_t i = a % dom_size[d];
		struct mslot *s = &S.m[d][i];

		switch (op) {
		case 0: op_alloc((int)d, a % 40); break;
		case 1: op_alloc((int)d, 255); break;
		case 2: op_group(a); break;
		case 3: op_free((int)d, a % 40); break;
		case 4: op_free_group(a); break;
		case 5: if (s->alloc) op_request((int)d, s, i); break;
		case 6: if (s->alloc) op_release((int)d, s, i); break;
		case 7: case 8: if (s->alloc) op_fire(s); break;
		case 9: if (s->alloc) op_disable(s); break;
		case 10: if (s->alloc) op_enable(s); break;
		case 11: if (s->alloc) op_affinity(s, a); break;
		}
		compare();
		CHECK(ims__msi_device_check(S.dev) == 0, "device recount");
		CHECK(ims__irq_core_check(S.core) == 0, "core recount");
	}
	/* Tear down: handlers first, then everything. */
	for (int d = 0; d < NDOM; d++)
		for (uint32_t i = 0; i < dom_size[d]; i++)
			if (S.m[d][i].alloc && S.m[d][i].handler)
				CHECK(ims_irq_free(S.core, (unsigned int)S.m[d][i].virq, &S.calls[d][i]) == 0, "fh");
	CHECK(ims_device_destroy(S.dev) == 0, "device destroy");
	CHECK(atomic_load(&S.parent.live) == 0, "parent levels left");
	CHECK(ims_irq_domain_remove(S.parent.domain) == 0, "parent remove");
	CHECK(ims_irq_core_destroy(S.core) == 0, "core destroy");
	ims_mem_stats(&m1);
	CHECK(m1.bytes == m0.bytes && m1.objects == m0.objects, "leak of %lld bytes",
	      (long long)(m1.bytes - m0.bytes));
	return 0;
}
