#!/usr/bin/env bash
# The shipped ListOps model (models/listops, words tokenizer) through the CLI:
# its examples classify to labels 0-9 (not an accuracy check), a word outside
# the vocabulary is a one-line error naming the file, token and byte offset,
# a file of more than max_seq_len tokens is truncated with a warning, and
# `skein profile` runs the model at its full length with exact and Skeinformer
# attention.  usage: listops_cli_test.sh SKEIN_BINARY MODEL_DIR
set -u
skein=$1
model=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0
fail() { echo "FAIL $*"; failures=$((failures + 1)); }

if "$skein" classify --model "$model" --format json "$model"/examples/*.txt >"$work/out.json" 2>"$work/err"; then
  echo "ok   classify examples"
else
  fail "classify examples: exit $?"; cat "$work/err"
fi
/usr/bin/python3 - "$work/out.json" "$model"/examples/*.txt <<'PY' || fail "classify examples: output (above)"
import json, sys
results = json.load(open(sys.argv[1]))
files = sys.argv[2:]
assert [r["file"] for r in results] == files, "one result per example, in order"
for r in results:
    assert r["label"] in [str(d) for d in range(10)], r
    assert 0 <= r["class"] <= 9 and str(r["class"]) == r["label"], r
    assert len(r["logits"]) == 10 and 0.1 <= r["probability"] <= 1, r
    assert r["tokens"] == len(open(r["file"]).read().split()) and not r["truncated"], r
print(f"ok   {len(results)} example labels in 0-9, token counts match")
PY

printf '[MAX 1 [FOO 2 ] ]\n' >"$work/bad.txt"
printf '[MIN 3 4 ]\n' >"$work/good.txt"
"$skein" classify --model "$model" "$work/bad.txt" "$work/good.txt" >"$work/out" 2>"$work/err"
code=$?
want="bad.txt: unknown token '[FOO' at byte 7 (not in the model's words vocabulary of 16 tokens)"
if [ "$code" -ne 1 ] || ! grep -qF -- "$want" "$work/err" || [ "$(wc -l <"$work/err")" -ne 1 ]; then
  fail "unknown_word: exit $code, expected 1 and one stderr line with: $want"; cat "$work/err"
elif ! grep -q "good.txt" "$work/out" || grep -q "bad.txt" "$work/out"; then
  fail "unknown_word: the good file must be classified and the bad one skipped"; cat "$work/out"
else
  echo "ok   unknown_word"
fi

{ printf '[SM '; for _ in $(seq 2100); do printf '1 '; done; printf ']\n'; } >"$work/long.txt"
if "$skein" classify --model "$model" --format json "$work/long.txt" >"$work/out" 2>"$work/err" &&
   grep -qF "long.txt has $(wc -c <"$work/long.txt") bytes; classified its first 2000 tokens" "$work/err" &&
   /usr/bin/python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))[0]; assert r["tokens"] == 2000 and r["truncated"]' "$work/out"; then
  echo "ok   truncated to max_seq_len tokens"
else
  fail "long file: expected a truncation warning and 2000 tokens"; cat "$work/err" "$work/out"
fi

# Endless input: reading stops after max_seq_len tokens, or inside a token no vocabulary word is
# that long (an unknown-token error), instead of reading until the end that never comes.
if yes 1 | timeout 60 "$skein" classify --model "$model" --format json - >"$work/out" 2>"$work/err" &&
   grep -qF "has more input; classified its first 2000 tokens" "$work/err" &&
   /usr/bin/python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))[0]; assert r["tokens"] == 2000 and r["truncated"]' "$work/out"; then
  echo "ok   endless input of tokens stops after 2000"
else
  fail "endless tokens on stdin: expected 2000 tokens and a warning"; cat "$work/err" "$work/out"
fi
tr '\0' x </dev/zero | timeout 60 "$skein" classify --model "$model" - >"$work/out" 2>"$work/err"
code=${PIPESTATUS[1]}
if [ "$code" -eq 1 ] && grep -qF "unknown token 'xxxx" "$work/err" && [ "$(wc -l <"$work/err")" -eq 1 ]; then
  echo "ok   endless token on stdin is an unknown-token error"
else
  fail "endless token on stdin: exit $code, expected 1 and one unknown-token line"; cat "$work/err"
fi
timeout 60 "$skein" classify --model "$model" - </dev/zero >"$work/out" 2>"$work/err"
code=$?
if [ "$code" -eq 1 ] && grep -qF -- "-: binary file (NUL byte at offset 0), not text" "$work/err" &&
   [ "$(wc -l <"$work/err")" -eq 1 ]; then
  echo "ok   endless zeros on stdin are a binary-file error"
else
  fail "endless zeros on stdin: exit $code, expected 1 and one binary-file line"; cat "$work/err"
fi

if "$skein" profile --model "$model" --seq-len 2000 --attention exact,skeinformer --repeat 1 --warmup 0 \
    --json >"$work/profile.json" 2>"$work/err" &&
   /usr/bin/python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$work/profile.json"; then
  echo "ok   profile --seq-len 2000 --attention exact,skeinformer"
else
  fail "profile: exit $?"; cat "$work/err"
fi

[ "$failures" -eq 0 ] || { echo "$failures failure(s)"; exit 1; }
echo "all listops CLI checks passed"
