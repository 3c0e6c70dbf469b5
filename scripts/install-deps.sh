#!/usr/bin/env bash
# Installs the system packages Tessera builds against, if any is missing (Debian/Ubuntu):
# the C++ gRPC library and protobuf (behind the C shim), OpenBLAS (dense math), Chromium
# (the test that renders `tessera report`'s page headless), iproute2 (the multi-host test
# puts each role in its own network namespace) and openssl (the security tests make
# throwaway certificates with it).
set -euo pipefail

packages=(libgrpc++-dev libprotobuf-dev libopenblas-dev pkg-config chromium iproute2 openssl)
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "installing system packages: ${missing[*]}" >&2
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
  sudo=sudo
fi
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
