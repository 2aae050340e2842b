#!/usr/bin/env bash
# `skein profile`'s output formats against their documentation (docs/PROFILING.md):
# the JSON and CSV hold exactly the documented fields with sane values, the
# Chrome trace has one complete event per node and run carrying shapes and
# bytes, the SVG is well-formed XML with one series per attention method in
# each panel, and --max-memory refuses naming the planned bytes.
# usage: profile_outputs_test.sh SKEIN_BINARY DOCS_PROFILING_MD
set -u
skein=$1
doc=$2
py=/usr/bin/python3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0
fail() { echo "FAIL $*"; failures=$((failures + 1)); }

syn="dim=16,hidden=32,heads=2,layers=2"
methods="exact,skeinformer,vmean"
if "$skein" profile --synthetic "$syn" --seq-len 32,64 --attention "$methods" --features 8 \
    --repeat 2 --warmup 0 --json --trace "$work/trace.json" --svg "$work/plot.svg" \
    >"$work/out.json" 2>"$work/err"; then
  echo "ok   profile --json --trace --svg ran"
else
  fail "profile --json --trace --svg: exit $?"; cat "$work/err"
fi
[ "$(grep -c '^\[[0-9]*/6\] n=' "$work/err")" -eq 6 ] || { fail "progress: expected 6 lines on stderr"; cat "$work/err"; }
"$skein" profile --synthetic "$syn" --seq-len 32,64 --attention exact,vmean --repeat 1 \
  --warmup 0 --csv >"$work/out.csv" 2>"$work/err" || { fail "profile --csv: exit $?"; cat "$work/err"; }

"$py" - "$doc" "$work/out.json" "$work/out.csv" "$work/trace.json" "$work/plot.svg" <<'PY' || fail "output formats (above)"
import csv, json, re, sys
import xml.etree.ElementTree as ET

doc_path, json_path, csv_path, trace_path, svg_path = sys.argv[1:]
problems = []
def check(ok, what):
    if not ok:
        problems.append(what)

# The documented names: the first backticked word of each table row, per section.
sections, current = {}, None
for line in open(doc_path, encoding="utf-8"):
    if line.startswith("## ") or line.endswith(" objects:\n"):
        current = line.strip("# \n")
        sections[current] = []
    m = re.match(r"\| `([a-z0-9_]+)` \|", line)
    if m and current:
        sections[current].append(m.group(1))
def documented(prefix):
    names = [v for k, v in sections.items() if k.startswith(prefix)]
    assert len(names) == 1 and names[0], f"docs: no field table under '{prefix}'"
    return set(names[0])

runs = json.load(open(json_path))
check(len(runs) == 6, f"json: {len(runs)} configurations, expected 6")
check([(r["seq_len"], r["attention"]) for r in runs] ==
      [(n, m) for n in (32, 64) for m in ("exact", "skeinformer", "vmean")], "json: sweep order")
for r in runs:
    check(set(r) == documented("JSON"), f"json fields {sorted(set(r) ^ documented('JSON'))}")
    check(r["runs"] == 2 and r["batch"] == 1 and r["threads"] >= 1, "json: runs/batch/threads")
    check(set(r["total"]) == {"median_ms", "p90_ms", "min_ms"}, "json: total")
    check(0 <= r["total"]["min_ms"] <= r["total"]["median_ms"] <= r["total"]["p90_ms"], "json: total order")
    check(r["arena_bytes"] > 0 and r["weight_bytes"] > 0, "json: bytes")
    check([l["layer"] for l in r["layers"]][:3] == ["embed", "0", "1"], "json: layer labels")
    for l in r["layers"]:
        check(set(l) == documented("Layer objects"), f"json layer fields {sorted(set(l) ^ documented('Layer objects'))}")
        check(0 <= l["min_ms"] <= l["median_ms"] <= l["p90_ms"], "json: layer latency order")
        check(0 <= l["peak_workspace_bytes"] <= l["peak_live_bytes"] <= r["arena_bytes"], "json: layer bytes")
    for n in r["nodes"]:
        check(set(n) == documented("Node objects"), f"json node fields {sorted(set(n) ^ documented('Node objects'))}")
    attn = [n for n in r["nodes"] if n["op"] == "attention"]
    check(len(attn) == 2, "json: two attention nodes")
    # Fused runs: the norm and q, k, v; the output projection to the next
    # layer's q, k, v; the last layer to the final norm. Never attention.
    fused = [n["fused_run"] for n in r["nodes"]]
    check(sorted(set(fused) - {-1}) == [0, 1, 2] and all(n["fused_run"] == -1 for n in attn),
          f"json: fused runs {fused}")
    check(r["row_fusion"] is True, "json: row_fusion")
    # exact attention reports its FLOPs: 4 n^2 p per head
    if r["attention"] == "exact":
        check(attn[0]["flops"] == 4 * r["seq_len"] ** 2 * 8 * 2, f"json: exact flops {attn[0]['flops']}")

rows = list(csv.DictReader(open(csv_path)))
check(rows and list(rows[0]) == [c for c in sections["CSV (`--csv`)"]], "csv: header = documented columns in order")
layers = len(runs[0]["layers"])
check(len(rows) == 2 * 2 * layers, f"csv: {len(rows)} rows, expected 2 lengths x 2 methods x {layers} layers")
for row in rows:
    check(float(row["min_ms"]) <= float(row["median_ms"]) <= float(row["p90_ms"]), "csv: latency order")
    check(int(row["peak_live_bytes"]) >= int(row["peak_workspace_bytes"]) >= 0, "csv: bytes")

trace = json.load(open(trace_path))
events = trace["traceEvents"]
complete = [e for e in events if e["ph"] == "X"]
names = [e for e in events if e["ph"] == "M" and e["name"] == "process_name"]
check(len(names) == 6, "trace: one process per configuration")
expected = sum(r["runs"] * len(r["nodes"]) for r in runs)
check(len(complete) == expected, f"trace: {len(complete)} complete events, expected {expected}")
for e in complete:
    check(all(k in e for k in ("name", "cat", "ts", "dur", "pid", "tid")), "trace: event keys")
    check(e["dur"] >= 0 and e["ts"] >= 0, "trace: times")
    check(set(e["args"]) == documented("Chrome trace"), f"trace args {sorted(set(e['args']) ^ documented('Chrome trace'))}")
    rows_, width = e["args"]["output_shape"]
    check(e["args"]["output_bytes"] == rows_ * width * 4, "trace: output bytes")
for pid, r in enumerate(runs, start=1):
    events_of = [e for e in complete if e["pid"] == pid and e["args"]["run"] == 0]
    check([e["name"] for e in events_of] == [n["name"] for n in r["nodes"]], "trace: node order")
    by_name = {e["name"]: e for e in events_of}
    attn = by_name["attn-0"]["args"]
    n = r["seq_len"]
    check(attn["output_shape"] == [n, 16] and attn["input_shapes"] == [[n, 16]] * 3,
          f"trace: attention shapes {attn['input_shapes']} -> {attn['output_shape']}")
    check(by_name["embed"]["args"]["input_shapes"] == [], "trace: embedding reads ids")
    check(any(s == [258, 16] for s in by_name["embed"]["args"]["weight_shapes"].values()),
          "trace: embedding weight shape")

ns = {"s": "http://www.w3.org/2000/svg"}
root = ET.parse(svg_path).getroot()   # raises on malformed XML
check(root.tag == "{http://www.w3.org/2000/svg}svg", "svg: root element")
panels = root.findall("s:g[@class='panel']", ns)
check(len(panels) == 2, f"svg: {len(panels)} panels, expected 2")
for p in panels:
    series = [g.get("data-name") for g in p.findall("s:g[@class='series']", ns)]
    check(series == ["exact", "skeinformer", "vmean"], f"svg: series {series}")
    for g in p.findall("s:g[@class='series']", ns):
        lines = g.findall("s:polyline", ns)
        check(len(lines) == 1 and len(lines[0].get("points").split()) == 2, "svg: one line of 2 points")

for p in sorted(set(problems)):
    print("  " + p)
sys.exit(1 if problems else 0)
PY
[ "$failures" -eq 0 ] && echo "ok   json, csv, trace and svg fields"

# Refusal before running, naming the planned bytes; one line, exit 2.
"$skein" profile --synthetic "$syn" --seq-len 64 --max-memory 1K >"$work/out" 2>"$work/err"
code=$?
if [ "$code" -ne 2 ] || ! grep -qE "run needs a [0-9]+-byte activation arena for 64 tokens, more than the session's limit of 1024 bytes" "$work/err"; then
  fail "max-memory refusal: exit $code"; cat "$work/err"
else
  echo "ok   max-memory refusal names the planned bytes"
fi
[ -s "$work/out" ] && fail "max-memory refusal: printed a report"

# --svg to an unwritable place: one-line error naming the path.
"$skein" profile --synthetic "$syn" --seq-len 16 --repeat 1 --svg "$work/no/such/dir/p.svg" >/dev/null 2>"$work/err"
code=$?
{ [ "$code" -eq 2 ] && grep -q "no/such/dir/p.svg: cannot open" "$work/err"; } || { fail "svg unwritable: exit $code"; cat "$work/err"; }

[ "$failures" -eq 0 ] && echo "all profile output checks passed" || { echo "$failures profile output check(s) failed"; exit 1; }
