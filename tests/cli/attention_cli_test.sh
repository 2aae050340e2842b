#!/usr/bin/env bash
# `skein attention`: exact attention against a numpy softmax reference (plain
# and padded batches), --json fields, thread-count determinism, linformer with
# a given E, the baselines through classify and profile, and the exit code and
# one-line message of every bad input.  usage: attention_cli_test.sh SKEIN_BINARY
set -u
skein=$1
here=$(cd "$(dirname "$0")" && pwd)
export PYTHONPATH="$here/../../models/pytorch${PYTHONPATH:+:$PYTHONPATH}"
py=/usr/bin/python3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0
fail() { echo "FAIL $*"; failures=$((failures + 1)); }

# expect NAME EXIT_CODE STDERR_FRAGMENT -- COMMAND...
expect() {
  local name=$1 code=$2 fragment=$3
  shift 4
  "$@" >"$work/out" 2>"$work/err"
  local got=$?
  if [ "$got" -ne "$code" ]; then
    fail "$name: exit $got, expected $code"; cat "$work/err"; return
  fi
  if [ -n "$fragment" ] && ! grep -qF -- "$fragment" "$work/err"; then
    fail "$name: stderr lacks '$fragment':"; cat "$work/err"; return
  fi
  if [ "$code" -eq 2 ] && [ "$(wc -l <"$work/err")" -ne 1 ]; then
    fail "$name: error is not one line:"; cat "$work/err"; return
  fi
  echo "ok   $name"
}

# Inputs. Padding positions of q/k/v hold huge values: they must not leak into
# the result. Integer masks are written first so their data stays 8-byte aligned.
"$py" - "$work" <<'EOF' || { echo "FAIL could not write the inputs"; exit 1; }
import sys
import numpy as np
import safetensors_io as st

work = sys.argv[1]
rng = np.random.default_rng(7)

def qkv(shape):
    return {name: rng.standard_normal(shape).astype(np.float32) for name in "qkv"}

plain = qkv((2, 3, 37, 8))
st.write(f"{work}/plain.safetensors", plain)

padded = qkv((3, 2, 40, 16))
lengths = [40, 23, 1]
mask = np.zeros((3, 40), dtype=np.int64)
for b, n in enumerate(lengths):
    mask[b, :n] = 1
    for name in "qkv":
        padded[name][b, :, n:, :] = 1e30
st.write(f"{work}/padded_i64.safetensors", {"mask": mask, **padded})
st.write(f"{work}/padded_i32.safetensors", {"mask": mask.astype(np.int32), **padded})
st.write(f"{work}/padded_f32.safetensors", {**padded, "mask": mask.astype(np.float32)})

# Bad inputs.
st.write(f"{work}/no_v.safetensors", {"q": plain["q"], "k": plain["k"]})
st.write(f"{work}/f64.safetensors", {"q": plain["q"].astype(np.float64), "k": plain["k"], "v": plain["v"]})
st.write(f"{work}/rank3.safetensors", {n: a[0] for n, a in plain.items()})
st.write(f"{work}/k_shape.safetensors", {"q": plain["q"], "k": plain["k"][:, :, :30], "v": plain["v"]})
st.write(f"{work}/mask_shape.safetensors", {**plain, "mask": np.ones((2, 36), dtype=np.float32)})
st.write(f"{work}/mask_dtype.safetensors", {**plain, "mask": np.ones((2, 37), dtype=np.float64)})
hole = np.ones((2, 37), dtype=np.int32)
hole[1, 10] = 0
st.write(f"{work}/mask_hole.safetensors", {**plain, "mask": hole})
empty = np.ones((2, 37), dtype=np.int32)
empty[0] = 0
st.write(f"{work}/mask_empty.safetensors", {**plain, "mask": empty})
EOF

# check_exact NAME INPUT OUTPUT: max |skein - numpy| < 1e-5 on real rows, padding rows exactly zero.
check_exact() {
  "$py" - "$2" "$3" <<'EOF' || fail "$1: output differs from numpy"
import sys
import numpy as np
import safetensors_io as st

inp, out = st.read(sys.argv[1]), st.read(sys.argv[2])
q, k, v = (inp[n].astype(np.float64) for n in "qkv")
got = out["out"]
assert got.dtype == np.float32 and got.shape == q.shape, (got.dtype, got.shape)
batch, heads, n, p = q.shape
lengths = inp["mask"].astype(bool).sum(axis=1) if "mask" in inp else [n] * batch
worst = 0.0
for b, m in enumerate(lengths):
    s = q[b, :, :m] @ k[b, :, :m].transpose(0, 2, 1) / np.sqrt(p)
    s = np.exp(s - s.max(axis=-1, keepdims=True))
    ref = (s / s.sum(axis=-1, keepdims=True)) @ v[b, :, :m]
    worst = max(worst, float(np.abs(got[b, :, :m] - ref).max()))
    assert np.all(got[b, :, m:] == 0), f"padding rows of batch row {b} are not zero"
assert worst < 1e-5, f"max abs diff {worst}"
print(f"max abs diff {worst:.2e}")
EOF
}

expect plain 0 "" -- "$skein" attention --method exact --qkv "$work/plain.safetensors" --out "$work/plain_out.safetensors"
check_exact plain "$work/plain.safetensors" "$work/plain_out.safetensors"
for m in i64 i32 f32; do
  expect "padded_$m" 0 "" -- "$skein" attention --method exact --qkv "$work/padded_$m.safetensors" \
    --out "$work/padded_${m}_out.safetensors"
  check_exact "padded_$m" "$work/padded_$m.safetensors" "$work/padded_${m}_out.safetensors"
done

# One thread and two give the same bits.
expect threads_1 0 "" -- "$skein" attention --method exact --threads 1 --qkv "$work/padded_i64.safetensors" \
  --out "$work/t1.safetensors"
expect threads_2 0 "" -- "$skein" attention --method exact --threads 2 --qkv "$work/padded_i64.safetensors" \
  --out "$work/t2.safetensors"
cmp -s "$work/t1.safetensors" "$work/t2.safetensors" || fail "threads: 1 and 2 threads differ"

expect json 0 "" -- "$skein" attention --method exact --qkv "$work/padded_i64.safetensors" \
  --out "$work/json_out.safetensors" --repeat 3 --json
"$py" - "$work/out" <<'EOF' || fail "json: report is wrong"
import json, sys
lines = open(sys.argv[1]).read().splitlines()
assert len(lines) == 1, lines
r = json.loads(lines[0])
for key in ("method", "n", "batch", "heads", "p", "features", "median_ms", "min_ms", "workspace_bytes"):
    assert key in r, f"missing {key}"
assert (r["method"], r["n"], r["batch"], r["heads"], r["p"], r["features"]) == ("exact", 40, 3, 2, 16, None), r
assert 0 < r["min_ms"] <= r["median_ms"], r
assert isinstance(r["workspace_bytes"], int) and r["workspace_bytes"] >= 0, r
EOF
check_exact json "$work/padded_i64.safetensors" "$work/json_out.safetensors"

# Every registered method (read from the unknown-method message, so new ones
# are covered without naming them here): finite output, zero padding rows,
# and the same bits for one and two threads and for a rerun with the same seed.
"$skein" attention --method no-such-method --qkv "$work/plain.safetensors" --out "$work/x" 2>"$work/err"
methods=$(sed -n 's/.*known methods: \([^)]*\)).*/\1/p' "$work/err" | tr -d ,)
[ -n "$methods" ] || fail "methods: could not read the known methods from: $(cat "$work/err")"
for m in $methods; do
  run() { "$skein" attention --method "$m" --seed 5 --qkv "$work/padded_i64.safetensors" --out "$1" "${@:2}"; }
  if ! run "$work/m1.safetensors" --threads 1 2>"$work/err" || ! run "$work/m2.safetensors" --threads 2 2>>"$work/err" ||
     ! run "$work/m3.safetensors" --threads 2 2>>"$work/err"; then
    fail "method $m: $(cat "$work/err")"; continue
  fi
  cmp -s "$work/m1.safetensors" "$work/m2.safetensors" || fail "method $m: 1 and 2 threads differ"
  cmp -s "$work/m2.safetensors" "$work/m3.safetensors" || fail "method $m: reruns differ"
  "$py" - "$work/padded_i64.safetensors" "$work/m1.safetensors" <<'EOF2' || fail "method $m: bad output"
import sys
import numpy as np
import safetensors_io as st
inp, got = st.read(sys.argv[1]), st.read(sys.argv[2])["out"]
assert got.shape == inp["q"].shape and np.isfinite(got).all()
for b, m in enumerate(inp["mask"].sum(axis=1)):
    assert np.all(got[b, :, m:] == 0), f"padding rows of batch row {b} are not zero"
EOF2
  echo "ok   method $m"
done

# Linformer with a given projection E [heads, k, n]: only the first m columns
# of E project a row of m real tokens; against numpy.
"$py" - "$work" <<'EOF' || fail "linformer_e: could not write the input"
import sys
import numpy as np
import safetensors_io as st
work = sys.argv[1]
rng = np.random.default_rng(3)
inp = st.read(f"{work}/padded_i64.safetensors")
inp["E"] = (rng.standard_normal((2, 12, 40)) * 0.2).astype(np.float32)
st.write(f"{work}/linformer_e.safetensors", inp)
EOF
if "$skein" attention --method linformer --qkv "$work/linformer_e.safetensors" \
  --out "$work/lin.safetensors" 2>"$work/err"; then
  "$py" - "$work/linformer_e.safetensors" "$work/lin.safetensors" <<'EOF' && echo "ok   linformer_e" ||
import sys
import numpy as np
import safetensors_io as st
inp, got = st.read(sys.argv[1]), st.read(sys.argv[2])["out"]
for b, m in enumerate(inp["mask"].sum(axis=1)):
    for h in range(inp["q"].shape[1]):
        q, k, v = (inp[x][b, h, :m].astype(np.float64) for x in "qkv")
        e = inp["E"][h, :, :m].astype(np.float64)
        s = q @ (e @ k).T / np.sqrt(q.shape[1])
        a = np.exp(s - s.max(axis=1, keepdims=True))
        want = (a / a.sum(axis=1, keepdims=True)) @ (e @ v)
        assert np.abs(got[b, h, :m] - want).max() <= 1e-5 * np.abs(want).max(), (b, h)
EOF
    fail "linformer_e: differs from numpy"
else
  fail "linformer_e: $(cat "$work/err")"
fi
"$skein" attention --method linformer --qkv "$work/plain.safetensors" --out "$work/x" 2>"$work/err"
grep -q "JL projection" "$work/err" || fail "linformer without E: no note that the projection is random"

# The baselines through the model paths: classify a batch of two files of
# different lengths (padding) with each, and profile them all.
model="$here/../../models/untrained"
printf 'a short text' >"$work/short.txt"
for m in nystrom performer bigbird informer informer-mask linformer; do
  expect "classify_$m" 0 "" -- "$skein" classify --model "$model" --attention "$m" --seed 3 \
    "$work/short.txt" "$model/examples/prose_river.txt"
done
expect profile_baselines 0 "" -- "$skein" profile --synthetic "dim=16,hidden=32,heads=2,layers=2" \
  --attention nystrom,performer,bigbird,informer,informer-mask,linformer --seq-len 300 --repeat 1 --csv
[ "$(grep -c '^300,' "$work/out")" -ge 6 ] || fail "profile_baselines: missing rows"

o="$work/o.safetensors"
p="$work/plain.safetensors"
expect no_method 2 "missing --method" -- "$skein" attention --qkv "$p" --out "$o"
expect no_qkv 2 "missing --qkv" -- "$skein" attention --method exact --out "$o"
expect no_out 2 "missing --out" -- "$skein" attention --method exact --qkv "$p"
expect unknown_method 2 "unknown attention method \"frobnicate\"" -- \
  "$skein" attention --method frobnicate --qkv "$p" --out "$o"
expect features_zero 2 "--features must be at least 1" -- \
  "$skein" attention --method exact --features 0 --qkv "$p" --out "$o"
expect features_text 2 "many" -- "$skein" attention --method exact --features many --qkv "$p" --out "$o"
expect repeat_zero 2 "--repeat must be at least 1" -- \
  "$skein" attention --method exact --repeat 0 --qkv "$p" --out "$o"
expect threads_negative 2 "--threads must be >= 0" -- \
  "$skein" attention --method exact --threads -1 --qkv "$p" --out "$o"
expect bad_option 2 "bogus" -- "$skein" attention --method exact --bogus --qkv "$p" --out "$o"
expect missing_file 2 "nope.safetensors" -- \
  "$skein" attention --method exact --qkv "$work/nope.safetensors" --out "$o"
expect missing_tensor 2 "no tensor 'v'" -- \
  "$skein" attention --method exact --qkv "$work/no_v.safetensors" --out "$o"
expect wrong_dtype 2 "tensor 'q' has dtype F64, expected F32" -- \
  "$skein" attention --method exact --qkv "$work/f64.safetensors" --out "$o"
expect wrong_rank 2 "tensor 'q' must have shape [batch, heads, n, p]" -- \
  "$skein" attention --method exact --qkv "$work/rank3.safetensors" --out "$o"
expect qkv_mismatch 2 "tensor 'k' has shape [2, 3, 30, 8], expected the shape of 'q' [2, 3, 37, 8]" -- \
  "$skein" attention --method exact --qkv "$work/k_shape.safetensors" --out "$o"
expect mask_shape 2 "tensor 'mask' has shape [2, 36], expected [batch, n] = [2, 37]" -- \
  "$skein" attention --method exact --qkv "$work/mask_shape.safetensors" --out "$o"
expect mask_dtype 2 "tensor 'mask' has dtype F64, expected I32, I64 or F32" -- \
  "$skein" attention --method exact --qkv "$work/mask_dtype.safetensors" --out "$o"
expect mask_hole 2 "row 1: real token at position 11 after padding" -- \
  "$skein" attention --method exact --qkv "$work/mask_hole.safetensors" --out "$o"
expect mask_empty 2 "row 0 has no real token" -- \
  "$skein" attention --method exact --qkv "$work/mask_empty.safetensors" --out "$o"
[ -e "$o" ] && fail "an error run wrote its output file"
expect help 0 "" -- "$skein" attention --help

[ "$failures" -eq 0 ] && echo "all attention CLI checks passed" || { echo "$failures attention CLI check(s) failed"; exit 1; }
