#!/usr/bin/env bash
# Draws docs/PERFORMANCE.md's figures from the recorded results in Benchmarks/results/ (no rerun):
# Benchmarks/plot.py, with matplotlib from PyPI in .build-plot-venv/ (pinned in
# Benchmarks/plot-requirements.txt, installed once).
#   Benchmarks/plot.sh
set -euo pipefail
cd "$(dirname "$0")/.."
venv=.build-plot-venv
if ! cmp -s Benchmarks/plot-requirements.txt "$venv/requirements.txt"; then
    [ -x "$venv/bin/pip" ] || python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet -r Benchmarks/plot-requirements.txt
    cp Benchmarks/plot-requirements.txt "$venv/requirements.txt"
fi
"$venv/bin/python" Benchmarks/plot.py Benchmarks/results docs/images
