/* testutil.c - helpers shared by the unit tests. */
#include "testutil.h"

#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int test_rm_tree(const char *dir)
{
    int rc = 0;
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char p[512];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        struct stat sb;
        if (lstat(p, &sb) == 0 && S_ISDIR(sb.st_mode))
            rc |= test_rm_tree(p);
        else if (unlink(p) != 0)
            rc = -1;
    }
    if (d)
        closedir(d);
    return rmdir(dir) == 0 ? rc : -1;
}

uint64_t test_xorshift64(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

double test_uniform_pm1(uint64_t *s)
{
    return (double)(test_xorshift64(s) >> 11) * (2.0 / 9007199254740992.0) - 1.0;
}
