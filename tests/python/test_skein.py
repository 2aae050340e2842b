"""The Python module against the CLI: NumPy round-trips equal `skein run` and
`skein attention` bit for bit; errors are skein.Error exceptions with the
engine's messages, never a crashed interpreter.

Run by ctest (test `python`) as
  SKEIN_CLI=build/skein PYTHONPATH=build/python:models/pytorch /usr/bin/python3 -m unittest -v test_skein
"""
import json
import os
import pathlib
import subprocess
import tempfile
import unittest

import numpy as np

import safetensors_io as st
import skein

ROOT = pathlib.Path(__file__).resolve().parents[2]
MODEL = str(ROOT / "models" / "untrained")
CLI = os.environ.get("SKEIN_CLI", str(ROOT / "build" / "skein"))


def cli(*args):
    """Runs the skein CLI; returns stderr, raising on a non-zero exit."""
    done = subprocess.run([CLI, *args], capture_output=True, text=True)
    if done.returncode != 0:
        raise AssertionError(f"skein {' '.join(args)} exited {done.returncode}: {done.stderr}")
    return done.stderr


class Work(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = pathlib.Path(self.tmp.name)

    def tearDown(self):
        self.tmp.cleanup()


class RunMatchesCli(Work):
    def check_run(self, ids, mask, session_args, cli_args):
        inputs = {"ids": ids} if mask is None else {"ids": ids, "mask": mask}
        st.write(self.dir / "ids.safetensors", inputs)
        cli("run", "--model", MODEL, "--ids", str(self.dir / "ids.safetensors"),
            "--out", str(self.dir / "out.safetensors"), *cli_args)
        expected = st.read(self.dir / "out.safetensors")
        session = skein.Model(MODEL).session(**session_args)
        logits, pooled = session.run(ids, mask=mask)
        self.assertEqual(logits.dtype, np.float32)
        self.assertEqual(logits.shape, expected["logits"].shape)
        self.assertEqual(pooled.shape, expected["pooled"].shape)
        np.testing.assert_array_equal(logits, expected["logits"])
        np.testing.assert_array_equal(pooled, expected["pooled"])
        return logits, pooled

    def test_padded_batch_exact(self):
        rng = np.random.default_rng(1)
        ids = rng.integers(1, 257, size=(3, 40)).astype(np.int32)
        mask = np.ones((3, 40), np.int32)
        mask[1, 25:] = 0
        mask[2, 3:] = 0
        self.check_run(ids, mask, {"threads": 2}, ["--threads", "2"])

    def test_skeinformer_seed_features_int64_ids(self):
        rng = np.random.default_rng(2)
        ids = rng.integers(1, 257, size=(2, 300)).astype(np.int64)
        options = {"threads": 2, "attention": "skeinformer", "features": 32, "seed": 7}
        logits, _ = self.check_run(ids, None, options,
                                   ["--threads", "2", "--attention", "skeinformer",
                                    "--features", "32", "--seed", "7"])
        other, _ = skein.Model(MODEL).session(**dict(options, seed=8)).run(ids)
        self.assertFalse(np.array_equal(logits, other), "the seed must reach the method")

    def test_float_mask_and_row_independence(self):
        ids = np.arange(1, 21, dtype=np.int32).reshape(2, 10)
        mask = np.ones((2, 10), np.float32)
        mask[0, 6:] = 0
        logits, _ = self.check_run(ids, mask, {"threads": 1}, ["--threads", "1"])
        self.assertTrue(np.all(np.isfinite(logits)))


class Errors(Work):
    def test_bad_model_path_raises(self):
        missing = str(self.dir / "no-such-model")
        with self.assertRaises(skein.Error) as ctx:
            skein.Model(missing)
        self.assertIn(missing, str(ctx.exception))
        self.assertIsInstance(ctx.exception, RuntimeError)

    def test_same_message_as_cli(self):
        missing = str(self.dir / "no-such-model")
        done = subprocess.run([CLI, "inspect", "--model", missing], capture_output=True, text=True)
        self.assertEqual(done.returncode, 2)
        with self.assertRaises(skein.Error) as ctx:
            skein.Model(missing)
        self.assertIn(str(ctx.exception), done.stderr)

    def test_bad_inputs(self):
        session = skein.Model(MODEL).session(threads=1)
        too_long = skein.Model(MODEL).config["max_seq_len"] + 1
        (self.dir / "binary.bin").write_bytes(b"ab\0cd")
        cases = [
            (lambda: session.run(np.zeros((1, 4), np.float32)), "expected an integer dtype"),
            (lambda: session.run(np.ones((4,), np.int32)), "expected [batch, n]"),
            (lambda: session.run(np.ones((1, 4), np.int32), mask=np.array([[1, 0, 1, 0]])),
             "mask row 0: real token at position 2 after padding"),
            (lambda: session.run(np.ones((1, too_long), np.int32)), "exceeds the model's max_seq_len"),
            (lambda: session.classify(str(self.dir / "missing.txt")), "missing.txt"),
            (lambda: session.classify(str(self.dir / "binary.bin")),
             "binary.bin: binary file (NUL byte at offset 2), not text"),
            (lambda: skein.Model(MODEL).session(attention="no-such-method"), "no-such-method"),
        ]
        for call, fragment in cases:
            with self.assertRaises(skein.Error) as ctx:
                call()
            self.assertIn(fragment, str(ctx.exception))
        # The session still works after the failures.
        logits, _ = session.run(np.ones((1, 4), np.int32))
        self.assertEqual(logits.shape, (1, 2))


class Classify(Work):
    def test_files_and_bytes_match_cli(self):
        texts = [b"a short text", b"another, slightly longer text " * 10]
        paths = []
        for i, t in enumerate(texts):
            paths.append(self.dir / f"{i}.txt")
            paths[-1].write_bytes(t)
        import json
        done = subprocess.run([CLI, "classify", "--model", MODEL, "--threads", "1", "--format",
                               "json", *map(str, paths)], capture_output=True, text=True, check=True)
        expected = json.loads(done.stdout)
        session = skein.Model(MODEL).session(threads=1)
        for results in (session.classify(paths), session.classify(texts)):
            self.assertEqual(len(results), 2)
            for got, want in zip(results, expected):
                self.assertEqual(got["label"], want["label"])
                self.assertEqual(got["class"], want["class"])
                self.assertEqual(got["tokens"], want["tokens"])
                np.testing.assert_array_equal(got["logits"], np.array(want["logits"], np.float32))

    def test_words_tokenizer(self):
        """models/listops (words tokenizer): files and bytes match the CLI, ids past max_seq_len
        are cut, an unknown word raises naming the file, token and byte offset."""
        listops = str(ROOT / "models" / "listops")
        model = skein.Model(listops)
        self.assertEqual(list(model.tokenize(b"[MAX 1\n[SM 9 ] ]")), [1, 7, 4, 15, 5, 5])
        path = self.dir / "long.txt"
        path.write_bytes(b"[SM " + b"1 " * 2100 + b"]")
        done = subprocess.run([CLI, "classify", "--model", listops, "--threads", "1", "--format", "json",
                               str(path)], capture_output=True, text=True, check=True)
        want = json.loads(done.stdout)[0]
        session = model.session(threads=1)
        for got in (session.classify(path)[0], session.classify(path.read_bytes())[0]):
            self.assertEqual((got["label"], got["tokens"], got["truncated"]), (want["label"], 2000, True))
            np.testing.assert_array_equal(got["logits"], np.array(want["logits"], np.float32))
        bad = self.dir / "bad.txt"
        bad.write_bytes(b"[MAX 1 [FOO 2 ] ]")
        with self.assertRaisesRegex(skein.Error, r"bad.txt: unknown token '\[FOO' at byte 7"):
            session.classify(bad)
        with self.assertRaisesRegex(skein.Error, r"classify: unknown token '\[FOO' at byte 7"):
            session.classify(bad.read_bytes())

    def test_profile(self):
        session = skein.Model(MODEL).session(threads=1)
        session.run(np.ones((1, 64), np.int32))
        session.run(np.ones((1, 64), np.int32))
        layers = session.profile()
        names = [l["layer"] for l in layers]
        for layer in range(skein.Model(MODEL).config["num_layers"]):
            self.assertIn(str(layer), names)
        for layer in layers:
            self.assertEqual(len(layer["latency_ns"]), 2)
            self.assertGreaterEqual(layer["median_ns"], 0)
        self.assertTrue(any(n["op"] == "attention" for n in session.profile(nodes=True)))
        session.reset_profile()
        self.assertEqual(session.profile()[0]["latency_ns"], [])

    def test_fuse_rows(self):
        model = skein.Model(MODEL)
        ids = np.random.default_rng(4).integers(1, 200, (2, 600), dtype=np.int32)
        fused_logits, fused_pooled = model.session(threads=2).run(ids)
        logits, pooled = model.session(threads=2, fuse_rows=False).run(ids)
        # Register tiles instead of oneDNN for the projections: rounding only.
        np.testing.assert_allclose(fused_pooled, pooled, rtol=0, atol=1e-4)
        np.testing.assert_allclose(fused_logits, logits, rtol=0, atol=1e-4)
        nodes = model.session(threads=2).profile(nodes=True)
        self.assertEqual(sorted({n["fused_run"] for n in nodes}), [-1, 0, 1, 2])
        unfused_nodes = model.session(threads=2, fuse_rows=False).profile(nodes=True)
        self.assertEqual({n["fused_run"] for n in unfused_nodes}, {-1})


class AttentionMatchesCli(Work):
    def check(self, method, features=None, seed=0, mask=None):
        rng = np.random.default_rng(3)
        q, k, v = (rng.standard_normal((2, 2, 70, 16), dtype=np.float32) for _ in range(3))
        inputs = {"q": q, "k": k, "v": v}
        if mask is not None:
            inputs["mask"] = mask
        st.write(self.dir / "qkv.safetensors", inputs)
        args = ["attention", "--method", method, "--seed", str(seed), "--threads", "2",
                "--qkv", str(self.dir / "qkv.safetensors"), "--out", str(self.dir / "out.safetensors")]
        if features is not None:
            args += ["--features", str(features)]
        cli(*args)
        expected = st.read(self.dir / "out.safetensors")["out"]
        out = skein.attention(q, k, v, method=method, features=features or 0, seed=seed,
                              mask=mask, threads=2)
        self.assertEqual(out.dtype, np.float32)
        np.testing.assert_array_equal(out, expected)
        return q, k, v, out

    def test_exact_against_cli_and_numpy(self):
        q, k, v, out = self.check("exact")
        s = q @ k.swapaxes(-1, -2) / np.sqrt(16.0)
        p = np.exp(s - s.max(-1, keepdims=True))
        ref = (p / p.sum(-1, keepdims=True)) @ v
        np.testing.assert_allclose(out, ref, rtol=1e-4, atol=1e-5)

    def test_skeinformer_with_mask(self):
        mask = np.ones((2, 70), np.int32)
        mask[1, 50:] = 0
        _, _, _, out = self.check("skeinformer", features=24, seed=5, mask=mask)
        self.assertTrue(np.all(out[1, :, 50:] == 0))

    def test_bad_dtype(self):
        q = np.zeros((1, 1, 4, 4))
        with self.assertRaises(skein.Error) as ctx:
            skein.attention(q, q, q, method="exact")
        self.assertIn("expected float32", str(ctx.exception))


class Docs(unittest.TestCase):
    def test_help_is_useful(self):
        import pydoc
        text = pydoc.render_doc(skein.Model)
        for word in ("Model(path)", "session(", "threads", "attention", "features", "seed"):
            self.assertIn(word, text)
        self.assertIn("run(ids, mask=None", pydoc.render_doc(skein.Session))
        self.assertEqual(skein.__version__, skein.version())


if __name__ == "__main__":
    unittest.main()
