#!/usr/bin/env bash
# The CLI's promises: documented exit codes, one-line errors, per-file failures
# that do not stop the good files.  usage: cli_test.sh SKEIN_BINARY MODEL_DIR
set -u
skein=$1
model=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0

# expect NAME EXIT_CODE STDERR_FRAGMENT -- COMMAND...
expect() {
  local name=$1 code=$2 fragment=$3
  shift 4
  "$@" >"$work/out" 2>"$work/err"
  local got=$?
  if [ "$got" -ne "$code" ]; then
    echo "FAIL $name: exit $got, expected $code"; cat "$work/err"; failures=$((failures + 1)); return
  fi
  if [ -n "$fragment" ] && ! grep -qF -- "$fragment" "$work/err"; then
    echo "FAIL $name: stderr lacks '$fragment':"; cat "$work/err"; failures=$((failures + 1)); return
  fi
  if [ "$code" -eq 2 ] && [ "$(wc -l <"$work/err")" -ne 1 ]; then
    echo "FAIL $name: error is not one line:"; cat "$work/err"; failures=$((failures + 1)); return
  fi
  echo "ok   $name"
}

printf 'hello world\n' >"$work/good.txt"
printf 'a\0b\0\xff\xfe binary\n' >"$work/binary.bin"
: >"$work/empty.txt"
# Sparse 1 GiB after a text prefix: the reader must stop at max_seq_len bytes,
# before the zeros (which would make the file binary).
head -c 65536 /dev/zero | tr '\0' 'x' >"$work/huge.txt"
truncate -s 1G "$work/huge.txt"
mkdir "$work/dir"

expect classify 0 "" -- "$skein" classify --model "$model" "$work/good.txt" "$work/good.txt"
[ "$(wc -l <"$work/out")" -eq 2 ] || { echo "FAIL classify: expected 2 result lines"; failures=$((failures + 1)); }
expect binary_file 1 "binary.bin: binary file (NUL byte at offset 1), not text" -- \
  "$skein" classify --model "$model" "$work/good.txt" "$work/binary.bin"
grep -q "good.txt" "$work/out" || { echo "FAIL binary_file: good file not classified"; failures=$((failures + 1)); }
grep -q "binary.bin" "$work/out" && { echo "FAIL binary_file: binary file classified"; failures=$((failures + 1)); }
expect missing_file 1 "missing.txt: No such file or directory" -- \
  "$skein" classify --model "$model" "$work/good.txt" "$work/missing.txt"
grep -q "good.txt" "$work/out" || { echo "FAIL missing_file: good file not classified"; failures=$((failures + 1)); }
expect empty_file 1 "empty.txt: empty input" -- "$skein" classify --model "$model" "$work/empty.txt"
expect directory 1 "dir: is a directory" -- "$skein" classify --model "$model" "$work/dir"
expect huge_file 0 "huge.txt has 1073741824 bytes; classified its first" -- \
  "$skein" classify --model "$model" "$work/huge.txt"
expect stdin 0 "" -- sh -c "printf 'some text' | '$skein' classify --model '$model' -"
expect json 1 "empty.txt: empty input" -- "$skein" classify --model "$model" --format json "$work/good.txt" "$work/empty.txt"
/usr/bin/python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); assert r[0]["label"] and "error" in r[1]' \
  "$work/out" || { echo "FAIL json: output does not parse as expected"; failures=$((failures + 1)); }
# 40 files = two batches: text lines for all, in order; JSON shows a counter on a
# terminal's stderr only (script(1) gives the command a pseudo-terminal).
mkdir "$work/many"
for i in $(seq -w 1 40); do printf 'file %s\n' "$i" >"$work/many/f$i.txt"; done
expect many_text 0 "" -- "$skein" classify --model "$model" "$work"/many/f*.txt
[ "$(cut -f1 "$work/out" | tr '\n' ' ')" = "$(printf '%s ' "$work"/many/f*.txt)" ] ||
  { echo "FAIL many_text: 40 result lines in input order expected"; failures=$((failures + 1)); }
expect many_json_pipe 0 "" -- "$skein" classify --model "$model" --format json "$work"/many/f*.txt
[ ! -s "$work/err" ] || { echo "FAIL many_json_pipe: stderr not empty without a terminal"; failures=$((failures + 1)); }
script -qec "'$skein' classify --model '$model' --format json $work/many/f*.txt >/dev/null" /dev/null >"$work/tty" 2>&1
grep -q "40/40 files" "$work/tty" && grep -q "32/40 files" "$work/tty" && echo "ok   many_json_tty" ||
  { echo "FAIL many_json_tty: no file counter on the terminal"; cat "$work/tty"; failures=$((failures + 1)); }
expect profile 0 "" -- "$skein" classify --model "$model" --profile --repeat 2 "$work/good.txt"
grep -q "per-layer profile: 2 run(s)" "$work/out" || { echo "FAIL profile: no table"; failures=$((failures + 1)); }

expect no_model 2 "/nonexistent: not a model directory" -- "$skein" classify --model /nonexistent "$work/good.txt"
expect bad_format 2 "--format must be text or json" -- \
  "$skein" classify --model "$model" --format xml "$work/good.txt"
expect bad_option 2 "bogus" -- \
  "$skein" classify --model "$model" --bogus "$work/good.txt"
expect bad_repeat 2 "--repeat must be at least 1" -- \
  "$skein" classify --model "$model" --repeat 0 "$work/good.txt"
expect memory_limit 2 "more than the session's limit of 1024 bytes" -- \
  "$skein" classify --model "$model" --max-memory 1K "$work/good.txt"
expect bad_memory 2 "--max-memory expects a positive size such as 512M or 4G, got '12X'" -- \
  "$skein" classify --model "$model" --max-memory 12X "$work/good.txt"
expect no_files 2 "no input files" -- "$skein" classify --model "$model"
expect unknown_command 2 "unknown command 'frobnicate'" -- "$skein" frobnicate
expect run_missing_ids 2 "missing --ids" -- "$skein" run --model "$model" --out "$work/o.safetensors"
expect run_bad_input 2 "good.txt: header length" -- \
  "$skein" run --model "$model" --ids "$work/good.txt" --out "$work/o.safetensors"
expect inspect 0 "" -- "$skein" inspect --model "$model" --seq-len 128
grep -q "arena:" "$work/out" || { echo "FAIL inspect: no memory plan"; failures=$((failures + 1)); }
syn="dim=16,hidden=32,heads=2,layers=2"
expect profile_json 0 "[2/2] n=64" -- "$skein" profile --synthetic "$syn" --seq-len 32,64 --repeat 2 --json \
  --trace "$work/trace.json"
/usr/bin/python3 - "$work/out" "$work/trace.json" <<'PY' || { echo "FAIL profile_json: fields"; failures=$((failures + 1)); }
import json, sys
runs = json.load(open(sys.argv[1]))
assert [r["seq_len"] for r in runs] == [32, 64] and runs[0]["runs"] == 2
for key in ("batch", "attention", "threads", "total", "arena_bytes", "weight_bytes", "layers", "nodes"):
    assert key in runs[0], key
layer = runs[0]["layers"][1]
for key in ("layer", "median_ms", "p90_ms", "min_ms", "peak_live_bytes", "peak_workspace_bytes",
            "weight_bytes", "rss_high_water_bytes", "flops", "gflops_per_s"):
    assert key in layer, key
events = json.load(open(sys.argv[2]))["traceEvents"]
complete = [e for e in events if e["ph"] == "X"]
assert len(complete) == 2 * 2 * len(runs[0]["nodes"]) and all(e["dur"] >= 0 for e in complete)
PY
expect profile_csv 0 "" -- "$skein" profile --synthetic "$syn" --seq-len 16 --repeat 1 --csv
head -1 "$work/out" | grep -q "^seq_len,batch,attention,threads,runs,layer,median_ms" && \
  [ "$(wc -l <"$work/out")" -eq 6 ] || { echo "FAIL profile_csv"; failures=$((failures + 1)); }
expect profile_too_long 2 "--seq-len 5000 exceeds the model's max_seq_len 4096" -- \
  "$skein" profile --model "$model" --seq-len 5000
expect profile_refused 2 "more than the session's limit of 1024 bytes" -- \
  "$skein" profile --synthetic "$syn" --seq-len 64 --max-memory 1K
expect profile_no_model 2 "give exactly one of --model DIR and --synthetic SPEC" -- "$skein" profile
expect help 0 "" -- "$skein" classify --help
expect version 0 "" -- "$skein" --version

[ "$failures" -eq 0 ] && echo "all CLI checks passed" || { echo "$failures CLI check(s) failed"; exit 1; }
