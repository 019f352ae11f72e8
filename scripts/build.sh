#!/usr/bin/env bash
# Configures and builds muonpipe into build/ (Release with debug info).
set -euo pipefail
cd "$(dirname "$0")/.."
cmake --preset default >/dev/null
cmake --build build -j"$(nproc)"
