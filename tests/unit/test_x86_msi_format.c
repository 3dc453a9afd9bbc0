/*
 * Compose and decode of x86 MSI messages: the worked examples of
 * HARDWARE.md in both directions, round trips over every field, and the
 * refusals that name the bad field.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include <ims/x86.h>

static void decode_ok(uint32_t addr, uint32_t data, struct ims_x86_msi_fields *f)
{
	struct ims_msi_msg m = { .address_lo = addr, .address_hi = 0, .data = data };

	assert_int_equal(ims_x86_msi_decode(&m, f), 0);
}

static void compat_physical_example_both_ways(void **state)
{
	struct ims_x86_msi_fields f = { .format = IMS_X86_MSI_COMPAT, .apic_id = 3, .vector = 0x41 };
	struct ims_msi_msg m;

	(void)state;
	assert_int_equal(ims_x86_msi_compose(&f, &m), 0);
	assert_int_equal(m.address_lo, 0xfee03000u);
	assert_int_equal(m.address_hi, 0);
	assert_int_equal(m.data, 0x41);
	decode_ok(0xfee03000u, 0x41, &f);
	assert_int_equal(f.format, IMS_X86_MSI_COMPAT);
	assert_int_equal(f.dest_id, 3);
	assert_int_equal(f.apic_id, 3);
	assert_false(f.dest_logical);
	assert_false(f.redirection_hint);
	assert_int_equal(f.vector, 0x41);
	assert_int_equal(f.delivery_mode, IMS_X86_DM_FIXED);
	assert_false(f.trigger_level);
}

static void compat_logical_example_both_ways(void **state)
{
	struct ims_x86_msi_fields f = {
		.format = IMS_X86_MSI_COMPAT, .apic_id = 0x20, .dest_logical = true, .vector = 0x21,
	};
	struct ims_msi_msg m;

	(void)state;
	assert_int_equal(ims_x86_msi_compose(&f, &m), 0);
	assert_int_equal(m.address_lo, 0xfee20004u);
	assert_int_equal(m.data, 0x21);
	decode_ok(0xfee20004u, 0x21, &f);
	assert_true(f.dest_logical);
	assert_int_equal(f.dest_id, 0x20);
	assert_int_equal(f.vector, 0x21);
}

static void remap_shv_example_both_ways(void **state)
{
	struct ims_x86_msi_fields f = {
		.format = IMS_X86_MSI_REMAPPABLE, .handle = 0x1234, .shv = true, .subhandle = 0,
	};
	struct ims_msi_msg m;

	(void)state;
	assert_int_equal(ims_x86_msi_compose(&f, &m), 0);
	assert_int_equal(m.address_lo, 0xfee24698u);
	assert_int_equal(m.data, 0);
	decode_ok(0xfee24698u, 0, &f);
	assert_int_equal(f.format, IMS_X86_MSI_REMAPPABLE);
	assert_int_equal(f.handle, 0x1234);
	assert_true(f.shv);
	assert_int_equal(f.subhandle, 0);
	assert_int_equal(f.index, 0x1234);
}

/*
 * HARDWARE.md gives 0xFEE0003C for entry 0x8001 with SHV clear, but 0x3C has
 * bit 3 (SHV) set; by the field table of the same page, SHV clear gives
 * 0xFEE00034 and 0xFEE0003C is the same handle with SHV set.
 */
static void remap_handle_bit15_example(void **state)
{
	struct ims_x86_msi_fields f = { .format = IMS_X86_MSI_REMAPPABLE, .handle = 0x8001 };
	struct ims_msi_msg m;

	(void)state;
	assert_int_equal(ims_x86_msi_compose(&f, &m), 0);
	assert_int_equal(m.address_lo, 0xfee00034u);
	decode_ok(0xfee00034u, 0, &f);
	assert_int_equal(f.handle, 0x8001);
	assert_false(f.shv);
	assert_int_equal(f.index, 0x8001);
	decode_ok(0xfee0003cu, 0, &f);
	assert_int_equal(f.handle, 0x8001);
	assert_true(f.shv);
}

static void remap_subhandle_adds_to_index(void **state)
{
	struct ims_x86_msi_fields f;

	(void)state;
	decode_ok(0xfee24698u, 5, &f);
	assert_int_equal(f.index, 0x1234 + 5);
	/* Without SHV the data does not take part in the index. */
	decode_ok(0xfee24690u, 0, &f);
	assert_int_equal(f.index, 0x1234);
}

static void compat_extended_destination(void **state)
{
	struct ims_x86_msi_fields f = { .format = IMS_X86_MSI_COMPAT, .apic_id = 0x1234, .vector = 0x80 };
	struct ims_msi_msg m;

	(void)state;
	assert_int_equal(ims_x86_msi_compose(&f, &m), 0);
	assert_int_equal(m.address_lo, 0xfee00000u | 0x34u << 12 | 0x12u << 5);
	decode_ok(m.address_lo, m.data, &f);
	assert_int_equal(f.dest_id, 0x34);
	assert_int_equal(f.ext_dest_id, 0x12);
	assert_int_equal(f.apic_id, 0x1234);
	f.apic_id = 0x8000;
	assert_int_equal(ims_x86_msi_compose(&f, &m), -EINVAL);
	assert_non_null(strstr(ims_last_error(), "apic_id"));
}

static void compat_round_trip_every_field(void **state)
{
	(void)state;
	for (unsigned int dm = 0; dm < 8; dm++) {
		for (unsigned int bits = 0; bits < 16; bits++) {
			struct ims_x86_msi_fields f = {
				.format = IMS_X86_MSI_COMPAT,
				.apic_id = (bits * 0x777u) & 0x7fffu,
				.dest_logical = bits & 1, .redirection_hint = bits & 2,
				.trigger_level = bits & 4, .level_assert = bits & 8,
				.vector = (uint8_t)(bits * 17 + dm), .delivery_mode = (uint8_t)dm,
			};
			struct ims_x86_msi_fields g;
			struct ims_msi_msg m;

			if (dm == 3 || dm == 6) {
				assert_int_equal(ims_x86_msi_compose(&f, &m), -EINVAL);
				continue;
			}
			assert_int_equal(ims_x86_msi_compose(&f, &m), 0);
			assert_int_equal(ims_x86_msi_decode(&m, &g), 0);
			assert_int_equal(g.apic_id, f.apic_id);
			assert_int_equal(g.dest_logical, f.dest_logical);
			assert_int_equal(g.redirection_hint, f.redirection_hint);
			assert_int_equal(g.trigger_level, f.trigger_level);
			assert_int_equal(g.level_assert, f.level_assert);
			assert_int_equal(g.vector, f.vector);
			assert_int_equal(g.delivery_mode, f.delivery_mode);
		}
	}
}

static void remap_round_trip_every_handle_bit(void **state)
{
	(void)state;
	for (unsigned int bit = 0; bit < 16; bit++) {
		struct ims_x86_msi_fields f = {
			.format = IMS_X86_MSI_REMAPPABLE, .handle = (uint16_t)(1u << bit),
			.shv = bit & 1, .subhandle = (bit & 1) ? (uint16_t)(bit * 3) : 0,
		};
		struct ims_x86_msi_fields g;
		struct ims_msi_msg m;

		assert_int_equal(ims_x86_msi_compose(&f, &m), 0);
		assert_int_equal(ims_x86_msi_decode(&m, &g), 0);
		assert_int_equal(g.handle, f.handle);
		assert_int_equal(g.shv, f.shv);
		assert_int_equal(g.subhandle, f.subhandle);
	}
}

static void decode_refuses_and_names_the_field(void **state)
{
	static const struct {
		uint32_t lo, hi, data;
		const char *needle;
	} bad[] = {
		{ 0xfee03000u, 1, 0x41, "address high" },
		{ 0xfed03000u, 0, 0x41, "31:20" },
		{ 0xfee03000u, 0, 0x341, "delivery mode 3" },
		{ 0xfee03000u, 0, 0x641, "delivery mode 6" },
		{ 0xfee03000u, 0, 0x0841, "13:11" },
		{ 0xfee03000u, 0, 0x10041, "31:16" },
		{ 0xfee24698u, 0, 0x10000, "31:16" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct ims_msi_msg m = { .address_lo = bad[i].lo, .address_hi = bad[i].hi, .data = bad[i].data };
		struct ims_x86_msi_fields f;

		memset(&f, 0xa5, sizeof(f));
		assert_int_equal(ims_x86_msi_decode(&m, &f), -EINVAL);
		assert_non_null(strstr(ims_last_error(), bad[i].needle));
		/* out is untouched on failure */
		assert_int_equal(f.vector, 0xa5);
	}
}

static void compose_refuses_bad_fields(void **state)
{
	struct ims_x86_msi_fields f = { .format = IMS_X86_MSI_REMAPPABLE, .handle = 1, .subhandle = 2 };
	struct ims_msi_msg m = { 0 };

	(void)state;
	assert_int_equal(ims_x86_msi_compose(&f, &m), -EINVAL);
	assert_non_null(strstr(ims_last_error(), "subhandle"));
	f.format = (enum ims_x86_msi_format)7;
	assert_int_equal(ims_x86_msi_compose(&f, &m), -EINVAL);
	assert_non_null(strstr(ims_last_error(), "format"));
	assert_string_equal(ims_x86_delivery_mode_name(1), "lowest-priority");
	assert_string_equal(ims_x86_delivery_mode_name(6), "reserved");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(compat_physical_example_both_ways),
		cmocka_unit_test(compat_logical_example_both_ways),
		cmocka_unit_test(remap_shv_example_both_ways),
		cmocka_unit_test(remap_handle_bit15_example),
		cmocka_unit_test(remap_subhandle_adds_to_index),
		cmocka_unit_test(compat_extended_destination),
		cmocka_unit_test(compat_round_trip_every_field),
		cmocka_unit_test(remap_round_trip_every_handle_bit),
		cmocka_unit_test(decode_refuses_and_names_the_field),
		cmocka_unit_test(compose_refuses_bad_fields),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
