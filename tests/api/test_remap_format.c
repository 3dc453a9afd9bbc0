/*
 * The format API of ims/remap.h through the public headers and the shared
 * library only: the worked IRTE example, decode of every field of both
 * formats, encode refusing out-of-range fields, remappable messages, and
 * the posted-descriptor helpers. What imsctl decode irte prints comes from
 * here.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <ims/remap.h>

static void worked_example_decodes_field_by_field(void **state)
{
	struct ims_irte t;

	(void)state;
	ims_irte_decode(0x0000030000410009ull, 0x0000000000040200ull, &t);
	assert_true(t.present);
	assert_false(t.fpd);
	assert_false(t.posted);
	assert_false(t.dest_logical);
	assert_true(t.redirection_hint);
	assert_false(t.level_trigger);
	assert_int_equal(t.delivery_mode, 0);
	assert_int_equal(t.vector, 0x41);
	assert_int_equal(t.dest, 0x300);
	assert_int_equal(t.sid, 0x0200);
	assert_int_equal(t.sq, 0);
	assert_int_equal(t.svt, 1);
	assert_int_equal(t.rsvd_lo, 0);
	assert_int_equal(t.rsvd_hi, 0);
	assert_string_equal(ims_irte_svt_name(t.svt), "sid");
	assert_string_equal(ims_irte_delivery_mode_name(t.delivery_mode), "fixed");
}

static void every_remapped_field_round_trips(void **state)
{
	struct ims_irte in = { .present = true, .fpd = true, .avail = 0xf, .vector = 0xfe,
			       .dest_logical = true, .redirection_hint = true, .level_trigger = true,
			       .delivery_mode = 7, .dest = 0xfedcba98, .sid = 0xffff, .sq = 3, .svt = 2 };
	struct ims_irte out;
	uint64_t lo, hi, lo2, hi2;

	(void)state;
	assert_int_equal(ims_irte_encode(&in, &lo, &hi), 0);
	assert_int_equal(lo, 0xfedcba9800fe0fffull);
	assert_int_equal(hi, 0xbffffull);
	ims_irte_decode(lo, hi, &out);
	assert_true(out.present && out.fpd && !out.posted && out.dest_logical && out.redirection_hint &&
		    out.level_trigger);
	assert_int_equal(out.avail, 0xf);
	assert_int_equal(out.vector, 0xfe);
	assert_int_equal(out.delivery_mode, 7);
	assert_int_equal(out.dest, 0xfedcba98);
	assert_int_equal(out.sid, 0xffff);
	assert_int_equal(out.sq, 3);
	assert_int_equal(out.svt, 2);
	assert_int_equal(ims_irte_encode(&out, &lo2, &hi2), 0);
	assert_int_equal(lo2, lo);
	assert_int_equal(hi2, hi);
}

static void encode_refuses_out_of_range_fields(void **state)
{
	struct ims_irte t = { .present = true };
	uint64_t lo = 1, hi = 2;

	(void)state;
	t.delivery_mode = 3;
	assert_int_equal(ims_irte_encode(&t, &lo, &hi), -EINVAL);
	assert_non_null(strstr(ims_last_error(), "delivery mode"));
	t.delivery_mode = 6;
	assert_int_equal(ims_irte_encode(&t, &lo, &hi), -EINVAL);
	t.delivery_mode = 0;
	t.svt = 4;
	assert_int_equal(ims_irte_encode(&t, &lo, &hi), -EINVAL);
	assert_non_null(strstr(ims_last_error(), "svt"));
	t.svt = 0;
	t.sq = 4;
	assert_int_equal(ims_irte_encode(&t, &lo, &hi), -EINVAL);
	t.sq = 0;
	t.avail = 16;
	assert_int_equal(ims_irte_encode(&t, &lo, &hi), -EINVAL);
	t.avail = 0;
	t.rsvd_hi = 1;
	assert_int_equal(ims_irte_encode(&t, &lo, &hi), -EINVAL);
	t.rsvd_hi = 0;
	t.posted = true;
	t.pda = 0x1008;
	assert_int_equal(ims_irte_encode(&t, &lo, &hi), -EINVAL);
	assert_non_null(strstr(ims_last_error(), "aligned"));
	/* Nothing was written by the refusals. */
	assert_int_equal(lo, 1);
	assert_int_equal(hi, 2);
}

static void remappable_messages(void **state)
{
	struct ims_msi_msg m;
	uint16_t h, s;
	bool shv;

	(void)state;
	ims_remap_msg_compose(0x1234, true, 0, &m);
	assert_int_equal(m.address_lo, 0xFEE24698u);
	assert_int_equal(m.data, 0);
	ims_remap_msg_compose(0x8001, false, 0, &m);
	assert_int_equal(m.address_lo, 0xFEE00034u);
	ims_remap_msg_compose(0xffff, true, 31, &m);
	assert_int_equal(ims_remap_msg_decode(&m, &h, &shv, &s), 0);
	assert_int_equal(h, 0xffff);
	assert_true(shv);
	assert_int_equal(s, 31);
	m.address_hi = 1;
	assert_int_equal(ims_remap_msg_decode(&m, &h, &shv, &s), -EINVAL);
}

static void posted_descriptor_helpers(void **state)
{
	_Alignas(64) uint64_t pid[8];
	uint64_t pir[4];

	(void)state;
	memset(pid, 0xff, sizeof(pid));
	ims_pid_init(pid, 0xf2, 3, false);
	assert_false(ims_pid_on(pid));
	assert_false(ims_pid_sn(pid));
	assert_false(ims_pid_pir_test(pid, 0));
	assert_int_equal(pid[4], 0x00000300ull << 32 | 0xf2ull << 16);
	ims_pid_init(pid, 0xf2, 0x12345, true);
	assert_int_equal(pid[4], 0x12345ull << 32 | 0xf2ull << 16);
	ims_pid_set_sn(pid, true);
	assert_true(ims_pid_sn(pid));
	ims_pid_set_sn(pid, false);
	assert_false(ims_pid_sn(pid));
	pid[2] = 1ull << 5;	/* vector 133, as the unit would set it */
	pid[4] |= 1;		/* ON */
	assert_true(ims_pid_pir_test(pid, 133));
	assert_int_equal(ims_pid_take(pid, pir), 1);
	assert_int_equal(pir[2], 1ull << 5);
	assert_false(ims_pid_on(pid));
	assert_false(ims_pid_pir_test(pid, 133));
}

static void fault_reasons_have_names(void **state)
{
	(void)state;
	assert_string_equal(ims_remap_fault_name(0x22), "not-present");
	assert_string_equal(ims_remap_fault_name(0x26), "source-id");
	assert_string_equal(ims_remap_fault_name(0x27), "pid-access");
	assert_string_equal(ims_remap_fault_name(0x1f), "unknown");
	assert_string_equal(ims_remap_fault_name(0x28), "unknown");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(worked_example_decodes_field_by_field),
		cmocka_unit_test(every_remapped_field_round_trips),
		cmocka_unit_test(encode_refuses_out_of_range_fields),
		cmocka_unit_test(remappable_messages),
		cmocka_unit_test(posted_descriptor_helpers),
		cmocka_unit_test(fault_reasons_have_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
