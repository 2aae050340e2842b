"""The table (Markdown) and the chart (SVG) of tools/bench/compare's results."""
import math
from xml.sax.saxutils import escape

GIB = 1 << 30
COLORS = {"skein-exact": "#1f77b4", "skein-skeinformer": "#2ca02c", "pytorch": "#d62728",
          "onnxruntime": "#9467bd"}


def fmt_ms(ms):
    return f"{ms / 1e3:.2f} s" if ms >= 1e4 else f"{ms:.3g} ms" if ms < 100 else f"{ms:.0f} ms"


def fmt_ratio(value, base):
    if base is None:
        return "–"
    r = value / base
    return f"{r:.2f}×" if r < 10 else f"{r:.0f}×" if r >= 100 else f"{r:.1f}×"


def table(doc):
    """One Markdown row per configuration and runtime; ratios are this runtime's median time
    divided by skein-exact's and skein-skeinformer's in the same configuration."""
    m = doc["machine"]
    lines = [f"{m['cpu']}, {m['cores']} cores; {doc['threads']} threads per runtime; "
             f"load average {doc['load_before'][0]:.2f} before, {doc['load_after'][0]:.2f} after; commit "
             f"{doc['commit']}; PyTorch {doc['torch']}; {doc['onnxruntime'] or 'ONNX Runtime not run'}", ""]
    timed = not doc["check_only"]
    if timed:
        lines += ["| n | batch | runtime | median | min–max | CPU ms/run | peak RSS | ÷ skein-exact | "
                  "÷ skein-skeinformer |",
                  "|---:|---:|---|---:|---:|---:|---:|---:|---:|"]
    else:
        lines += ["| n | batch | runtime | peak RSS |", "|---:|---:|---|---:|"]
    notes = []
    for c in doc["configs"]:
        rts = c["runtimes"]
        base = {k: rts.get(k, {}).get("median_ms") for k in ("skein-exact", "skein-skeinformer")}
        for name in sorted(rts, key=lambda k: list(COLORS).index(k) if k in COLORS else len(COLORS)):
            r = rts[name]
            if "skipped" in r:
                notes.append(f"n={c['n']} batch {c['batch']}, {name}: skipped: {r['skipped']}")
                cells = [str(c["n"]), str(c["batch"]), name, "skipped"] + ([""] * 5 if timed else [])
                lines.append("| " + " | ".join(cells) + " |")
                continue
            rss = f"{r.get('vmhwm_bytes', 0) / GIB:.2f} GiB"
            if timed:
                cells = [str(c["n"]), str(c["batch"]), name, fmt_ms(r["median_ms"]),
                         f"{fmt_ms(r['min_ms'])}–{fmt_ms(r['max_ms'])}", fmt_ms(r["cpu_median_ms"]), rss,
                         fmt_ratio(r["median_ms"], base["skein-exact"]),
                         fmt_ratio(r["median_ms"], base["skein-skeinformer"])]
            else:
                cells = [str(c["n"]), str(c["batch"]), name, rss]
            lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    for c in doc["configs"]:
        a = c.get("agreement")
        if a:
            pairs = ", ".join(f"{k} {v:.1e}" for k, v in a["max_abs_diff"].items()) or "fewer than 2 exact paths ran"
            sk = a["skeinformer_vs_exact"]
            lines.append(f"n={c['n']} batch {c['batch']}: max |Δ logits| {pairs} (tolerance {a['tolerance']:g})"
                         + (f"; Skeinformer vs exact {sk:.1e}" if sk is not None else ""))
    lines += notes
    return "\n".join(lines)


def log_ticks(lo, hi):
    """Decade values covering [lo, hi]."""
    return [10.0 ** e for e in range(math.floor(math.log10(lo)), math.ceil(math.log10(hi)) + 1)]


def panel(x0, y0, w, h, title, series, unit_label, fmt):
    """A log-log line chart: series is name -> [(n, value)]."""
    points = [p for pts in series.values() for p in pts]
    out = [f'<text x="{x0 + w / 2}" y="{y0 - 8}" text-anchor="middle" font-weight="bold">{escape(title)}</text>',
           f'<rect x="{x0}" y="{y0}" width="{w}" height="{h}" fill="none" stroke="#888"/>']
    if not points:
        return out
    xs = log_ticks(min(p[0] for p in points), max(p[0] for p in points))
    xs = [x for x in (256, 1024, 4096, 16384, 65536, 262144) if min(p[0] for p in points) <= x <=
          max(p[0] for p in points)] or xs
    ys = log_ticks(min(p[1] for p in points), max(p[1] for p in points))
    lx0, lx1 = math.log(xs[0]), math.log(xs[-1]) if xs[-1] > xs[0] else math.log(xs[0]) + 1
    ly0, ly1 = math.log(ys[0]), math.log(ys[-1]) if ys[-1] > ys[0] else math.log(ys[0]) + 1

    def px(x):
        return x0 + 10 + (w - 20) * (math.log(x) - lx0) / (lx1 - lx0)

    def py(y):
        return y0 + h - (h * (math.log(y) - ly0) / (ly1 - ly0))

    for y in ys:
        out.append(f'<line x1="{x0}" y1="{py(y):.1f}" x2="{x0 + w}" y2="{py(y):.1f}" stroke="#ddd"/>')
        out.append(f'<text x="{x0 - 4}" y="{py(y) + 4:.1f}" text-anchor="end">{escape(fmt(y))}</text>')
    for x in xs:
        out.append(f'<text x="{px(x):.1f}" y="{y0 + h + 14}" text-anchor="middle">{x}</text>')
    out.append(f'<text x="{x0 + w / 2}" y="{y0 + h + 30}" text-anchor="middle">n (tokens){escape(unit_label)}</text>')
    for name, pts in series.items():
        pts = sorted(pts)
        color = COLORS.get(name, "#000")
        if len(pts) > 1:
            path = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in pts)
            out.append(f'<polyline points="{path}" fill="none" stroke="{color}" stroke-width="2"/>')
        for x, y in pts:
            out.append(f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="3" fill="{color}"/>')
    return out


def svg(doc):
    """Median time and peak RSS against n, one panel per batch size, log-log axes."""
    batches = sorted({c["batch"] for c in doc["configs"]})
    w, h, left, top, gap = 300, 200, 70, 50, 110
    width = left + len(batches) * (w + gap)
    height = top + 2 * (h + 80) + 30
    body = []
    for i, batch in enumerate(batches):
        times, rss = {}, {}
        for c in doc["configs"]:
            if c["batch"] != batch:
                continue
            for name, r in c["runtimes"].items():
                if "median_ms" in r:
                    times.setdefault(name, []).append((c["n"], r["median_ms"]))
                    rss.setdefault(name, []).append((c["n"], r["vmhwm_bytes"] / GIB))
        x0 = left + i * (w + gap)
        body += panel(x0, top, w, h, f"median forward time, batch {batch}", times, "",
                      lambda ms: f"{ms:g} ms" if ms < 1000 else f"{ms / 1e3:g} s")
        body += panel(x0, top + h + 80, w, h, f"peak RSS, batch {batch}", rss, "",
                      lambda g: f"{g:g} GiB")
    legend_y = height - 12
    for j, (name, color) in enumerate(COLORS.items()):
        lx = left + j * 150
        body.append(f'<rect x="{lx}" y="{legend_y - 9}" width="12" height="10" fill="{color}"/>')
        body.append(f'<text x="{lx + 16}" y="{legend_y}">{escape(name)}</text>')
    title = (f"skein vs. PyTorch vs. ONNX Runtime, {doc['threads']} threads, {doc['machine']['cpu']}, "
             f"load average {doc['load_before'][0]:.1f} → {doc['load_after'][0]:.1f} "
             f"on {doc['machine']['cores']} cores")
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11">\n'
            f'<rect width="100%" height="100%" fill="white"/>\n'
            f'<text x="{width / 2}" y="18" text-anchor="middle" font-size="13">{escape(title)}</text>\n'
            + "\n".join(body) + "\n</svg>\n")
