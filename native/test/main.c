/* Runs every C-level test of the data plane (no EAL needed). */
#include <stdio.h>

#include "check.h"

int fn_checks_passed, fn_checks_failed;

void test_nat_checksums(void);
void test_steer_rules(void);
void test_syncookies(void);
void test_persistence(void);
void test_scheduler(void);

int main(void)
{
	test_nat_checksums();
	test_steer_rules();
	test_syncookies();
	test_persistence();
	test_scheduler();
	printf("native: %d passed, %d failed\n", fn_checks_passed, fn_checks_failed);
	return fn_checks_failed ? 1 : 0;
}
