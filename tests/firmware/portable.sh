#!/usr/bin/env bash
# portable.sh - the firmware core is portable C: it compiles as freestanding
# C11 with every warning an error, natively and for a 32-bit target (-m32,
# like the ESP32's 32-bit Xtensa), and includes nothing but its own headers,
# src/alarm/alarm.h and the allowed standard headers.
# Usage: portable.sh CC SOURCE_DIR. Exit 77 (CTest "skipped") when only the
# 32-bit part cannot run; the native part must still have passed.
set -euo pipefail
CC=${1:?compiler}
ROOT=${2:?source dir}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
SRCS=("$ROOT"/firmware/core/*.c "$ROOT"/src/alarm/alarm.c)
FLAGS=(-std=c11 -pedantic-errors -Wall -Wextra -Wshadow -Wformat=2 -Wno-unused-parameter -Werror
       -ffreestanding -I "$ROOT/firmware/core" -I "$ROOT/src")

# 1. Includes: only these standard headers (no OS, no ESP-IDF, no stdio/stdlib).
allowed='^#include (<(stdint|stdbool|stddef|string|math)\.h>|"[a-z0-9_]+\.h"|"alarm/alarm\.h")$'
bad=$(grep -h '^#include' "$ROOT"/firmware/core/*.[ch] "$ROOT"/src/alarm/alarm.[ch] | sort -u |
      grep -Ev "$allowed" || true)
if [ -n "$bad" ]; then
    echo "FAIL: the firmware core includes headers it may not:" >&2
    echo "$bad" >&2
    exit 1
fi
echo "ok: includes are portable"

# 2. Native, freestanding C11.
for s in "${SRCS[@]}"; do
    "$CC" "${FLAGS[@]}" -c "$s" -o "$TMP/$(basename "$s").o"
done
echo "ok: ${#SRCS[@]} files compile as freestanding C11 with -Werror ($CC)"

# 3. 32-bit.
if ! printf '#include <math.h>\n#include <string.h>\nint f(void) { return 0; }\n' | "$CC" -m32 -x c -c - -o "$TMP/probe.o" 2>"$TMP/probe.err"; then
    echo "SKIP: $CC cannot produce 32-bit code (install gcc-multilib): $(grep -m1 -i error "$TMP/probe.err" || head -1 "$TMP/probe.err")"
    exit 77
fi
for s in "${SRCS[@]}"; do
    "$CC" -m32 "${FLAGS[@]}" -c "$s" -o "$TMP/$(basename "$s").m32.o"
done
echo "ok: ${#SRCS[@]} files compile for 32-bit (-m32)"
