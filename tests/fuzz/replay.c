/* replay.c - runs a fuzz target without libFuzzer: every file of the corpus
 * directories given, then a fixed number of deterministic mutations of them.
 * Keeps the harnesses building and exercised in every CI run (and under
 * ASan+UBSan); real fuzzing uses the clang -fsanitize=fuzzer build. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint64_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

int main(int argc, char **argv)
{
    static uint8_t *inputs[4096];
    static size_t sizes[4096];
    size_t n = 0;
    for (int a = 1; a < argc; a++) {
        DIR *d = opendir(argv[a]);
        if (!d) {
            fprintf(stderr, "cannot open corpus %s\n", argv[a]);
            return 1;
        }
        struct dirent *e;
        while ((e = readdir(d)) && n < 4096) {
            if (e->d_name[0] == '.')
                continue;
            char path[4096];
            snprintf(path, sizeof path, "%s/%s", argv[a], e->d_name);
            FILE *f = fopen(path, "rb");
            if (!f)
                continue;
            uint8_t *buf = malloc(1 << 16);
            size_t len = fread(buf, 1, 1 << 16, f);
            fclose(f);
            inputs[n] = buf;
            sizes[n++] = len;
        }
        closedir(d);
    }
    if (!n) {
        fprintf(stderr, "empty corpus\n");
        return 1;
    }
    for (size_t i = 0; i < n; i++)
        LLVMFuzzerTestOneInput(inputs[i], sizes[i]);
    uint8_t buf[1 << 16];
    for (int iter = 0; iter < 20000; iter++) {
        size_t i = next() % n, len = sizes[i];
        memcpy(buf, inputs[i], len);
        int edits = 1 + (int)(next() % 4);
        for (int k = 0; k < edits && len; k++) {
            size_t pos = next() % len;
            switch (next() % 4) {
            case 0:
                buf[pos] = (uint8_t)next();
                break;
            case 1:
                buf[pos] ^= (uint8_t)(1u << (next() % 8));
                break;
            case 2:
                len = pos;
                break;
            default:
                buf[pos] = "0123456789:-.TZ+\"{}[],eE"[next() % 25];
                break;
            }
        }
        LLVMFuzzerTestOneInput(buf, len);
    }
    printf("replayed %zu corpus files and 20000 mutations\n", n);
    for (size_t i = 0; i < n; i++)
        free(inputs[i]);
    return 0;
}
