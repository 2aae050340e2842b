# The Python example of README.md, verbatim: the test suite runs it.
import numpy as np
import skein

model = skein.Model("models/code-lang")  # raises skein.Error on a bad model
session = model.session(threads=2, attention="skeinformer", features=64, seed=1)
code = b"import sys\n\nfor line in sys.stdin:\n    print(line.strip())\n"
ids = model.tokenize(code)[None, :]  # int32 [batch 1, n]
logits, pooled = session.run(ids)  # NumPy float32 [1, classes], [1, dim]
print("label", model.label(logits[0].argmax()))  # label Python
print([r["label"] for r in session.classify([code, "README.md"])])  # ['Python', 'Markdown']
for layer in session.profile():
    print(layer["layer"], layer["median_ns"] / 1e6, "ms")
q = k = v = np.random.default_rng(0).standard_normal((1, 2, 1024, 32), dtype=np.float32)
out = skein.attention(q, k, v, method="skeinformer", features=64, seed=1)  # [1, 2, 1024, 32]
