"""The PyTorch side of tools/bench/compare: the reference model (models/pytorch/reference.py,
exact softmax attention) with a skein model directory's weights, eager mode on the CPU.

  /usr/bin/python3 torch_runner.py --model DIR --inputs IN.safetensors --threads T

Speaks the runners' protocol (see skein_runner.cpp): after loading it prints
{"ready": true}, then answers `logits`, `time K` and `quit` with one JSON line each.
Timed: model(ids, mask) under torch.inference_mode() on tensors already in memory.
"""
import argparse
import json
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from models import ModelError, load_reference, safetensors_io  # noqa: E402


def status_bytes(field):
    """Bytes of a "VmXXX:  N kB" line of /proc/self/status."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    return 0


def reply(obj):
    print(json.dumps(obj), flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--inputs", required=True)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(1)
    try:
        model = load_reference(args.model)
    except (ModelError, OSError, KeyError) as e:
        print(f"torch_runner: {e}", file=sys.stderr)
        return 2
    inputs = safetensors_io.read(args.inputs)
    ids = torch.from_numpy(inputs["ids"].copy())
    mask = torch.from_numpy(inputs["mask"].copy())
    rss_after_load = status_bytes("VmRSS")
    reply({"ready": True, "torch": torch.__version__, "threads": torch.get_num_threads()})

    def forward():
        cpu_start, start = time.process_time(), time.perf_counter()
        with torch.inference_mode():
            logits, _ = model(ids, mask)
        return logits, (time.perf_counter() - start) * 1e3, (time.process_time() - cpu_start) * 1e3

    for line in sys.stdin:
        command = line.strip()
        if command == "logits":
            logits, ms, _ = forward()
            reply({"logits": logits.tolist(), "ms": ms})
        elif command.startswith("time "):
            runs = [forward()[1:] for _ in range(int(command[5:]))]
            reply({"ms": [r[0] for r in runs], "cpu_ms": [r[1] for r in runs]})
        elif command == "quit":
            reply({"vmhwm_bytes": status_bytes("VmHWM"), "rss_after_load_bytes": rss_after_load})
            return 0
        else:
            print(f"torch_runner: unknown command {command!r}", file=sys.stderr)
            return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
