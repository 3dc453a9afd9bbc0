/*
 * The generator of the .bin files in tests/data/pci, the configuration space dumps that
 * imsctl's golden tests read, and the check that keeps them honest. Each
 * dump is built with the hardware-side model (malformed ones are then
 * broken with raw pokes), probed by the PCI core with the expected result,
 * and compared with the committed file.
 *
 * To remake the files after changing a builder, run from the top of the
 * tree:  IMS_REGEN_DUMPS=1 build/debug/tests/unit/test_pci_dumps
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "helpers/msi_rec.h"
#include "hw/pci/msi.h"
#include "hw/pci/msix.h"
#include "hw/pci/siov_dvsec.h"

#define DATA_DIR "tests/data/pci"

static struct msi_rec rec;
static struct ims_hw_msi_sink sink;

/* Offsets the builders below produce, used by the malformed variants. */
enum {
	OFF_PM = 0x40, OFF_MSI = 0x48, OFF_EXP = 0x60, OFF_MSIX = 0x9c,
	OFF_PASID = 0x100, OFF_SIOV = 0x108,
};

/*
 * A SIOV device like an accelerator: two BARs, PM, MSI, PCIe, MSI-X with 9
 * entries in BAR 0, PASID and the SIOV DVSEC.
 */
static struct ims_hw_pci_cfg *build_accel(bool ims, bool extended)
{
	struct ims_hw_pci_cfg_params p = {
		.vendor_id = 0x8086, .device_id = 0x0b25, .revision = 1,
		.class_code = 0x088000, .subsys_vendor_id = 0x8086, .subsys_id = 0x0000,
		.rid = 0x6a01, .extended = extended,
	};
	struct ims_hw_msi_params mp = { 4, true, true };
	struct ims_hw_msix_params xp = { 9, 0, 0x2000, 0, 0x3000 };
	struct ims_hw_siov_dvsec_params sp = {
		.homogeneous = true, .supported_page_sizes = 0x553, .ims_supported = ims,
	};
	struct ims_hw_pci_cfg *cfg;
	struct ims_hw_msix *x;
	struct ims_hw_msi *m;
	uint16_t off;

	assert_int_equal(ims__hw_pci_cfg_create(&p, &cfg), 0);
	assert_int_equal(ims__hw_pci_bar_add(cfg, 0, 0x10000, IMS_HW_PCI_BAR_64BIT |
					     IMS_HW_PCI_BAR_PREFETCH), 0);
	assert_int_equal(ims__hw_pci_bar_add(cfg, 2, 0x20000, IMS_HW_PCI_BAR_64BIT |
					     IMS_HW_PCI_BAR_PREFETCH), 0);
	/* Addresses an OS would have assigned, for a realistic dump. */
	ims__hw_pci_cfg_write(cfg, IMS_PCI_BAR0, 4, 0xc8100000);
	ims__hw_pci_cfg_write(cfg, IMS_PCI_BAR0 + 4, 4, 0x38);
	ims__hw_pci_cfg_write(cfg, IMS_PCI_BAR0 + 8, 4, 0xc8120000);
	ims__hw_pci_cfg_write(cfg, IMS_PCI_BAR0 + 12, 4, 0x38);
	ims__hw_pci_cfg_write(cfg, IMS_PCI_COMMAND, 2,
			      IMS_PCI_COMMAND_MEMORY | IMS_PCI_COMMAND_MASTER);
	assert_int_equal(ims__hw_pci_add_cap(cfg, IMS_PCI_CAP_ID_PM, 8, &off), 0);
	assert_int_equal(off, OFF_PM);
	assert_int_equal(ims__hw_msi_create(cfg, &mp, &sink, &m), 0);
	assert_int_equal(ims__hw_msi_offset(m), OFF_MSI);
	assert_int_equal(ims__hw_pci_add_cap(cfg, IMS_PCI_CAP_ID_EXP, 0x3c, &off), 0);
	assert_int_equal(off, OFF_EXP);
	ims__hw_pci_cfg_poke(cfg, off + 2, 2, 0x0002);	/* PCIe cap version 2, endpoint */
	assert_int_equal(ims__hw_msix_create(cfg, &xp, &sink, &x), 0);
	assert_int_equal(ims__hw_msix_offset(x), OFF_MSIX);
	if (extended) {
		assert_int_equal(ims__hw_pci_add_ext_cap(cfg, IMS_PCI_EXT_CAP_ID_PASID, 1, 8, &off),
				 0);
		assert_int_equal(ims__hw_pci_add_siov_dvsec(cfg, &sp, &off), 0);
		assert_int_equal(off, OFF_SIOV);
	}
	/* MSI-X enabled with the function masked, as a driver leaves it mid-probe. */
	ims__hw_pci_cfg_write(cfg, OFF_MSIX + IMS_PCI_MSIX_FLAGS, 2,
			      IMS_PCI_MSIX_FLAGS_ENABLE | IMS_PCI_MSIX_FLAGS_MASKALL);
	/* The models go; the configuration space stays as it is. */
	ims__hw_msix_destroy(x);
	ims__hw_msi_destroy(m);
	return cfg;
}

/* A plain conventional function: PM and a 32-bit MSI, 256 bytes. */
static struct ims_hw_pci_cfg *build_msi_only(void)
{
	struct ims_hw_pci_cfg_params p = {
		.vendor_id = 0x1af4, .device_id = 0x1000, .class_code = 0x020000, .rid = 0x0008,
	};
	struct ims_hw_msi_params mp = { 1, false, false };
	struct ims_hw_pci_cfg *cfg;
	struct ims_hw_msi *m;
	uint16_t off;

	assert_int_equal(ims__hw_pci_cfg_create(&p, &cfg), 0);
	assert_int_equal(ims__hw_pci_bar_add(cfg, 0, 0x1000, 0), 0);
	ims__hw_pci_cfg_write(cfg, IMS_PCI_BAR0, 4, 0xfebf1000);
	assert_int_equal(ims__hw_pci_add_cap(cfg, IMS_PCI_CAP_ID_PM, 8, &off), 0);
	assert_int_equal(ims__hw_msi_create(cfg, &mp, &sink, &m), 0);
	ims__hw_msi_destroy(m);
	return cfg;
}

typedef void (*breaker_fn)(struct ims_hw_pci_cfg *cfg);

static void brk_ptr_header(struct ims_hw_pci_cfg *cfg)
{
	ims__hw_pci_cfg_poke(cfg, IMS_PCI_CAP_PTR, 1, 0x20);
}

static void brk_ptr_misaligned(struct ims_hw_pci_cfg *cfg)
{
	ims__hw_pci_cfg_poke(cfg, OFF_MSI + 1, 1, 0x61);
}

static void brk_loop(struct ims_hw_pci_cfg *cfg)
{
	ims__hw_pci_cfg_poke(cfg, OFF_MSIX + 1, 1, OFF_MSI);
}

static void brk_truncated(struct ims_hw_pci_cfg *cfg)
{
	/* MSI-X moved to 0xf8: its 12 bytes would cross 0x100. */
	ims__hw_pci_cfg_poke(cfg, OFF_EXP + 1, 1, 0xf8);
	ims__hw_pci_cfg_poke(cfg, 0xf8, 2, IMS_PCI_CAP_ID_MSIX);
}

static void brk_ext_loop(struct ims_hw_pci_cfg *cfg)
{
	ims__hw_pci_cfg_poke(cfg, OFF_SIOV, 4, IMS_PCI_EXT_CAP_ID_DVSEC | 1u << 16 |
			     (uint32_t)OFF_PASID << 20);
}

static void brk_ext_ptr_header(struct ims_hw_pci_cfg *cfg)
{
	ims__hw_pci_cfg_poke(cfg, OFF_PASID, 4, IMS_PCI_EXT_CAP_ID_PASID | 1u << 16 | 0x80u << 20);
}

static void brk_dvsec_short(struct ims_hw_pci_cfg *cfg)
{
	ims__hw_pci_cfg_poke(cfg, OFF_SIOV + IMS_PCI_DVSEC_HDR1, 4, 0x8086 | 0x10u << 20);
}

static void brk_msix_bir(struct ims_hw_pci_cfg *cfg)
{
	ims__hw_pci_cfg_poke(cfg, OFF_MSIX + IMS_PCI_MSIX_TABLE, 4, 0x2000 | 7);
}

static void brk_msix_overlap(struct ims_hw_pci_cfg *cfg)
{
	ims__hw_pci_cfg_poke(cfg, OFF_MSIX + IMS_PCI_MSIX_PBA, 4, 0x2040);
}

struct dump_case {
	const char *name;
	int kind;		/* 0 accel (4096), 1 accel without IMS, 2 msi-only (256) */
	breaker_fn brk;
	enum ims_pci_fault_kind fault;
	uint32_t fault_offset;
};

static const struct dump_case cases[] = {
	{ "good_siov_ims_4k", 0, NULL, IMS_PCI_FAULT_NONE, 0 },
	{ "good_siov_no_ims_4k", 1, NULL, IMS_PCI_FAULT_NONE, 0 },
	{ "good_msi_only_256", 2, NULL, IMS_PCI_FAULT_NONE, 0 },
	{ "bad_ptr_into_header", 0, brk_ptr_header, IMS_PCI_FAULT_PTR_IN_HEADER, IMS_PCI_CAP_PTR },
	{ "bad_ptr_misaligned", 0, brk_ptr_misaligned, IMS_PCI_FAULT_PTR_MISALIGNED, OFF_MSI + 1 },
	{ "bad_loop", 0, brk_loop, IMS_PCI_FAULT_LOOP, OFF_MSIX + 1 },
	{ "bad_truncated", 0, brk_truncated, IMS_PCI_FAULT_TRUNCATED, 0xf8 },
	{ "bad_ext_loop", 0, brk_ext_loop, IMS_PCI_FAULT_LOOP, OFF_SIOV },
	{ "bad_ext_ptr_into_header", 0, brk_ext_ptr_header, IMS_PCI_FAULT_PTR_IN_HEADER,
	  OFF_PASID },
	{ "bad_dvsec_short", 0, brk_dvsec_short, IMS_PCI_FAULT_TRUNCATED, OFF_SIOV },
	{ "bad_msix_bir", 0, brk_msix_bir, IMS_PCI_FAULT_BAD_BIR, OFF_MSIX + IMS_PCI_MSIX_TABLE },
	{ "bad_msix_pba_overlap", 0, brk_msix_overlap, IMS_PCI_FAULT_BAR_RANGE,
	  OFF_MSIX + IMS_PCI_MSIX_PBA },
};

static uint32_t make_dump(const struct dump_case *c, uint8_t *buf)
{
	struct ims_hw_pci_cfg *cfg;
	uint32_t size;

	msi_rec_init(&rec, &sink);
	cfg = c->kind == 2 ? build_msi_only() : build_accel(c->kind == 0, true);
	if (c->brk)
		c->brk(cfg);
	size = ims__hw_pci_cfg_size(cfg);
	ims__hw_pci_cfg_dump(cfg, buf, size);
	ims__hw_pci_cfg_destroy(cfg);
	return size;
}

static void dumps_probe_as_expected(void **state)
{
	static struct ims_pci_dev_info info;
	uint8_t buf[4096];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct ims_pci_cfg_access acc;
		uint32_t size = make_dump(&cases[i], buf);
		int err;

		assert_int_equal(ims_pci_cfg_access_buffer(&acc, buf, size), 0);
		err = ims_pci_dev_probe(&acc, &info);
		print_message("%-26s %d %s\n", cases[i].name, err, err ? ims_last_error() : "");
		if (cases[i].fault == IMS_PCI_FAULT_NONE) {
			assert_int_equal(err, 0);
			assert_int_equal(ims_pci_dev_supports_ims(&info), cases[i].kind == 0);
		} else {
			assert_int_equal(err, -EINVAL);
			assert_int_equal(info.fault.kind, cases[i].fault);
			assert_int_equal(info.fault.offset, cases[i].fault_offset);
		}
	}
}

static void dumps_match_the_committed_files(void **state)
{
	bool regen = getenv("IMS_REGEN_DUMPS") != NULL;
	uint8_t buf[4096], file[4097];
	struct stat st;

	(void)state;
	if (stat(DATA_DIR, &st) != 0) {
		print_message("no %s here (run from the top of the tree)\n", DATA_DIR);
		skip();
	}
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint32_t size = make_dump(&cases[i], buf);
		char path[256];
		FILE *f;
		size_t n;

		snprintf(path, sizeof(path), "%s/%s.bin", DATA_DIR, cases[i].name);
		if (regen) {
			f = fopen(path, "wb");
			assert_non_null(f);
			assert_int_equal(fwrite(buf, 1, size, f), size);
			fclose(f);
			continue;
		}
		f = fopen(path, "rb");
		if (!f)
			fail_msg("%s is missing: IMS_REGEN_DUMPS=1 remakes it", path);
		n = fread(file, 1, sizeof(file), f);
		fclose(f);
		assert_int_equal(n, size);
		if (memcmp(buf, file, size))
			fail_msg("%s differs from its builder: IMS_REGEN_DUMPS=1 remakes it", path);
	}
	/* Not a configuration space at all: a size no device has. */
	snprintf((char *)buf, sizeof(buf), "%s/bad_size_300.bin", DATA_DIR);
	if (regen) {
		FILE *f = fopen((char *)buf, "wb");

		assert_non_null(f);
		memset(file, 0xa5, 300);
		assert_int_equal(fwrite(file, 1, 300, f), 300);
		fclose(f);
	} else {
		assert_int_equal(stat((char *)buf, &st), 0);
		assert_int_equal(st.st_size, 300);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(dumps_probe_as_expected),
		cmocka_unit_test(dumps_match_the_committed_files),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
