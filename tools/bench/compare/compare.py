#!/usr/bin/python3
"""skein vs. PyTorch vs. ONNX Runtime on the same model, inputs and thread count.

  make build && tools/bench/compare/compare.py                 # the full comparison
  tools/bench/compare/compare.py --quick                       # smoke run: n = 256, 1 round
  tools/bench/compare/compare.py --check-only --quick          # agreement only (the ctest)

Runtimes: (1) skein, exact attention; (2) skein, Skeinformer (--features, --seed);
(3) PyTorch eager: models/pytorch/reference.py with the same weights (/usr/bin/python3,
torch.set_num_threads(--threads)); (4) ONNX Runtime CPU (npm onnxruntime-node, installed by
setup.sh into WORK/node_modules) on torch.onnx.export of the reference model (opset 17).

Models: --model DIR (default models/untrained) for lengths up to its max_seq_len; longer
lengths (or all, with --synthetic) use a synthetic reference-layout model with the untrained
model's sizes and sinusoidal positions, written to WORK/models.

Per configuration (length n, batch b) one process per runtime loads the model and one input
batch (random byte ids, no padding), then: each computes logits once, and the exact paths
(skein-exact, PyTorch, ONNX Runtime) must agree within --tolerance (max |Δ logits|), else
the tool stops without timing (exit 1); then --warmup unmeasured runs each, then --rounds
rounds of one timed forward pass per runtime, in the order A B C D, then D C B A, ... so that
drift on a shared machine falls on every runtime alike. Reported: median wall time of the
forward pass on in-memory inputs, the median process CPU time of those runs (all threads;
on a loaded machine wall time includes waiting for a core, CPU time does not, but it does
include threads spinning at barriers), and each process's peak RSS (VmHWM of /proc/self/status,
read by the runner itself at the end: model, runtime libraries and all runs).
A runtime is skipped, with the reason, when its projected peak memory exceeds
--max-memory or its projected run time exceeds --max-run-seconds.
"""
import argparse
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import models  # noqa: E402
import report  # noqa: E402

EXACT, SKEIN, TORCH, ORT = "skein-exact", "skein-skeinformer", "pytorch", "onnxruntime"
RUNTIMES = [EXACT, SKEIN, TORCH, ORT]
EXACT_PATHS = [EXACT, TORCH, ORT]
GIB = 1 << 30
# Peak memory of PyTorch eager and ONNX Runtime, exact attention: about this many
# [batch, heads, n, n] float32 score matrices live at once (ONNX Runtime measured 4.3 GiB at
# n = 16384, batch 1, i.e. 2.1 of them), plus the process's base.
SCORE_MATRICES = 2.5
BASE_BYTES = {TORCH: 0.4 * GIB, ORT: 0.2 * GIB}


class CompareError(RuntimeError):
    """A one-line error that stops the tool (exit 2)."""


class DisagreementError(CompareError):
    """The exact paths' logits differ beyond the tolerance (exit 1)."""


def log(message):
    print(message, file=sys.stderr, flush=True)


def parse_list(text, flag):
    try:
        values = [int(v) for v in text.split(",")]
    except ValueError:
        raise CompareError(f"{flag}: expected comma-separated positive integers, got {text!r}")
    if not values or min(values) < 1:
        raise CompareError(f"{flag}: expected positive integers, got {text!r}")
    return values


def parse_bytes(text):
    scale = {"K": 1 << 10, "M": 1 << 20, "G": GIB}.get(text[-1:].upper(), 1)
    try:
        return int(float(text[:-1] if scale > 1 else text) * scale)
    except ValueError:
        raise CompareError(f"--max-memory: expected a size such as 12G, got {text!r}")


def mem_available():
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    return 0


def machine():
    with open("/proc/cpuinfo") as f:
        cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), "?")
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_gib": round(os.sysconf("SC_PAGE_SIZE") *
            os.sysconf("SC_PHYS_PAGES") / GIB, 1), "kernel": platform.release()}


def loadavg():
    with open("/proc/loadavg") as f:
        return [float(v) for v in f.read().split()[:3]]


def git_commit():
    try:
        return subprocess.run(["git", "-C", HERE, "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "?"


class Runner:
    """One runtime's process, speaking the runners' line protocol (see skein_runner.cpp)."""

    def __init__(self, name, argv, log_path, threads):
        self.name = name
        self.log_path = log_path
        env = dict(os.environ, OMP_NUM_THREADS=str(threads))
        self.stderr = open(log_path, "w")
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.stderr,
                                     text=True, env=env)
        self.hello = self.receive()

    def receive(self):
        """The next JSON object line (other output is skipped); raises if the process ended."""
        while True:
            line = self.proc.stdout.readline()
            if not line:
                self.proc.wait()
                self.stderr.flush()
                with open(self.log_path) as f:
                    tail = [s.strip() for s in f.read().splitlines() if s.strip()]
                reason = tail[-1] if tail else f"exit code {self.proc.returncode}"
                if self.proc.returncode and self.proc.returncode < 0:
                    reason = f"killed by signal {-self.proc.returncode} (out of memory?); {reason}"
                raise CompareError(f"{self.name} runner ended: {reason[:300]}")
            if line.startswith("{"):
                try:
                    return json.loads(line)
                except json.JSONDecodeError:
                    pass

    def ask(self, command):
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        return self.receive()

    def close(self):
        if self.proc.poll() is None:
            try:
                info = self.ask("quit")
            except (CompareError, BrokenPipeError):
                info = {}
            self.proc.stdin.close()
            self.proc.wait()
        else:
            info = {}
        self.stderr.close()
        return info

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.stderr.close()


def runner_argv(name, args, model_dir, onnx_path, inputs):
    common = ["--inputs", inputs, "--threads", str(args.threads)]
    if name in (EXACT, SKEIN):
        argv = [args.skein_runner, "--model", model_dir] + common
        if name == EXACT:
            return argv + ["--attention", "exact"]
        return argv + ["--attention", "skeinformer", "--features", str(args.features), "--seed", str(args.seed)]
    if name == TORCH:
        return [sys.executable, os.path.join(HERE, "torch_runner.py"), "--model", model_dir] + common
    return ["node", os.path.join(HERE, "ort_runner.js"), "--ort", args.work, "--onnx", onnx_path,
            "--mem-pattern", args.ort_mem_pattern] + common


def write_inputs(path, n, batch, vocab_size, seed):
    """Random byte-token ids (1 .. min(256, vocab - 1)), no padding."""
    rng = np.random.default_rng(seed)
    ids = rng.integers(1, min(257, vocab_size), size=(batch, n), dtype=np.int64)
    models.safetensors_io.write(path, {"ids": ids, "mask": np.ones((batch, n), dtype=np.float32)})


def skip_reason(name, n, batch, heads, args, history):
    """Why `name` does not run at (n, batch), or None."""
    if name in (TORCH, ORT):
        projected = SCORE_MATRICES * models.attention_bytes(batch, heads, n) + BASE_BYTES[name]
        if projected > args.max_memory:
            return (f"projected peak memory {projected / GIB:.0f} GiB (exact attention holds "
                    f"[{batch}, {heads}, {n}, {n}] float32 scores) exceeds --max-memory "
                    f"{args.max_memory / GIB:.0f} GiB")
    if name in history:  # time scales as n² · batch for the exact paths, n · batch for Skeinformer
        n0, b0, ms0 = history[name]
        power = 1 if name == SKEIN else 2
        projected_s = ms0 / 1e3 * (n / n0) ** power * batch / b0
        if projected_s > args.max_run_seconds:
            return (f"projected {projected_s:.0f} s per run (from {ms0 / 1e3:.2f} s at n={n0}, batch {b0}) "
                    f"exceeds --max-run-seconds {args.max_run_seconds:.0f}")
    return None


def max_abs_diff(a, b):
    return float(np.max(np.abs(np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64))))


def agreement(logits):
    """Max |Δ logits| for every pair of exact paths that ran, and Skeinformer vs. skein-exact."""
    pairs = {}
    present = [r for r in EXACT_PATHS if r in logits]
    for i, a in enumerate(present):
        for b in present[i + 1:]:
            pairs[f"{a} vs {b}"] = max_abs_diff(logits[a], logits[b])
    approx = None
    if SKEIN in logits and EXACT in logits:
        approx = max_abs_diff(logits[SKEIN], logits[EXACT])
    return pairs, approx


def run_config(n, batch, model_dir, onnx_path, args, runtimes, history, vocab, heads):
    """Checks agreement, then times; returns the configuration's result dictionary."""
    result = {"n": n, "batch": batch, "model": model_dir, "runtimes": {}}
    inputs = os.path.join(args.work, f"inputs-n{n}-b{batch}.safetensors")
    write_inputs(inputs, n, batch, vocab, seed=n * 1000 + batch)
    active = []
    for name in runtimes:
        reason = skip_reason(name, n, batch, heads, args, history)
        if reason:
            result["runtimes"][name] = {"skipped": reason}
            log(f"  {name}: skipped: {reason}")
        else:
            active.append(name)
    runners = {}
    try:
        for name in active:
            log_path = os.path.join(args.work, f"{name}.log")
            runners[name] = Runner(name, runner_argv(name, args, model_dir, onnx_path, inputs), log_path,
                                   args.threads)
        logits, first_ms = {}, {}
        for name in active:
            reply = runners[name].ask("logits")
            logits[name], first_ms[name] = reply["logits"], reply["ms"]
            log(f"  {name}: first run {reply['ms']:.1f} ms")
        pairs, approx = agreement(logits)
        worst = max(pairs.values(), default=0.0)
        result["agreement"] = {"max_abs_diff": pairs, "tolerance": args.tolerance,
                               "skeinformer_vs_exact": approx}
        log("  agreement: " + (", ".join(f"{k} {v:.2e}" for k, v in pairs.items()) or "fewer than 2 exact paths") +
            (f"; skeinformer vs exact {approx:.2e} (approximation, not checked)" if approx is not None else ""))
        if worst > args.tolerance or not math.isfinite(worst):
            raise DisagreementError(f"n={n} batch={batch}: exact paths disagree: max |Δ logits| {worst:.3e} > "
                               f"tolerance {args.tolerance:g}; not timing")
        if args.check_only:
            for name in active:
                result["runtimes"][name] = runners.pop(name).close()
            return result
        samples = {name: [] for name in active}
        cpu_samples = {name: [] for name in active}
        for name in active:
            if args.warmup:
                runners[name].ask(f"time {args.warmup}")
        rounds = args.rounds
        per_round_s = sum(first_ms.values()) / 1e3
        if not args.quick and per_round_s * rounds > args.config_seconds:
            rounds = max(3, int(args.config_seconds / per_round_s))
        for r in range(rounds):
            for name in (active if r % 2 == 0 else active[::-1]):
                time.sleep(0.05)  # let the previous runtime's spinning threads go idle
                reply = runners[name].ask("time 1")
                samples[name] += reply["ms"]
                cpu_samples[name] += reply["cpu_ms"]
        for name in active:
            info = runners.pop(name).close()
            med = statistics.median(samples[name])
            result["runtimes"][name] = {"median_ms": med, "min_ms": min(samples[name]),
                                        "max_ms": max(samples[name]), "samples_ms": samples[name],
                                        "cpu_median_ms": statistics.median(cpu_samples[name]),
                                        "first_ms": first_ms[name], **info}
            history[name] = (n, batch, med)
            log(f"  {name}: median {med:.2f} ms over {len(samples[name])}, peak RSS "
                f"{info.get('vmhwm_bytes', 0) / GIB:.2f} GiB")
        return result
    finally:
        for runner in runners.values():
            runner.kill()


def ensure_ort(args):
    """Runs setup.sh; returns a description, or None when ONNX Runtime is unavailable and optional."""
    if args.ort == "off":
        return None
    proc = subprocess.run(["bash", os.path.join(HERE, "setup.sh"), args.work], capture_output=True, text=True)
    if proc.returncode == 0:
        for line in proc.stderr.splitlines():
            log(line)
        return proc.stdout.strip().splitlines()[-1]
    last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
    if args.ort == "auto":
        log(f"compare: SKIPPED onnxruntime: setup.sh failed: {last}")
        return None
    raise CompareError(f"setup.sh {args.work} failed: {last}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], epilog="See the module docstring and "
                                     "docs/PERFORMANCE.md.", formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build", default="build", help="skein build directory (default: build)")
    parser.add_argument("--skein-runner", help="the compare_skein_runner binary (default: BUILD/tools/bench/...)")
    parser.add_argument("--work", help="models, ONNX files, inputs, node_modules (default: BUILD/compare)")
    parser.add_argument("--model", default=os.path.join(models.REPO, "models", "untrained"), help="model directory")
    parser.add_argument("--synthetic", action="store_true", help="the synthetic model at every length")
    parser.add_argument("--lengths", default="1024,4096,16384,65536")
    parser.add_argument("--batches", default="1,8")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=5, help="timed rounds (one run per runtime each)")
    parser.add_argument("--warmup", type=int, default=1, help="unmeasured runs after the agreement run")
    parser.add_argument("--config-seconds", type=float, default=150,
                        help="fewer rounds (at least 3) when one configuration would take longer")
    parser.add_argument("--features", type=int, default=256, help="Skeinformer features")
    parser.add_argument("--seed", type=int, default=0, help="Skeinformer seed")
    parser.add_argument("--tolerance", type=float, default=1e-4, help="max |Δ logits| between exact paths")
    parser.add_argument("--max-memory", default=None, help="skip runtimes projected above it (default: 45%% of "
                        "MemAvailable; PyTorch and ONNX Runtime processes coexist)")
    parser.add_argument("--max-run-seconds", type=float, default=60, help="skip runtimes projected slower")
    parser.add_argument("--ort", choices=["require", "auto", "off"], default="require",
                        help="auto: skip ONNX Runtime when setup.sh cannot install it")
    parser.add_argument("--ort-mem-pattern", choices=["on", "off"], default="off",
                        help="ONNX Runtime's enableMemPattern (off: same speed, half the memory here)")
    parser.add_argument("--no-torch", action="store_true", help="leave PyTorch out")
    parser.add_argument("--quick", action="store_true", help="smoke run: n = 256, 1 round, no warm-up")
    parser.add_argument("--check-only", action="store_true", help="agreement check only, no timing")
    parser.add_argument("--json", action="store_true", help="print JSON instead of the table")
    parser.add_argument("--json-out", help="also write the JSON to this file")
    parser.add_argument("--svg", help="write the chart to this file (default: WORK/compare.svg)")
    args = parser.parse_args()
    try:
        return compare(args)
    except CompareError as e:
        log(f"compare: {e}")
        return 1 if isinstance(e, DisagreementError) else 2


def compare(args):
    args.work = os.path.abspath(args.work or os.path.join(args.build, "compare"))
    args.skein_runner = args.skein_runner or os.path.join(args.build, "tools", "bench", "compare_skein_runner")
    if not os.access(args.skein_runner, os.X_OK):
        raise CompareError(f"{args.skein_runner}: not found; build it: cmake --build {args.build} "
                           f"--target compare_skein_runner")
    lengths = [256] if args.quick else parse_list(args.lengths, "--lengths")
    batches = parse_list(args.batches, "--batches")
    if args.quick:
        args.rounds, args.warmup = 1, 0
    args.max_memory = parse_bytes(args.max_memory) if args.max_memory else int(0.45 * mem_available())
    os.makedirs(args.work, exist_ok=True)
    load_before = loadavg()
    ort_version = ensure_ort(args)
    runtimes = [EXACT, SKEIN] + ([] if args.no_torch else [TORCH]) + ([ORT] if ort_version else [])

    base_max = models.reference_config(args.model)["max_seq_len"]
    long_model = None
    if args.synthetic or max(lengths) > base_max:
        long_n = max(lengths)
        long_model = models.make_synthetic(os.path.join(args.work, "models", f"synthetic-{long_n}"), long_n)
    configs = []
    for n in lengths:
        model_dir = long_model if (args.synthetic or n > base_max) else os.path.abspath(args.model)
        onnx_path = None
        if ORT in runtimes:
            onnx_path = os.path.join(args.work, "models", os.path.basename(model_dir.rstrip("/")) + ".onnx")
            if models.export_onnx(model_dir, onnx_path):
                log(f"compare: exported {model_dir} to {onnx_path}")
        for batch in batches:
            configs.append((n, batch, model_dir, onnx_path))

    history, results = {}, []
    for n, batch, model_dir, onnx_path in configs:
        config = models.reference_config(model_dir)
        log(f"compare: n={n} batch={batch} model={model_dir}")
        results.append(run_config(n, batch, model_dir, onnx_path, args, runtimes, history,
                                  config["vocab_size"], config["num_head"]))
    doc = {
        "machine": machine(), "load_before": load_before, "load_after": loadavg(), "commit": git_commit(),
        "threads": args.threads, "rounds": args.rounds, "warmup": args.warmup, "features": args.features,
        "seed": args.seed, "tolerance": args.tolerance, "onnxruntime": ort_version,
        "ort_session": {"executionMode": "sequential", "intraOpNumThreads": args.threads, "interOpNumThreads": 1,
                        "graphOptimizationLevel": "all", "enableCpuMemArena": True,
                        "enableMemPattern": args.ort_mem_pattern == "on"},
        "torch": models.torch.__version__, "check_only": args.check_only, "configs": results,
    }
    if args.json_out:
        with open(args.json_out, "w") as f:
            json.dump(doc, f, indent=1)
    if args.json:
        print(json.dumps(doc, indent=1))
    else:
        print(report.table(doc))
    if not args.check_only:
        svg = args.svg or os.path.join(args.work, "compare.svg")
        with open(svg, "w") as f:
            f.write(report.svg(doc))
        log(f"compare: chart written to {svg}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
