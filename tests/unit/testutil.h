/* testutil.h - helpers shared by the unit tests. */
#ifndef CARBON_TESTUTIL_H
#define CARBON_TESTUTIL_H

/* Removes dir and everything under it. 0 on success, -1 if anything stayed. */
int test_rm_tree(const char *dir);

#include <stdint.h>

/* xorshift64 (Marsaglia 2003): deterministic, seeded noise for tests (no
 * libc rand()). *s must not be 0. */
uint64_t test_xorshift64(uint64_t *s);
/* Uniform in [-1, 1], from test_xorshift64. */
double test_uniform_pm1(uint64_t *s);

#endif
