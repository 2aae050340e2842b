"""Accuracy of a model measured by the engine: runs `skein classify --format json`
over a directory tree DIR/<class>/<file> (data_code.py writes CACHE/test and
CACHE/val this way; a class directory's name is its label with "+" spelled
"p", as C++ -> Cpp) and compares each predicted label with the directory's.

  /usr/bin/python3 models/pytorch/eval_engine.py --skein build/skein --model models/code-lang \
      --data /work/cache/code-lang/test [--per-package 8] [-- --attention skeinformer --features 64]

Arguments after "--" go to skein classify unchanged. Prints overall accuracy,
per class accuracy and the confusion pairs.
"""
import argparse
import collections
import json
import os
import subprocess
import sys


def label_of_dir(name):
    return name.replace("pp", "++") if name.endswith("pp") else name


def main():
    argv = sys.argv[1:]
    extra = []
    if "--" in argv:
        extra = argv[argv.index("--") + 1:]
        argv = argv[:argv.index("--")]
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--skein", default="build/skein")
    parser.add_argument("--model", required=True)
    parser.add_argument("--data", required=True, help="DIR/<class>/<file> tree")
    parser.add_argument("--chunk", type=int, default=256, help="files per skein invocation")
    parser.add_argument("--per-package", type=int, default=0,
                        help="only the first N files (by name) of each package in each class (0: all)")
    args = parser.parse_args(argv)

    files = []
    for cls in sorted(os.listdir(args.data)):
        d = os.path.join(args.data, cls)
        taken = collections.Counter()
        for f in sorted(os.listdir(d)):
            package = f.split("__")[0]
            taken[package] += 1
            if args.per_package == 0 or taken[package] <= args.per_package:
                files.append((os.path.join(d, f), label_of_dir(cls)))
    truth = dict(files)
    per = collections.defaultdict(lambda: [0, 0])
    confusions = collections.Counter()
    for i in range(0, len(files), args.chunk):
        chunk = [path for path, _ in files[i:i + args.chunk]]
        cmd = [args.skein, "classify", "--model", args.model, "--format", "json"] + extra + chunk
        out = subprocess.run(cmd, capture_output=True, text=True)
        if out.returncode != 0:
            sys.exit(f"eval_engine: {' '.join(cmd[:8])} ... failed ({out.returncode}): {out.stderr.strip()[:500]}")
        for r in json.loads(out.stdout):
            want = truth[r["file"]]
            per[want][0] += int(r["label"] == want)
            per[want][1] += 1
            if r["label"] != want:
                confusions[(want, r["label"])] += 1
        done = min(i + args.chunk, len(files))
        print(f"  {done}/{len(files)} files", file=sys.stderr, flush=True)
    correct = sum(c for c, _ in per.values())
    total = sum(n for _, n in per.values())
    macro = sum(a / n for a, n in per.values()) / len(per)
    print(f"accuracy {correct / total:.4f} ({correct}/{total}), class-averaged {macro:.4f}, "
          f"model {args.model} {' '.join(extra)}")
    print("per class: " + ", ".join(f"{c} {a / n:.3f} ({n})" for c, (a, n) in sorted(per.items())))
    print("top confusions (true -> predicted): "
          + ", ".join(f"{t}->{p} {n}" for (t, p), n in confusions.most_common(8)))


if __name__ == "__main__":
    main()
