#!/usr/bin/env bash
# Quick start 2: install what is missing, build, and run every test: once on a
# normal build, once on an ASan+UBSan build.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
# Style by machine: the C sources must be clang-formatted (.clang-format).
clang-format --dry-run --Werror src/*.c src/*/*.c src/*.h src/*/*.h tests/unit/*.c tests/unit/*.h tests/fuzz/*.c \
    firmware/core/*.c firmware/core/*.h firmware/esp32/main/*.c
scripts/build.sh build -DCARBON_WERROR=ON
(cd build && ctest --output-on-failure -j2 --timeout 600)
scripts/build.sh build-asan -DCARBON_WERROR=ON -DCARBON_SANITIZE=ON
(cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
   UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest --output-on-failure -j2 --timeout 900)
