/* A minimal C test harness: CHECK records failures; main prints the plain
 * "N passed, N failed" line that CI reads. */
#ifndef FN_CHECK_H
#define FN_CHECK_H

#include <stdio.h>

extern int fn_checks_passed, fn_checks_failed;

#define CHECK(cond, ...)                                                   \
	do {                                                               \
		if (cond) {                                                \
			fn_checks_passed++;                                \
		} else {                                                   \
			fn_checks_failed++;                                \
			fprintf(stderr, "%s:%d: CHECK(%s) failed: ", __FILE__, __LINE__, #cond); \
			fprintf(stderr, __VA_ARGS__);                      \
			fputc('\n', stderr);                               \
		}                                                          \
	} while (0)

#endif
