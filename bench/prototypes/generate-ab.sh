#!/usr/bin/env bash
# A/B of two dieselkit builds, alternating, 5 runs each, on bench/generate.sh's models:
#   OLD=path/to/old/dieselkit NEW=target/release/dieselkit bench/prototypes/generate-ab.sh
# Used for results/generate-2026-12-02b.md.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
OLD="$(realpath "${OLD:?set OLD to the old build}")"; NEW="$(realpath "${NEW:?set NEW to the new build}")"
export SOURCE_DATE_EPOCH=1700000000
w=$(mktemp -d); cd "$w"
. "$here/../model.sh"
model bench50 50 > m50.toml; model bench200 200 > m200.toml
ms() { date +%s%N; }
for v in OLD NEW; do bin=${!v}; $bin -q new-project --from m200.toml --output p200-$v; $bin -q new-project --no-fmt --from m200.toml --output n200-$v; done
declare -A T
for r in 1 2 3 4 5; do
  for v in OLD NEW; do bin=${!v}
    s=$(ms); $bin -q new-project --from m50.toml --output a-$v-$r; e=$(ms); T[np-$v]+="$(( (e-s)/1000000 )) "
    s=$(ms); $bin -q new-project --no-fmt --from m50.toml --output b-$v-$r; e=$(ms); T[npn-$v]+="$(( (e-s)/1000000 )) "
    s=$(ms); $bin -q generate field thing001 "x$r:int?" --project-dir p200-$v >/dev/null; e=$(ms); T[gf-$v]+="$(( (e-s)/1000000 )) "
    s=$(ms); $bin -q generate field thing001 "x$r:int?" --no-fmt --project-dir n200-$v >/dev/null; e=$(ms); T[gfn-$v]+="$(( (e-s)/1000000 )) "
  done
done
med() { tr ' ' '\n' | grep . | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
echo "| measurement | OLD runs (ms) | median | NEW runs (ms) | median |"
echo "|---|---|---|---|---|"
for k in np:"new-project, 50 resources" npn:"new-project --no-fmt, 50 resources" gf:"generate field, 200 resources/migrations" gfn:"generate field --no-fmt, 200 resources/migrations"; do
  key=${k%%:*}; name=${k#*:}
  echo "| $name | ${T[$key-OLD]}| $(echo ${T[$key-OLD]} | med) | ${T[$key-NEW]}| $(echo ${T[$key-NEW]} | med) |"
done
diff -r a-OLD-1 a-NEW-1 > diff.txt && echo "new-project outputs: identical" || echo "new-project outputs differ in $(grep -c '^diff\|^Only' diff.txt) places (templates changed)"
rm -rf "$w"
