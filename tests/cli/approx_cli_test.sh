#!/usr/bin/env bash
# `skein approx` on a small configuration: every registered method but exact
# appears (the list comes from the registry), the JSON/CSV hold their fields
# and agree, errors are finite and non-negative, a method without a feature count
# has one value at every d, Skeinformer's error is positive and falls as d grows toward n, the
# SVG is well-formed with one series per method per panel, and bad input exits
# 2 with one line.  usage: approx_cli_test.sh SKEIN_BINARY TEXT_FILE
set -u
skein=$1
text=$2
py=/usr/bin/python3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0
fail() { echo "FAIL $*"; failures=$((failures + 1)); }

args=(--text "$text" --seq-len 64,128 --features 4,16,60 --trials 4 --seed 3 --threads 2)
"$skein" approx "${args[@]}" --json --svg "$work/plot.svg" >"$work/out.json" 2>"$work/err" ||
  { fail "approx --json: exit $?"; cat "$work/err"; }
[ "$(grep -c '^n = [0-9]*: trial [0-9]*/4' "$work/err")" -eq 8 ] || { fail "progress lines"; cat "$work/err"; }
"$skein" approx "${args[@]}" --csv >"$work/out.csv" 2>/dev/null || fail "approx --csv: exit $?"
"$skein" approx "${args[@]}" >"$work/out.txt" 2>/dev/null || fail "approx table: exit $?"
grep -q "^skeinformer .* ± " "$work/out.txt" || { fail "table"; cat "$work/out.txt"; }
# The registry's names, from its own error message.
"$skein" attention --method no-such-method --qkv /dev/null --out "$work/x" 2>"$work/reg" >/dev/null

"$py" - "$work/out.json" "$work/out.csv" "$work/plot.svg" "$work/reg" <<'PY' || fail "approx outputs (above)"
import csv, json, math, re, sys
import xml.etree.ElementTree as ET

json_path, csv_path, svg_path, reg_path = sys.argv[1:]
problems = []
def check(ok, what):
    if not ok:
        problems.append(what)

doc = json.load(open(json_path))
for key in ("text", "text_bytes", "dim", "head_dim", "qk_gain", "trials", "seed", "threads", "rows", "skipped"):
    check(key in doc, f"json: no '{key}'")
rows = doc["rows"]
methods = list(dict.fromkeys(r["method"] for r in rows))
reg = re.search(r"known methods: ([^)]*)\)", open(reg_path).read())
check(reg is not None, "could not read the registry's method list")
if reg:
    registered = [m for m in reg.group(1).split(", ") if m != "exact"]
    skipped = [s["method"] for s in doc["skipped"]]
    check(sorted(methods + skipped) == sorted(registered), f"methods {methods} + skipped {skipped} != registry {registered}")
check("skeinformer" in methods and "vmean" in methods and "exact" not in methods, f"methods {methods}")
check(len(rows) == 2 * len(methods) * 3, f"json: {len(rows)} rows")
by = {(r["n"], r["method"], r["features"]): r for r in rows}
for r in rows:
    check(set(r) == {"n", "method", "features", "takes_features", "trials", "mean", "stderr", "min", "max"}, f"json row fields {sorted(r)}")
    check(r["trials"] == 4, "json: trials")
    # >= 0: a method can be exact at these small n (BigBird's blocks cover n = 128).
    check(math.isfinite(r["mean"]) and 0 <= r["min"] <= r["mean"] <= r["max"], f"json: {r}")
    check(r["stderr"] >= 0, "json: stderr")
for n in (64, 128):
    v = [by[(n, "vmean", d)]["mean"] for d in (4, 16, 60)]
    check(v[0] == v[1] == v[2] and not by[(n, "vmean", 4)]["takes_features"], "vmean: one value at every d")
    s = [by[(n, "skeinformer", d)]["mean"] for d in (4, 16, 60)]
    check(s[2] > 0, "skeinformer: zero error")
    check(s[0] > s[1] > s[2], f"skeinformer error does not fall with d at n={n}: {s}")

table = list(csv.DictReader(open(csv_path)))
check(len(table) == len(rows), "csv: row count")
for c in table:
    r = by[(int(c["n"]), c["method"], int(c["features"]))]
    check(abs(float(c["mean"]) - r["mean"]) <= 1e-5 * r["mean"], "csv and json disagree")

ns = {"s": "http://www.w3.org/2000/svg"}
root = ET.parse(svg_path).getroot()
panels = root.findall("s:g[@class='panel']", ns)
check([p.get("data-title") for p in panels] == ["n = 64", "n = 128"], "svg: panels")
for p in panels:
    series = [g.get("data-name") for g in p.findall("s:g[@class='series']", ns)]
    check(series == methods, f"svg: series {series}")
for p in sorted(set(problems)):
    print("  " + p)
sys.exit(1 if problems else 0)
PY
[ "$failures" -eq 0 ] && echo "ok   approx json, csv, table and svg"

# expect NAME FRAGMENT -- COMMAND...: exit 2 and one line naming the problem
expect() {
  local name=$1 fragment=$2
  shift 3
  "$@" >/dev/null 2>"$work/err"
  local got=$?
  if [ "$got" -ne 2 ] || ! grep -qF -- "$fragment" "$work/err" || [ "$(wc -l <"$work/err")" -ne 1 ]; then
    fail "$name: exit $got"; cat "$work/err"
  else
    echo "ok   $name"
  fi
}
expect no_text "missing --text FILE" -- "$skein" approx
expect short_text "fewer than the longest --seq-len 100000" -- "$skein" approx --text "$text" --seq-len 100000
expect missing_text "cannot open the text file" -- "$skein" approx --text "$work/none.txt"
expect unknown_method "unknown attention method \"nope\"" -- "$skein" approx --text "$text" --methods nope
expect bad_features "--features: expected a positive integer, got '0'" -- "$skein" approx --text "$text" --features 0,8

[ "$failures" -eq 0 ] && echo "all approx checks passed" || { echo "$failures approx check(s) failed"; exit 1; }
