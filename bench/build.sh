#!/usr/bin/env bash
# Benchmark: how much the generated code adds to a project's cold build over its
# dependencies alone (PRODUCT.md: "adds little"). For bookstore (2 resources) and a
# 50-resource model, on SQLite (no system library needed):
#   1. a crate with the generated Cargo.toml and an empty main.rs, built from a cold target
#      dir: the dependencies alone;
#   2. the generated project built on that target dir: the generated code alone;
#   3. the generated project built from a cold target dir: what a user waits for.
# Debug builds (`cargo build`), as after `dieselkit new-project`.
#
#   bench/build.sh      (prints a Markdown table; takes several minutes on 2 cores)
#   MODELS=bookstore bench/build.sh   (only bookstore; or MODELS=fifty)
set -euo pipefail
cd "$(dirname "$0")/.."
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cargo build --release -q
DK="$PWD/target/release/dieselkit"
export SOURCE_DATE_EPOCH=1700000000
unset RUSTFLAGS CARGO_TARGET_DIR

secs() { local start end; start=$(date +%s.%N); "$@" >/dev/null 2>&1; end=$(date +%s.%N); awk -v a="$start" -v b="$end" 'BEGIN {printf "%.1f", b - a}'; }

. bench/model.sh
model fifty 50 > "$work/fifty.toml"

echo "| project | dependencies alone, cold (s) | generated code on built deps (s) | whole project, cold (s) | generated code share |"
echo "|---|---|---|---|---|"
for which in ${MODELS:-bookstore fifty}; do
  case "$which" in
    bookstore) model=examples/bookstore.toml ;;
    fifty) model="$work/fifty.toml" ;;
    *) echo "MODELS: unknown model \`$which\` (bookstore, fifty)" >&2; exit 2 ;;
  esac
  name="$(basename "$model" .toml)"
  "$DK" -q new-project --from "$model" --output "$work/$name"
  deps="$work/$name-deps"
  mkdir -p "$deps/src"
  # The same manifest without the extra binary: only the dependencies get compiled.
  awk '/^\[\[bin\]\]/ {skip = 1; next} /^\[/ {skip = 0} !skip' "$work/$name/Cargo.toml" > "$deps/Cargo.toml"
  echo 'fn main() {}' > "$deps/src/main.rs"
  t_deps=$(cd "$deps" && CARGO_TARGET_DIR="$work/t-$name" secs cargo build)
  t_code=$(cd "$work/$name" && CARGO_TARGET_DIR="$work/t-$name" secs cargo build)
  t_cold=$(cd "$work/$name" && CARGO_TARGET_DIR="$work/t-$name-cold" secs cargo build)
  share=$(awk -v c="$t_code" -v w="$t_cold" 'BEGIN {printf "%.0f%%", 100 * c / w}')
  echo "| $name | $t_deps | $t_code | $t_cold | $share |"
done
echo
echo "$(date -u +%Y-%m-%d) on $(nproc) cores; $(cargo --version)"
