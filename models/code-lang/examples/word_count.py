"""Counts words in text files and prints the most common ones."""
import collections
import re
import sys


def words(path):
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            yield from (w.lower() for w in re.findall(r"[A-Za-z']+", line))


def main(paths, top=10):
    counts = collections.Counter()
    for path in paths:
        counts.update(words(path))
    for word, n in counts.most_common(top):
        print(f"{n:6d}  {word}")


if __name__ == "__main__":
    main(sys.argv[1:])
