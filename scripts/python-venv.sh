#!/usr/bin/env bash
# Creates .venv with the Python the tests use, once: the gRPC client's requirements
# (examples/python) and the Kubernetes manifest validator (Cluster/k8s).
set -euo pipefail
cd "$(dirname "$0")/.."
requirements=(examples/python/requirements.txt Cluster/k8s/requirements.txt)
stamp=.venv/.requirements
if [ -f "$stamp" ] && cat "${requirements[@]}" | cmp -s - "$stamp"; then
  exit 0
fi
python3 -m venv .venv
for file in "${requirements[@]}"; do
  .venv/bin/pip install -q --disable-pip-version-check -r "$file"
done
cat "${requirements[@]}" > "$stamp"
