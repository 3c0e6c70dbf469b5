#!/usr/bin/env bash
# Creates .venv with the Python gRPC client's requirements (examples/python), once.
set -euo pipefail
cd "$(dirname "$0")/.."
requirements=examples/python/requirements.txt
stamp=.venv/.requirements
if [ -f "$stamp" ] && cmp -s "$requirements" "$stamp"; then
  exit 0
fi
python3 -m venv .venv
.venv/bin/pip install -q --disable-pip-version-check -r "$requirements"
cp "$requirements" "$stamp"
