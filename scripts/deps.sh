#!/usr/bin/env bash
# Installs every Debian package the build, the tests and the benchmarks use.
# Idempotent: does nothing when all are present. Needs root (or sudo).
set -euo pipefail
PKGS=(build-essential cmake pkg-config libmicrohttpd-dev libjansson-dev libsqlite3-dev
      libssl-dev libcurl4-openssl-dev libargon2-dev libcmocka-dev python3 sqlite3 curl clang-format
      librsvg2-bin fonts-dejavu-core  # rsvg-convert renders the graphs in the tests
      gcc-multilib  # the firmware core is also compiled for 32-bit (tests/firmware/portable.sh)
      gcc-xtensa-lx106 picolibc-xtensa-lx106-elf)  # ... and for an Xtensa MCU
if [ "${1:-}" = "--bench" ]; then PKGS+=(wrk nginx-light); fi
missing=()
for p in "${PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
    echo "deps: installing ${missing[*]}" >&2
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi
