"""The project's generator of ListOps sequences, following the Long Range Arena
description (Tay et al. 2021, and LRA's listops generator): nested expressions
of the operators MAX, MIN, MED (median, rounded down) and SM (sum modulo 10)
over the digits 0-9, at most 10 levels deep, each operator with 2 to 10
arguments; a node below the depth limit is an operator with probability 0.25,
else a digit. Whole expressions of 501 to 1999 tokens are kept (rejection
sampling, as LRA: its train, validation and test splits all use these
lengths). The label is the expression's value, 0-9.

The text form is LRA's with the parentheses dropped, whitespace-separated
tokens: `[MAX 2 9 [MIN 4 7 ] 0 ]`. Vocabulary (model.json's `words` tokenizer):
<pad> [MAX [MIN [MED [SM ] 0 1 ... 9.

  /usr/bin/python3 models/pytorch/data_listops.py [--cache /work/cache/listops]

writes CACHE/{train,val,test,short}.tsv ("label<TAB>tokens" lines) and the
engine's test tree CACHE/test/<label>/<index>.txt (eval_engine.py reads it).
`short` is a curriculum split for training only: the same distribution with
lengths 20-500. Each split has its own fixed seed, and expressions are
deduplicated across splits (test first, then validation).
"""
import argparse
import os
import random
import statistics

OPERATORS = ["[MAX", "[MIN", "[MED", "[SM"]
END = "]"
VOCAB = ["<pad>"] + OPERATORS + [END] + [str(d) for d in range(10)]
MAX_DEPTH = 10
MAX_ARGS = 10
OPERATOR_P = 0.25
LENGTHS = (501, 1999)   # LRA keeps 500 < length < 2000
SHORT_LENGTHS = (20, 500)
SPLITS = {"test": (2000, 11, LENGTHS), "val": (1000, 12, LENGTHS), "train": (60000, 13, LENGTHS),
          "short": (30000, 14, SHORT_LENGTHS)}


def generate(rng, depth=1):
    """A random expression as a token list, as LRA's generate_tree: below MAX_DEPTH a node is an
    operator with probability OPERATOR_P, at MAX_DEPTH always a digit."""
    if depth >= MAX_DEPTH or rng.random() > OPERATOR_P:
        return [str(rng.randrange(10))]
    tokens = [rng.choice(OPERATORS)]
    for _ in range(rng.randint(2, MAX_ARGS)):
        tokens += generate(rng, depth + 1)
    tokens.append(END)
    return tokens


def apply(op, args):
    if op == "[MAX":
        return max(args)
    if op == "[MIN":
        return min(args)
    if op == "[MED":
        return int(statistics.median(args))  # LRA: int(np.median(...)), the mean of the middle two rounded down
    return sum(args) % 10


def evaluate(tokens):
    """The value of a token list (iterative, any depth)."""
    stack = [[None, []]]
    for t in tokens:
        if t in OPERATORS:
            stack.append([t, []])
        elif t == END:
            op, args = stack.pop()
            stack[-1][1].append(apply(op, args))
        else:
            stack[-1][1].append(int(t))
    (value,) = stack[0][1]
    return value


def sample(rng, lengths):
    while True:
        tokens = generate(rng)
        if lengths[0] <= len(tokens) <= lengths[1]:
            return tokens


def self_check():
    assert evaluate("[MAX 2 9 [MIN 4 7 ] 0 ]".split()) == 9
    assert evaluate("[MED 1 2 3 4 ]".split()) == 2
    assert evaluate("[SM 9 8 [MIN 5 7 ] ]".split()) == 2
    assert evaluate("[MED [MAX 1 2 ] 8 5 ]".split()) == 5


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cache", default="/work/cache/listops")
    args = parser.parse_args()
    self_check()
    os.makedirs(args.cache, exist_ok=True)
    seen = set()
    for split, (count, seed, lengths) in SPLITS.items():
        rng = random.Random(seed)
        rows = []
        while len(rows) < count:
            text = " ".join(sample(rng, lengths))
            if text in seen:
                continue
            seen.add(text)
            rows.append((evaluate(text.split()), text))
        with open(os.path.join(args.cache, f"{split}.tsv"), "w") as f:
            f.writelines(f"{label}\t{text}\n" for label, text in rows)
        counts = [sum(1 for label, _ in rows if label == c) for c in range(10)]
        sizes = sorted(len(text.split()) for _, text in rows)
        print(f"{split}: {count} sequences, lengths {sizes[0]}-{sizes[-1]} (median {sizes[len(sizes) // 2]}), "
              f"labels 0-9: {counts}, majority {max(counts) / count:.3f}", flush=True)
        if split == "test":
            for i, (label, text) in enumerate(rows):
                d = os.path.join(args.cache, "test", str(label))
                os.makedirs(d, exist_ok=True)
                with open(os.path.join(d, f"{i:05d}.txt"), "w") as f:
                    f.write(text + "\n")


if __name__ == "__main__":
    main()
