"""Parity: skein's Skeinformer kernels against the PyTorch reference
(models/pytorch/skeinformer.py), given the same pilot and column indices.

  /usr/bin/python3 tests/parity/skeinformer_parity.py --tests build/tests/skein_tests \
      --work /tmp/skein_parity [--seed S] [--write-golden tests/data/skeinformer_parity.json]

Generates cases (every variant; several lengths, head sizes and feature
counts; pilot rows drawn with repetition, columns drawn by torch.multinomial
∝ the pilot's column weights, or uniformly for skein-uniform), computes the
reference in float64 from the float32 inputs, writes them as JSON and runs the
unit test "skeinformer parity with the PyTorch reference" on that file
(SKEIN_SKEINFORMER_PARITY=path), which injects the same indices into skein and
checks max |skein - reference| <= 1e-5 * max |reference| per case.
--write-golden also stores a small set of cases (GOLDEN_SHAPES) where the unit
test finds them by default.
"""
import argparse
import json
import os
import subprocess
import sys

import torch

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "models", "pytorch"))
from skeinformer import VARIANTS, column_weights, skeinformer_attention  # noqa: E402

TEST_CASE = "skeinformer parity with the PyTorch reference"


FULL_SHAPES = [(2, 8, 4), (37, 16, 8), (300, 32, 64), (513, 32, 256)]  # (m, p, features)
GOLDEN_SHAPES = [(2, 4, 4), (23, 8, 6), (40, 8, 12)]  # small enough to commit


def f32_list(t):
    return [float(f"{x:.9g}") for x in t.flatten().tolist()]


def make_cases(seed, shapes):
    gen = torch.Generator().manual_seed(seed)
    cases = []
    for variant in VARIANTS:
        for m, p, features in shapes:
            # float32 inputs (what skein sees); logits of a few units.
            q = (torch.randn(m, p, generator=gen) * 1.5).float()
            k = torch.randn(m, p, generator=gen).float()
            v = torch.randn(m, p, generator=gen).float()
            qd, kd, vd = q.double(), k.double(), v.double()
            d = min(features, m - 1)
            pilot = []
            if variant != "skein-uniform":
                pilot = torch.randint(0, m, (d,), generator=gen)
                _, weights = column_weights(qd, kd, vd, pilot)
                pilot = pilot.tolist()
            else:
                weights = torch.ones(m, dtype=torch.float64)
            columns = torch.multinomial(weights, d, replacement=False, generator=gen)
            columns = sorted(columns.tolist())
            out = skeinformer_attention(qd, kd, vd, variant, pilot=pilot, columns=columns,
                                        features=features)
            cases.append({
                "variant": variant, "m": m, "p": p, "features": features,
                # 9 significant digits round-trip a float32 exactly.
                "q": f32_list(q), "k": f32_list(k), "v": f32_list(v),
                "pilot": pilot, "columns": columns, "out": out.flatten().tolist(),
            })
    return cases


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tests", required=True, help="the skein_tests binary")
    parser.add_argument("--work", required=True, help="directory for the generated cases")
    parser.add_argument("--seed", type=int, default=20220710)
    parser.add_argument("--write-golden", help="also write the cases to this path")
    args = parser.parse_args()
    os.makedirs(args.work, exist_ok=True)
    path = os.path.join(args.work, "skeinformer_parity.json")
    cases = make_cases(args.seed, FULL_SHAPES)
    with open(path, "w") as f:
        json.dump({"seed": args.seed, "cases": cases}, f)
    if args.write_golden:
        with open(args.write_golden, "w") as f:
            json.dump({"seed": args.seed, "cases": make_cases(args.seed, GOLDEN_SHAPES)}, f)
    env = dict(os.environ, SKEIN_SKEINFORMER_PARITY=path)
    result = subprocess.run([args.tests, f"--test-case={TEST_CASE}", "--success=false"], env=env,
                            capture_output=True, text=True)
    sys.stdout.write(result.stdout[-4000:])
    sys.stderr.write(result.stderr[-4000:])
    if result.returncode != 0 or "1 passed" not in result.stdout:
        print(f"skeinformer parity FAILED ({len(cases)} cases, {path})")
        return 1
    print(f"skeinformer parity: {len(cases)} cases within 1e-5 relative ({path})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
