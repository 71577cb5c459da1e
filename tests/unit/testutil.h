/* testutil.h - helpers shared by the unit tests. */
#ifndef CARBON_TESTUTIL_H
#define CARBON_TESTUTIL_H

/* Removes dir and everything under it. 0 on success, -1 if anything stayed. */
int test_rm_tree(const char *dir);

#endif
