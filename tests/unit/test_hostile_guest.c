/*
 * The hostile guest suite, on the whole x86 machine with posted
 * interrupts: guest A owns an ADI whose emulated MSI-X table is backed by
 * IMS slots; guest B and a host ADI share the device. Guest A writes every
 * kind of bad message into every entry of its table (compatibility format
 * to APIC IDs it does not have, broadcast, logical and redirected
 * destinations, extended destination bits, every delivery mode, level
 * trigger, vectors below 16, high addresses, addresses that are no
 * interrupt address, remappable format naming its own, guest B's, the
 * host's and unallocated remapping handles, reserved bits), accesses of
 * every size at every offset of its table, PBA and capability, and
 * descriptors through its portal naming every slot of the device and
 * foreign PASIDs. After each, nothing reached a host vector (other than
 * the device's own error report), a host handler, or guest B, and every
 * attempt was refused or recorded (refused access, unroutable message,
 * device error). A message with a vector that the host also uses is the
 * guest's own vector: it lands in the guest's own vCPU and nowhere else.
 * The number of hostile writes tried is printed.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "helpers/accel_machine.h"
#include "os/accel/accel_internal.h"
#include "os/irq/internal.h"
#include "os/msi/msi_internal.h"

#define NV 0xf2			/* posted-interrupt notification vector */
#define NPID 4
#define NVEC 4			/* guest A's table size */
#define PASID_A 0xa0
#define PASID_B 0xb0
#define PASID_HOST 0x33

static struct accel_machine M;
static uint8_t *pids;		/* guest A vCPU 0, 1; guest B vCPU 0, 1 */
static struct ims_accel_guest *ga, *gb;
static struct ims_accel_adi *host_adi;
static uint64_t hostile_writes, refused_or_recorded, contained;
static uint64_t remap_faults;		/* popped from the unit's fault log */

static void on_notify(void *ctx, uint32_t cpu, uint8_t vector)
{
	(void)ctx;
	(void)cpu;
	(void)vector;
}

static void *pid(unsigned int i)
{
	return pids + 64 * i;
}

static int setup(void **state)
{
	struct ims_hw_accel_params p = {
		.nr_wqs = 16, .wq_depth = 8, .nr_ims = 64, .nr_msix = 9, .dvsec_ims = true,
	};
	struct ims_accel_guest_vcpu va[2], vb[2];
	struct ims_accel_guest_info ia = { .pasid = PASID_A, .nvec = NVEC, .nr_vcpus = 2, .vcpus = va };
	struct ims_accel_guest_info ib = { .pasid = PASID_B, .nvec = 2, .nr_vcpus = 2, .vcpus = vb };
	struct ims_accel_adi_info ih = { .pasid = PASID_HOST, .nvec = 2 };

	(void)state;
	assert_int_equal(am_create(&M, 4, &p, 0), 0);
	assert_int_equal(ims_accel_probe(&M.ai, &M.acc), 0);
	assert_int_equal(ims_x86_vector_set_system_handler(M.vd, NV, on_notify, NULL), 0);
	pids = ims__dma_alloc_registered(M.dma, 64 * NPID, 64, "test_pids");
	assert_non_null(pids);
	for (unsigned int i = 0; i < NPID; i++)
		ims_pid_init(pid(i), NV, i % 4, false);
	for (unsigned int v = 0; v < 2; v++) {
		va[v] = (struct ims_accel_guest_vcpu){ v, ims__dma_addr(pid(v)) };
		vb[v] = (struct ims_accel_guest_vcpu){ v, ims__dma_addr(pid(2 + v)) };
	}
	assert_int_equal(ims_accel_guest_create(M.acc, &ia, &ga), 0);
	assert_int_equal(ims_accel_guest_create(M.acc, &ib, &gb), 0);
	assert_int_equal(ims_accel_adi_create(M.acc, &ih, &host_adi), 0);
	return 0;
}

static int teardown(void **state)
{
	struct ims_remap_stats st;
	struct ims_mem_stats m;

	(void)state;
	assert_int_equal(ims_accel_adi_destroy(host_adi), 0);
	assert_int_equal(ims_accel_guest_destroy(ga), 0);
	assert_int_equal(ims_accel_guest_destroy(gb), 0);
	ims_remap_get_stats(M.remap, &st);
	assert_int_equal(st.posted, 0);
	assert_int_equal(ims__msi_device_check(ims_accel_device(M.acc)), 0);
	assert_int_equal(ims_remap_check(M.remap), 0);
	assert_int_equal(ims__irq_core_check(M.core), 0);
	assert_int_equal(ims__dma_free_registered(M.dma, pids, 64 * NPID, 64), 0);
	assert_int_equal(am_destroy(&M), 0);
	ims_mem_stats(&m);
	assert_int_equal(m.bytes, 0);
	return 0;
}

/* ---- what the guest can do ---- */

/* A descriptor into guest A's own portal (the guest's only way to make
 * the device work), asking for the interrupt of handle with pasid. */
static void guest_submit(struct ims_accel_guest *g, uint32_t pasid_field, uint32_t handle)
{
	struct ims_accel_adi *adi = ims_accel_guest_adi(g);
	uint32_t portal, d[8] = { IMS_ACCEL_OP_NOOP | IMS_ACCEL_DESC_RCI, pasid_field, 0, 0, handle, 0, 0, 0 };

	assert_int_equal(M.ai.bar[0].read32(M.ai.bar[0].ctx, IMS_ACCEL_REG_PORTAL_OFFSET, &portal), 0);
	portal += ims_accel_adi_wq(adi) * IMS_ACCEL_PORTAL_STRIDE;
	for (unsigned int i = 0; i < 8; i++)
		assert_int_equal(M.ai.bar[0].write32(M.ai.bar[0].ctx, portal + 4 * i, d[i]), 0);
}

static void entry_mask(struct ims_accel_guest *g, unsigned int entry, bool masked)
{
	assert_int_equal(ims_accel_guest_msix_write(g, 16ull * entry + IMS_PCI_MSIX_ENTRY_CTRL, 4,
						    masked), 0);
}

/* ---- what must hold after every attempt ---- */

struct host_view {
	uint64_t dispatched, spurious, admin, host_adi;
	uint64_t refused, unroutable, dev_errors, remap_faults;
};

static uint64_t irq_count(int irq)
{
	struct ims_irq_info info;

	assert_int_equal(ims_irq_get_info(M.core, (unsigned int)irq, &info), 0);
	return info.count;
}

static void view(struct host_view *v)
{
	struct ims_x86_vector_stats vs;
	struct ims_accel_err_info e;
	struct ims_remap_fault f;

	ims_x86_vector_get_stats(M.vd, &vs);
	ims_accel_errors(M.acc, &e);
	v->dispatched = vs.dispatched;
	v->spurious = vs.spurious;
	v->admin = irq_count(ims_accel_admin_irq(M.acc));
	v->host_adi = ims_accel_adi_completions(host_adi) + ims_accel_adi_empty_irqs(host_adi) +
		      irq_count(ims_accel_adi_irq(host_adi, 0)) + irq_count(ims_accel_adi_irq(host_adi, 1));
	v->refused = ims_accel_guest_refused(ga);
	v->unroutable = ims_accel_guest_unroutable(ga);
	v->dev_errors = e.count;
	while (ims_remap_fault_pop(M.remap, &f) == 1)
		remap_faults++;
	v->remap_faults = remap_faults;
}

static bool pid_empty(unsigned int i)
{
	for (unsigned int v = 0; v < 256; v++)
		if (ims_pid_pir_test(pid(i), (uint8_t)v))
			return false;
	return true;
}

/*
 * After an attempt: no host vector was dispatched except the admin vector
 * reporting a device error, no host handler ran, guest B got nothing, no
 * vector went spurious. If `recorded`, the attempt shows in a counter.
 */
static void assert_contained(const struct host_view *b, bool recorded, const char *what)
{
	struct host_view a;

	am_run(&M);
	view(&a);
	if (a.dispatched - b->dispatched != a.admin - b->admin)
		fail_msg("%s: %llu host vectors dispatched besides the admin vector", what,
			 (unsigned long long)(a.dispatched - b->dispatched - (a.admin - b->admin)));
	if (a.spurious != b->spurious || a.host_adi != b->host_adi)
		fail_msg("%s: a spurious host vector or a host ADI handler", what);
	if (!pid_empty(2) || !pid_empty(3))
		fail_msg("%s: reached guest B", what);
	if (recorded) {
		if (a.refused + a.unroutable + a.dev_errors + a.remap_faults ==
		    b->refused + b->unroutable + b->dev_errors + b->remap_faults)
			fail_msg("%s: neither refused nor recorded", what);
		if (!pid_empty(0) || !pid_empty(1))
			fail_msg("%s: a bad message reached guest A's own vCPU", what);
		refused_or_recorded++;
	}
}

/* ---- messages ---- */

struct msg {
	uint32_t lo, hi, data;
	const char *what;
};

/* Write one message into entry e as a guest does: masked, then unmasked. */
static void try_message(unsigned int e, const struct msg *m, bool recorded)
{
	struct host_view b;
	uint64_t base = 16ull * e;
	int r1, r2, r3;

	memset(&b, 0, sizeof(b));
	view(&b);
	entry_mask(ga, e, true);
	/* From the all-zero message, so that a refused part leaves no valid one. */
	for (unsigned int w = 0; w < 3; w++)
		assert_int_equal(ims_accel_guest_msix_write(ga, base + 4 * w, 4, 0), 0);
	r1 = ims_accel_guest_msix_write(ga, base + IMS_PCI_MSIX_ENTRY_ADDR_LO, 4, m->lo);
	r2 = ims_accel_guest_msix_write(ga, base + IMS_PCI_MSIX_ENTRY_ADDR_HI, 4, m->hi);
	r3 = ims_accel_guest_msix_write(ga, base + IMS_PCI_MSIX_ENTRY_DATA, 4, m->data);
	assert_true(r1 == 0 || r1 == -EINVAL);
	assert_true(r2 == 0 || r2 == -EINVAL);
	assert_true(r3 == 0 || r3 == -EINVAL);
	hostile_writes += 3;
	entry_mask(ga, e, false);
	/* The device raises the entry's interrupt (twice: pending replay too). */
	guest_submit(ga, IMS_ACCEL_DESC_PASID_VALID | PASID_A, ims_accel_adi_handle(ims_accel_guest_adi(ga), e));
	guest_submit(ga, IMS_ACCEL_DESC_PASID_VALID | PASID_A, ims_accel_adi_handle(ims_accel_guest_adi(ga), e));
	assert_contained(&b, recorded, m->what);
	if (!recorded) {
		/* Contained, not refused: only guest A's own vCPUs may hold it. */
		uint64_t pir[4];

		unsigned int got = ims_pid_take(pid(0), pir) + ims_pid_take(pid(1), pir);

		if (!got)
			fail_msg("%s: a routable message of the guest's was lost", m->what);
		contained++;
	}
}

static uint32_t remap_handle_of(int irq)
{
	int idx = ims_remap_irq_index(M.remap, (unsigned int)irq);

	assert_true(idx >= 0);
	return (uint32_t)idx;
}

static unsigned int remappable(struct msg *out, unsigned int n, uint32_t handle, const char *what)
{
	struct ims_msi_msg mm;

	ims_remap_msg_compose((uint16_t)handle, false, 0, &mm);
	out[n++] = (struct msg){ mm.address_lo, mm.address_hi, mm.data, what };
	ims_remap_msg_compose((uint16_t)handle, true, 0, &mm);
	out[n++] = (struct msg){ mm.address_lo, mm.address_hi, mm.data | 1, what };
	return n;
}

static void bad_messages_in_every_entry(void **state)
{
	struct msg m[128];
	unsigned int n = 0;
	static const uint32_t ids[] = { 2, 3, 4, 5, 0x0f, 0x10, 0x7f, 0xfe };
	static const uint8_t host_vectors[] = { NV, 0xec, 0xef, 0xfe, 0xff, 0x20, 0x30 };
	uint32_t host_admin_handle, host_adi_handle, b_handle, own_handle;

	(void)state;
	assert_int_equal(ims_accel_guest_cfg_write(ga, IMS_PCI_MSIX_FLAGS, 2, IMS_PCI_MSIX_FLAGS_ENABLE), 0);
	assert_int_equal(ims_accel_guest_cfg_write(gb, IMS_PCI_MSIX_FLAGS, 2, IMS_PCI_MSIX_FLAGS_ENABLE), 0);

	/* Compatibility format. */
	for (unsigned int i = 0; i < sizeof(ids) / sizeof(ids[0]); i++)
		m[n++] = (struct msg){ 0xfee00000u | ids[i] << 12, 0, 0x51, "APIC ID of no vCPU of the guest" };
	m[n++] = (struct msg){ 0xfeeff000u, 0, 0x51, "broadcast destination" };
	m[n++] = (struct msg){ 0xfee00004u, 0, 0x51, "logical destination" };
	m[n++] = (struct msg){ 0xfeeff00cu, 0, 0x51, "logical broadcast, redirected" };
	m[n++] = (struct msg){ 0xfee00020u, 0, 0x51, "extended destination bits" };
	m[n++] = (struct msg){ 0xfee00fe0u, 0, 0x51, "extended destination bits, all" };
	for (uint32_t dm = 1; dm < 8; dm++)
		m[n++] = (struct msg){ 0xfee00000u, 0, dm << 8 | 0x51, "delivery mode other than fixed" };
	m[n++] = (struct msg){ 0xfee00000u, 0, 0x8051, "level trigger" };
	m[n++] = (struct msg){ 0xfee00000u, 0, 0xc051, "level trigger, asserted" };
	for (uint32_t v = 0; v < 16; v += 5)
		m[n++] = (struct msg){ 0xfee00000u, 0, v, "vector below 16" };
	m[n++] = (struct msg){ 0xfee00000u, 0, 0x0f, "vector 15" };
	m[n++] = (struct msg){ 0xfee00000u, 1, 0x51, "high address" };
	m[n++] = (struct msg){ 0xfee00000u, 0xffffffffu, 0x51, "high address, all ones" };
	m[n++] = (struct msg){ 0xfed00000u, 0, 0x51, "not an interrupt address" };
	m[n++] = (struct msg){ 0xfef00000u, 0, 0x51, "just past the interrupt window" };
	m[n++] = (struct msg){ 0, 0, 0, "all zero" };
	m[n++] = (struct msg){ 0xfee00000u, 0, 0xffff0051u, "reserved data bits" };
	m[n++] = (struct msg){ 0xfee00003u, 0, 0x51, "reserved address bits" };

	/* Remappable format: every handle the guest could name. */
	own_handle = remap_handle_of(ims_accel_adi_irq(ims_accel_guest_adi(ga), 0));
	b_handle = remap_handle_of(ims_accel_adi_irq(ims_accel_guest_adi(gb), 0));
	host_admin_handle = remap_handle_of(ims_accel_admin_irq(M.acc));
	host_adi_handle = remap_handle_of(ims_accel_adi_irq(host_adi, 0));
	n = remappable(m, n, own_handle, "remappable, its own handle");
	n = remappable(m, n, b_handle, "remappable, guest B's handle");
	n = remappable(m, n, host_admin_handle, "remappable, the host's admin handle");
	n = remappable(m, n, host_adi_handle, "remappable, a host ADI's handle");
	n = remappable(m, n, 0, "remappable, handle 0");
	n = remappable(m, n, 1000, "remappable, an unallocated handle");
	n = remappable(m, n, 0x7fff, "remappable, the top handle");
	assert_true(n <= sizeof(m) / sizeof(m[0]));

	for (unsigned int e = 0; e < NVEC; e++)
		for (unsigned int i = 0; i < n; i++)
			try_message(e, &m[i], true);

	/* Vector numbers the host also uses: the guest's own vectors, contained. */
	for (unsigned int e = 0; e < NVEC; e++)
		for (unsigned int i = 0; i < sizeof(host_vectors); i++) {
			struct msg hv = { 0xfee00000u | (e & 1) << 12, 0, host_vectors[i],
					  "a vector number the host uses" };

			try_message(e, &hv, false);
		}
	/* A redirection hint with a physical destination names that vCPU alone. */
	for (unsigned int e = 0; e < NVEC; e++) {
		struct msg rh = { 0xfee00008u, 0, 0x51, "redirection hint, physical destination" };

		try_message(e, &rh, false);
	}
	print_message("%u bad messages in each of %u entries; %llu with host vector numbers contained "
		      "in the guest's own vCPUs\n", n, NVEC, (unsigned long long)contained);
}

/* ---- accesses: every size at every offset ---- */

static bool table_access_ok(uint64_t off, uint32_t size)
{
	if (!((size == 4 && off % 4 == 0) || (size == 8 && off % 8 == 0)))
		return false;
	return off + size <= 16ull * NVEC ||
	       (off >= IMS_ACCEL_GUEST_PBA && off + size <= IMS_ACCEL_GUEST_PBA + 8);
}

static void bad_accesses_everywhere(void **state)
{
	static const uint32_t sizes[] = { 0, 1, 2, 3, 4, 5, 7, 8, 16, 64 };
	static const uint64_t far[] = { 0x1000, 0x10000, 1ull << 32, 1ull << 63, UINT64_MAX - 7,
					UINT64_MAX - 3, UINT64_MAX };
	uint64_t before[2 * NVEC], after[2 * NVEC];
	unsigned int tried = 0;

	(void)state;
	for (unsigned int i = 0; i < 2 * NVEC; i++)
		assert_int_equal(ims_accel_guest_msix_read(ga, 8 * i, 8, &before[i]), 0);
	for (uint64_t off = 0; off < IMS_ACCEL_GUEST_PBA + 0x40; off++)
		for (unsigned int s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
			struct host_view b;
			uint64_t r0 = ims_accel_guest_refused(ga);

			if (table_access_ok(off, sizes[s]))
				continue;
			view(&b);
			assert_int_equal(ims_accel_guest_msix_write(ga, off, sizes[s], ~0ull), -EINVAL);
			assert_int_equal(ims_accel_guest_refused(ga), r0 + 1);
			tried++;
			if (off % 64 == 0)
				assert_contained(&b, true, "table access");
		}
	for (unsigned int i = 0; i < sizeof(far) / sizeof(far[0]); i++)
		for (unsigned int s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
			assert_int_equal(ims_accel_guest_msix_write(ga, far[i], sizes[s], ~0ull), -EINVAL);
			tried++;
		}
	/* The capability: misaligned, odd sizes, past its 12 bytes. */
	for (uint32_t off = 0; off < 64; off++)
		for (unsigned int s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
			uint32_t size = sizes[s];
			uint64_t r0 = ims_accel_guest_refused(ga);

			if ((size == 1 || size == 2 || size == 4) && off % size == 0 &&
			    off + size <= IMS_ACCEL_GUEST_MSIX_CAP_SIZE)
				continue;
			assert_int_equal(ims_accel_guest_cfg_write(ga, off, size, ~0u), -EINVAL);
			assert_int_equal(ims_accel_guest_refused(ga), r0 + 1);
			tried++;
		}
	/* Message control: reserved bits 13:11, each alone. */
	for (uint32_t bit = 11; bit <= 13; bit++) {
		assert_int_equal(ims_accel_guest_cfg_write(ga, IMS_PCI_MSIX_FLAGS, 2,
							   IMS_PCI_MSIX_FLAGS_ENABLE | 1u << bit), -EINVAL);
		tried++;
	}
	/* Vector control: reserved bits 31:1 of every entry. */
	for (unsigned int e = 0; e < NVEC; e++)
		for (uint32_t bit = 1; bit < 32; bit++) {
			assert_int_equal(ims_accel_guest_msix_write(ga, 16ull * e + IMS_PCI_MSIX_ENTRY_CTRL, 4,
								    1u << bit), -EINVAL);
			tried++;
		}
	for (unsigned int i = 0; i < 2 * NVEC; i++) {
		assert_int_equal(ims_accel_guest_msix_read(ga, 8 * i, 8, &after[i]), 0);
		assert_int_equal(after[i], before[i]);
	}
	hostile_writes += tried;
	refused_or_recorded += tried;
	print_message("%u refused accesses (sizes, offsets, reserved bits), none changed the table\n", tried);
}

/* ---- the device: foreign slots and PASIDs through the guest's portal ---- */

static void foreign_handles_and_pasids_through_the_portal(void **state)
{
	struct ims_accel_adi *a = ims_accel_guest_adi(ga);
	uint32_t own[NVEC], pasids[] = { 0, PASID_B, PASID_HOST, 0xfffff, PASID_A + 1 };
	unsigned int tried = 0;

	(void)state;
	/* Guest B and the host listen, so a stolen interrupt would show. */
	assert_int_equal(ims_accel_guest_cfg_write(gb, IMS_PCI_MSIX_FLAGS, 2, IMS_PCI_MSIX_FLAGS_ENABLE), 0);
	for (unsigned int e = 0; e < 2; e++) {
		assert_int_equal(ims_accel_guest_msix_write(gb, 16ull * e + IMS_PCI_MSIX_ENTRY_ADDR_LO, 4,
							    0xfee00000u), 0);
		assert_int_equal(ims_accel_guest_msix_write(gb, 16ull * e + IMS_PCI_MSIX_ENTRY_DATA, 4, 0x61), 0);
		entry_mask(gb, e, false);
	}
	for (unsigned int v = 0; v < NVEC; v++)
		own[v] = ims_accel_adi_handle(a, v);
	/* Every handle of the device but its own, and some past the end. */
	for (uint32_t h = 0; h < 64 + 8; h++) {
		struct host_view b;
		bool mine = false;

		for (unsigned int v = 0; v < NVEC; v++)
			mine |= own[v] == h;
		if (mine)
			continue;
		view(&b);
		guest_submit(ga, IMS_ACCEL_DESC_PASID_VALID | PASID_A, h);
		tried++;
		assert_contained(&b, true, "another slot's handle");
	}
	/* Its own handles with a foreign PASID, or none. */
	for (unsigned int i = 0; i < sizeof(pasids) / sizeof(pasids[0]); i++)
		for (unsigned int v = 0; v < NVEC; v++) {
			struct host_view b;

			view(&b);
			guest_submit(ga, IMS_ACCEL_DESC_PASID_VALID | pasids[i], own[v]);
			tried++;
			assert_contained(&b, true, "a foreign PASID");
			view(&b);
			guest_submit(ga, pasids[i], own[v]);
			tried++;
			assert_contained(&b, true, "no PASID");
		}
	hostile_writes += tried * 8;	/* eight portal writes each */
	print_message("%u hostile descriptors (%u portal writes), each a device error\n", tried, tried * 8);
}

static int print_total(void **state)
{
	(void)state;
	print_message("hostile guest: %llu hostile writes tried, %llu attempts refused or recorded, "
		      "%llu contained, 0 reached a host vector or another guest\n",
		      (unsigned long long)hostile_writes, (unsigned long long)refused_or_recorded,
		      (unsigned long long)contained);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(bad_messages_in_every_entry, setup, teardown),
		cmocka_unit_test_setup_teardown(bad_accesses_everywhere, setup, teardown),
		cmocka_unit_test_setup_teardown(foreign_handles_and_pasids_through_the_portal, setup, teardown),
	};

	ims_set_log(NULL, IMS_LOG_ERR, NULL);
	return cmocka_run_group_tests_name("hostile_guest", tests, NULL, print_total);
}
