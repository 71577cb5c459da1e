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
skip=""
if ! printf '#include <math.h>\n#include <string.h>\nint f(void) { return 0; }\n' | "$CC" -m32 -x c -c - -o "$TMP/probe.o" 2>"$TMP/probe.err"; then
    skip="$CC cannot produce 32-bit code (install gcc-multilib): $(grep -m1 -i error "$TMP/probe.err" || head -1 "$TMP/probe.err")"
    echo "SKIP: $skip"
else
    for s in "${SRCS[@]}"; do
        "$CC" -m32 "${FLAGS[@]}" -c "$s" -o "$TMP/$(basename "$s").m32.o"
    done
    echo "ok: ${#SRCS[@]} files compile for 32-bit (-m32)"
fi

# 4. A real MCU toolchain: Debian's Xtensa cross compiler (the ESP8266's
# lx106 core, the same Xtensa ISA family as the ESP32's LX6) with picolibc's
# headers. ESP-IDF itself is not packaged for Debian, so this is as close to
# the ESP32 build as this machine gets. Then the objects may need nothing
# but the compiler's soft-float/int helpers, libm and memory/string
# functions: no heap, no stdio, no OS.
XCC=xtensa-lx106-elf-gcc
XINC=/usr/lib/xtensa-lx106-elf/include
if ! command -v "$XCC" >/dev/null || [ ! -f "$XINC/math.h" ]; then
    skip="${skip:+$skip; }$XCC or picolibc-xtensa-lx106-elf is not installed (scripts/deps.sh installs them)"
    echo "SKIP: $XCC not installed"
else
    for s in "${SRCS[@]}"; do
        "$XCC" "${FLAGS[@]}" -mlongcalls -Os -isystem "$XINC" -c "$s" -o "$TMP/$(basename "$s").x.o"
    done
    xtensa-lx106-elf-ld -r -o "$TMP/core.x.o" "$TMP"/*.c.x.o
    allowed_syms='^(__[a-z0-9]+[sdt]f[0-9]*|__(div|mod|mul|udiv|umod|ashl|ashr|lshr)[sd]i3|__fix(uns)?[sd]f[sd]i|__float(un)?[sd]i[sd]f|__(extend|trunc)[sd]f[sd]f2|exp|expf|log|logf|pow|powf|fabs|fabsf|floor|floorf|ceil|ceilf|sqrt|sqrtf|llround|lround|round|memchr|memcmp|memcpy|memmove|memset|strcmp|strlen|strncmp)$'
    bad=$(xtensa-lx106-elf-nm -u "$TMP/core.x.o" | awk '{print $2}' | grep -Ev "$allowed_syms" || true)
    if [ -n "$bad" ]; then
        echo "FAIL: the firmware core needs symbols an MCU without an OS may not have:" >&2
        echo "$bad" >&2
        exit 1
    fi
    echo "ok: ${#SRCS[@]} files compile for Xtensa ($XCC -Os: $(xtensa-lx106-elf-size -t "$TMP/core.x.o" | awk 'END {print $1}') bytes of code); undefined symbols only libm, string and compiler helpers"
    # The sizes the comments state (fw_ring.h, esp32/main/main.c and its
    # CMakeLists.txt): a reading is 80 bytes on Xtensa (doubles 8-byte
    # aligned), the ESP32 app's struct fw_device (512 readings) under 60 KiB.
    printf '#include "fw_device.h"\nchar reading_size[sizeof(struct fw_reading)];\nchar device_size[sizeof(struct fw_device)];\n' >"$TMP/size.c"
    "$XCC" "${FLAGS[@]}" -DFW_RING_CAP=512 -isystem "$XINC" -c "$TMP/size.c" -o "$TMP/size.o"
    rsize=$((16#$(xtensa-lx106-elf-nm -S "$TMP/size.o" | awk '$4 == "reading_size" {print $2}')))
    dsize=$((16#$(xtensa-lx106-elf-nm -S "$TMP/size.o" | awk '$4 == "device_size" {print $2}')))
    if [ "$rsize" != 80 ] || [ "$dsize" -ge 61440 ]; then
        echo "FAIL: on Xtensa struct fw_reading is $rsize bytes (the comments say 80) and struct fw_device with 512 readings $dsize (they say about 58 KiB)" >&2
        exit 1
    fi
    echo "ok: on Xtensa a reading is $rsize bytes, the ESP32 app's struct fw_device $dsize bytes"
fi
if [ -n "$skip" ]; then
    exit 77
fi
