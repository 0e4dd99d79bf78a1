#!/usr/bin/env bash
# Benchmark: `new-project` with 50 resources (target < 100 ms) and autogenerate on a
# project of 200 migrations on SQLite (target < 0.2 s): `dieselkit generate field` replays
# the 200 migrations on a scratch database, introspects, diffs, writes the migration and
# re-renders every generated file. Each is measured as users run it (generated Rust
# formatted by rustfmt, the default) and with `--no-fmt` (dieselkit's own work).
#
#   bench/generate.sh [RUNS]     (default 5; prints a Markdown table)
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS="${1:-5}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cargo build --release -q
DK="$PWD/target/release/dieselkit"
export SOURCE_DATE_EPOCH=1700000000

. bench/model.sh
model bench50 50 > "$work/m50.toml"
model bench200 200 > "$work/m200.toml"

ms() { date +%s%N | awk '{printf "%.1f", $1/1000000}'; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

new_times=()
for r in $(seq "$RUNS"); do
  start=$(ms); "$DK" -q new-project --from "$work/m50.toml" --output "$work/p50-$r"; end=$(ms)
  new_times+=("$(awk -v a="$start" -v b="$end" 'BEGIN {print b - a}')")
done
nofmt_times=()
for r in $(seq "$RUNS"); do
  start=$(ms); "$DK" -q new-project --no-fmt --from "$work/m50.toml" --output "$work/n50-$r"; end=$(ms)
  nofmt_times+=("$(awk -v a="$start" -v b="$end" 'BEGIN {print b - a}')")
done
# The same into memory (tmpfs), which separates dieselkit's own work from the cost of
# creating ~225 files on the disk's file system.
shm_times=()
if [ -d /dev/shm ] && [ -w /dev/shm ]; then
  shm="$(mktemp -d /dev/shm/dieselkit-bench.XXXXXX)"
  trap 'rm -rf "$work" "$shm"' EXIT
  for r in $(seq "$RUNS"); do
    start=$(ms); "$DK" -q new-project --from "$work/m50.toml" --output "$shm/p50-$r"; end=$(ms)
    shm_times+=("$(awk -v a="$start" -v b="$end" 'BEGIN {print b - a}')")
  done
fi

"$DK" -q new-project --from "$work/m200.toml" --output "$work/p200"
gen_times=()
for r in $(seq "$RUNS"); do
  start=$(ms)
  "$DK" -q generate field thing001 "extra$r:int?" --project-dir "$work/p200" >/dev/null
  end=$(ms)
  gen_times+=("$(awk -v a="$start" -v b="$end" 'BEGIN {print b - a}')")
done
"$DK" -q new-project --no-fmt --from "$work/m200.toml" --output "$work/n200"
gen_nofmt_times=()
for r in $(seq "$RUNS"); do
  start=$(ms)
  "$DK" -q generate field thing001 "extra$r:int?" --no-fmt --project-dir "$work/n200" >/dev/null
  end=$(ms)
  gen_nofmt_times+=("$(awk -v a="$start" -v b="$end" 'BEGIN {print b - a}')")
done
count=$(ls "$work/p200/migrations" | wc -l)

echo "| measurement | runs (ms) | median (ms) | target |"
echo "|---|---|---|---|"
echo "| new-project, 50 resources | ${new_times[*]} | $(printf '%s\n' "${new_times[@]}" | median) | < 100 |"
echo "| new-project, 50 resources, --no-fmt | ${nofmt_times[*]} | $(printf '%s\n' "${nofmt_times[@]}" | median) | < 100 |"
[ "${#shm_times[@]}" -gt 0 ] &&
  echo "| new-project, 50 resources, output on tmpfs | ${shm_times[*]} | $(printf '%s\n' "${shm_times[@]}" | median) | < 100 |"
echo "| generate field, project of $((count - RUNS))–$((count - 1)) migrations (SQLite) | ${gen_times[*]} | $(printf '%s\n' "${gen_times[@]}" | median) | < 200 |"
echo "| generate field --no-fmt (project made with --no-fmt), $((count - RUNS))–$((count - 1)) migrations (SQLite) | ${gen_nofmt_times[*]} | $(printf '%s\n' "${gen_nofmt_times[@]}" | median) | < 200 |"
echo
echo "$(date -u +%Y-%m-%d) on $(nproc) cores; dieselkit $("$DK" --version | cut -d' ' -f2), release build"
