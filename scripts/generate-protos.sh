#!/usr/bin/env bash
# Regenerates the Swift code for Protos/ into Sources/TesseraRPC/Generated.
#
#   scripts/generate-protos.sh          rewrite the checked-in files
#   scripts/generate-protos.sh --check  fail if the checked-in files differ from a fresh generation
#
# protoc comes from Debian's protobuf-compiler; protoc-gen-swift is built from the
# swift-protobuf version that Package.swift resolves to.
set -euo pipefail
cd "$(dirname "$0")/.."

out=Sources/TesseraRPC/Generated
command -v protoc >/dev/null || { echo "protoc not found: apt-get install protobuf-compiler" >&2; exit 1; }

swift package resolve >/dev/null
version=$(swift package show-dependencies --format json |
  python3 -c 'import json,sys; d=json.load(sys.stdin); print(next(x["version"] for x in d["dependencies"] if x["identity"]=="swift-protobuf"))')
plugin_dir=.build-protoc/swift-protobuf-$version
if [ ! -x "$plugin_dir/.build/release/protoc-gen-swift" ]; then
  echo "building protoc-gen-swift $version (once)…" >&2
  rm -rf "$plugin_dir"
  git clone -q --branch "$version" https://github.com/apple/swift-protobuf "$plugin_dir"
  (cd "$plugin_dir" && swift build -c release --product protoc-gen-swift >/dev/null)
fi

target=$out
if [ "${1:-}" = "--check" ]; then target=$(mktemp -d); fi
mkdir -p "$target"
protoc --plugin=protoc-gen-swift="$plugin_dir/.build/release/protoc-gen-swift" \
  --swift_out="$target" --swift_opt=Visibility=Public --swift_opt=FileNaming=PathToUnderscores \
  -I Protos Protos/tessera/v1/*.proto

if [ "${1:-}" = "--check" ]; then
  if diff -r "$out" "$target" >/dev/null; then echo "generated code is up to date"; else
    echo "generated code differs from Protos/: run scripts/generate-protos.sh" >&2; diff -r "$out" "$target" | head -40 >&2; exit 1; fi
  rm -rf "$target"
else
  echo "wrote $(ls "$out" | wc -l) files to $out"
fi
