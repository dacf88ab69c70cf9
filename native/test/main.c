/* Runs every C-level test of the data plane: first those that need no EAL,
 * then, after a minimal EAL (no hugepages, no PCI), those that need rte_malloc. */
#include <stdio.h>
#include <unistd.h>

#include <rte_eal.h>

#include "check.h"

int fn_checks_passed, fn_checks_failed;

void test_nat_checksums(void);
void test_steer_rules(void);
void test_syncookies(void);
void test_persistence(void);
void test_scheduler(void);
void test_persistence_storage(void);
void test_sessions(void);
void test_lports(void);
void test_parse_segments(void);
void test_hash_keys(void);
void test_tcp_window(void);

/* Session tables, lport pools and the persistence table allocate with rte_malloc, which has no heap
 * before rte_eal_init. Ordinary pages, its own file prefix: it runs beside
 * other DPDK processes. */
static int eal_start(char *runtime_dir, size_t len)
{
	char prefix[64];
	snprintf(prefix, sizeof(prefix), "--file-prefix=fn_ctest_%d", (int)getpid());
	char *argv[] = {"fn_native_test", "--no-huge", "--no-pci", "-m", "64", "--no-shconf", prefix, "-l", "0",
			"--no-telemetry", "--log-level=4", NULL};
	if (rte_eal_init((int)(sizeof(argv) / sizeof(argv[0])) - 1, argv) < 0)
		return -1;
	snprintf(runtime_dir, len, "%s", rte_eal_get_runtime_dir());
	return 0;
}

int main(void)
{
	test_nat_checksums();
	test_steer_rules();
	test_syncookies();
	test_persistence();
	test_scheduler();
	test_hash_keys();
	test_tcp_window();

	char runtime_dir[256];
	if (eal_start(runtime_dir, sizeof(runtime_dir)) == 0) {
		test_persistence_storage();
		test_sessions();
		test_lports();
		test_parse_segments();
		rte_eal_cleanup();
		rmdir(runtime_dir); /* EAL leaves it behind; empty with --no-shconf */
	} else {
		fn_checks_failed++;
		fprintf(stderr, "rte_eal_init failed: session and lport tests not run\n");
	}
	printf("native: %d passed, %d failed\n", fn_checks_passed, fn_checks_failed);
	return fn_checks_failed ? 1 : 0;
}
