#!/usr/bin/env bash
# Quick start 1: install what is missing, build, and run `carbon serve`.
# Extra arguments go to `carbon serve` (e.g. --listen 0.0.0.0:8080).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
scripts/build.sh build
exec build/carbon serve "$@"
