#!/usr/bin/env bash
# The README's first command: trains the flagship example, sentiment_attention, end to end on a
# fresh machine (installs missing Debian packages, configures, builds in Release, trains; the
# pictures land in runs/sentiment_attention). Extra arguments go to the example, e.g.
#   bash scripts/train.sh --epochs 5 --seed 1
source "$(dirname "$0")/common.sh"
ensure_packages
configure_and_build "$ROOT/build"
exec "$ROOT/build/examples/sentiment_attention" "$@"
