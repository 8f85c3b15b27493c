#!/usr/bin/env bash
# Runs the cargo-fuzz targets of fuzz/ (nightly toolchain + `cargo install cargo-fuzz`).
#
#   tools/fuzz.sh [SECONDS] [TARGET...]
#
# Each target runs until 10^6 executions or SECONDS (default 1200 = 20 minutes), whichever
# comes first, with a 2 GiB memory limit and a 10 s per-input time limit (a hang), built without
# a sanitizer (fusedet forbids `unsafe`) but with debug assertions (integer overflow checks).
# Seeds: fuzz/seeds/TARGET plus the test fixtures named below; what the fuzzer finds goes to
# fuzz/corpus/TARGET and crashes to fuzz/artifacts/TARGET (both git-ignored). One line per
# target is appended to fuzz/results.tsv: date, target, executions, seconds, result.
# Not run by CI (minutes per target); docs/reliability.md lists the last results.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-1200}
shift || true
all=(icdar15 paddle mlt td500 ctw1500_txt ctw1500_xml totaltext_txt mat coco_json yolo voc_xml
    recipe darknet onnx checkpoint detect)
targets=("${@:-${all[@]}}")
fx=crates/fusedet/tests/fixtures

# Seed directories of a target (libFuzzer reads every file in each).
seeds() {
    local t=$1 d
    d=$(mktemp -d "${TMPDIR:-/tmp}/fusedet-seeds-$t.XXXX")
    [ -d "fuzz/seeds/$t" ] && cp fuzz/seeds/"$t"/* "$d"/
    case $t in
        mat) cp $fx/mat/*.mat "$d"/ ;;
        onnx) cp $fx/onnx/*.onnx "$d"/ ;;
        recipe) cp configs/*.toml "$d"/ ;;
        checkpoint) cp $fx/resnet18_w4_torchvision.pth $fx/resnet18_w4_torchvision.safetensors \
            $fx/mobilenetv3_w01_torchvision.safetensors $fx/asff/state_dict_subset.pth "$d"/ ;;
        detect) find $fx/formats -type f ! -name '*.json' -exec cp {} "$d"/ \;
            cp $fx/db/synthetic_4.png $fx/db/real_crop.png "$d"/ ;;
    esac
    echo "$d"
}

cd fuzz
cargo +nightly fuzz build -s none --debug-assertions >/dev/null
cd ..
mkdir -p fuzz/logs
for t in "${targets[@]}"; do
    mkdir -p "fuzz/corpus/$t"
    s=$(seeds "$t")
    log=fuzz/logs/$t.log
    echo "== $t (at most $secs s)"
    start=$(date +%s)
    set +e
    (cd fuzz && cargo +nightly fuzz run -s none --debug-assertions "$t" "corpus/$t" "$s" -- \
        -runs=1000000 -max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 \
        -print_final_stats=1) >"$log" 2>&1
    rc=$?
    set -e
    rm -rf "$s"
    # The final stats, or after a crash the last status line (`#N ...`).
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1 || true)
    [ -n "$runs" ] || runs=$(grep -o '^#[0-9]*' "$log" | tr -d '#' | tail -1 || true)
    took=$(($(date +%s) - start))
    if [ $rc -eq 0 ]; then result=ok; else result="FAILED (rc $rc, see $log and fuzz/artifacts/$t)"; fi
    printf '%s\t%s\t%s\t%s\t%s\n' "$(date -u +%F)" "$t" "${runs:-?}" "$took" "$result" |
        tee -a fuzz/results.tsv
done
