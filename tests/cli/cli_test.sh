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
truncate -s 50M "$work/huge.txt"   # sparse: the reader must stop at max_seq_len bytes
mkdir "$work/dir"

expect classify 0 "" -- "$skein" classify --model "$model" "$work/good.txt" "$work/binary.bin"
[ "$(wc -l <"$work/out")" -eq 2 ] || { echo "FAIL classify: expected 2 result lines"; failures=$((failures + 1)); }
expect missing_file 1 "missing.txt: No such file or directory" -- \
  "$skein" classify --model "$model" "$work/good.txt" "$work/missing.txt"
grep -q "good.txt" "$work/out" || { echo "FAIL missing_file: good file not classified"; failures=$((failures + 1)); }
expect empty_file 1 "empty.txt: empty input" -- "$skein" classify --model "$model" "$work/empty.txt"
expect directory 1 "dir: is a directory" -- "$skein" classify --model "$model" "$work/dir"
expect huge_file 0 "huge.txt has 52428800 bytes; classified its first" -- \
  "$skein" classify --model "$model" "$work/huge.txt"
expect stdin 0 "" -- sh -c "printf 'some text' | '$skein' classify --model '$model' -"
expect json 1 "empty.txt: empty input" -- "$skein" classify --model "$model" --format json "$work/good.txt" "$work/empty.txt"
/usr/bin/python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); assert r[0]["label"] and "error" in r[1]' \
  "$work/out" || { echo "FAIL json: output does not parse as expected"; failures=$((failures + 1)); }
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
expect help 0 "" -- "$skein" classify --help
expect version 0 "" -- "$skein" --version

[ "$failures" -eq 0 ] && echo "all CLI checks passed" || { echo "$failures CLI check(s) failed"; exit 1; }
