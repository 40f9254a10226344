#!/usr/bin/env bash
# Regenerates every tests/reference/*.h from PyTorch (Debian: apt-get install python3-torch).
set -euo pipefail
cd "$(dirname "$0")"
for g in gen_ref_*.py; do /usr/bin/python3 "$g"; done
