/*
 * `imsctl pci` as a user runs it: the built imsctl next to this test's
 * build directory reads the dumps of tests/data/pci. Checks the exit codes
 * (0 good, 2 malformed or bad usage, 1 unreadable), that text and JSON
 * carry the MSI-X layout and the IMS flag, that a malformed dump's message
 * names the offset and the fault, and runs the golden cases of
 * tests/cli/pci. Skips when run from elsewhere than the top of the tree.
 */
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

static char imsctl[PATH_MAX];
static char out[65536], err[4096];

/* Run imsctl with args, capture stdout and stderr, return its exit code. */
static int run(const char *const *args)
{
	char *argv[8];
	int po[2], pe[2], status;
	size_t n = 0;
	ssize_t r;
	pid_t pid;

	argv[n++] = imsctl;
	for (size_t i = 0; args[i] && n < 7; i++)
		argv[n++] = (char *)(uintptr_t)args[i];
	argv[n] = NULL;
	assert_int_equal(pipe(po), 0);
	assert_int_equal(pipe(pe), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(po[1], 1);
		dup2(pe[1], 2);
		close(po[0]);
		close(pe[0]);
		execv(imsctl, argv);
		_exit(127);
	}
	close(po[1]);
	close(pe[1]);
	/* Outputs are small; read stdout fully, then stderr. */
	n = 0;
	while ((r = read(po[0], out + n, sizeof(out) - 1 - n)) > 0)
		n += (size_t)r;
	out[n] = '\0';
	n = 0;
	while ((r = read(pe[0], err + n, sizeof(err) - 1 - n)) > 0)
		n += (size_t)r;
	err[n] = '\0';
	close(po[0]);
	close(pe[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	return WEXITSTATUS(status);
}

static int setup(void **state)
{
	char exe[PATH_MAX];
	struct stat st;
	ssize_t n;

	(void)state;
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		return 0;
	exe[n] = '\0';
	/* BUILD_DIR/tests/unit/test_imsctl_pci -> BUILD_DIR/imsctl */
	snprintf(imsctl, sizeof(imsctl), "%s/imsctl", dirname(dirname(dirname(exe))));
	if (stat(imsctl, &st) != 0 || stat("tests/data/pci", &st) != 0)
		imsctl[0] = '\0';
	return 0;
}

#define NEED_IMSCTL()                                                          \
	do {                                                                   \
		if (!imsctl[0]) {                                              \
			print_message("imsctl or tests/data/pci not found\n"); \
			skip();                                                \
		}                                                              \
	} while (0)

static void pci_text_shows_msix_and_ims(void **state)
{
	(void)state;
	NEED_IMSCTL();
	assert_int_equal(run((const char *[]){ "pci", "tests/data/pci/good_siov_ims_4k.bin",
					       NULL }), 0);
	assert_non_null(strstr(out, "0x11    0x09c   MSI-X"));
	assert_non_null(strstr(out, "table size 9, table BAR 0 offset 0x2000, PBA BAR 0 offset 0x3000"));
	assert_non_null(strstr(out, "ims supported: yes"));
	assert_non_null(strstr(out, "ims: supported"));
	assert_string_equal(err, "");
	assert_int_equal(run((const char *[]){ "pci", "tests/data/pci/good_siov_no_ims_4k.bin",
					       NULL }), 0);
	assert_non_null(strstr(out, "ims supported: no"));
	assert_non_null(strstr(out, "ims: not supported"));
}

static void pci_json_carries_the_same_facts(void **state)
{
	(void)state;
	NEED_IMSCTL();
	assert_int_equal(run((const char *[]){ "pci", "--json",
					       "tests/data/pci/good_siov_ims_4k.bin", NULL }), 0);
	assert_non_null(strstr(out, "\"table_size\": 9"));
	assert_non_null(strstr(out, "\"table_offset\": 8192"));
	assert_non_null(strstr(out, "\"pba_offset\": 12288"));
	assert_non_null(strstr(out, "\"ims_supported\": true"));
	assert_int_equal(run((const char *[]){ "pci", "tests/data/pci/good_msi_only_256.bin",
					       "--json", NULL }), 0);
	assert_non_null(strstr(out, "\"msix\": null"));
	assert_non_null(strstr(out, "\"siov\": null"));
	assert_non_null(strstr(out, "\"ims_supported\": false"));
}

static void pci_malformed_dump_exits_2_naming_offset_and_fault(void **state)
{
	(void)state;
	NEED_IMSCTL();
	assert_int_equal(run((const char *[]){ "pci", "tests/data/pci/bad_loop.bin", NULL }), 2);
	assert_string_equal(out, "");
	assert_non_null(strstr(err, "offset 0x9d"));
	assert_non_null(strstr(err, "loop"));
	assert_int_equal(run((const char *[]){ "pci", "tests/data/pci/bad_ptr_into_header.bin",
					       "--json", NULL }), 2);
	assert_string_equal(out, "");
	assert_non_null(strstr(err, "offset 0x34"));
	assert_non_null(strstr(err, "into the header"));
	assert_int_equal(run((const char *[]){ "pci", "tests/data/pci/bad_size_300.bin", NULL }),
			 2);
	assert_non_null(strstr(err, "300 bytes"));
	assert_int_equal(run((const char *[]){ "pci", "tests/data/pci/none.bin", NULL }), 1);
	assert_int_equal(run((const char *[]){ "pci", NULL }), 2);
	assert_int_equal(run((const char *[]){ "pci", "-x", "tests/data/pci/bad_loop.bin", NULL }),
			 2);
}

static void pci_golden_cases(void **state)
{
	char cmd[PATH_MAX + 64];

	(void)state;
	NEED_IMSCTL();
	snprintf(cmd, sizeof(cmd), "IMSCTL='%s' tests/cli/pci/run-cases", imsctl);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(pci_text_shows_msix_and_ims),
		cmocka_unit_test(pci_json_carries_the_same_facts),
		cmocka_unit_test(pci_malformed_dump_exits_2_naming_offset_and_fault),
		cmocka_unit_test(pci_golden_cases),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
