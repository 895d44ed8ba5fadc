"""Tests of python/sylva_trial.py and examples/train_fashion_mnist.py.

Run: /usr/bin/python3 -m unittest discover -s tests/python -v
The end-to-end training tests are skipped when torch does not import.
"""

import contextlib
import gzip
import io
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import unittest
from unittest import mock

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "python"))
import sylva_trial  # noqa: E402

TRAIN_SCRIPT = os.path.join(ROOT, "examples", "train_fashion_mnist.py")
DEBIAN_DATA = "/usr/share/datasets/fashion-mnist"

try:
    import torch
except Exception:  # noqa: BLE001 - any import failure means "no torch"
    torch = None


def sample_trial(trial_dir, **overrides):
    """A trial.json object with every field of the protocol."""
    data = {
        "experiment": "unit",
        "trial": 7,
        "seed": 18446744073709551615,  # the largest uint64
        "space": "nas-bench-macro",
        "key": "lr=0.03/wd=1e-4/conv3/conv5",
        "canonical": "conv3/conv5|lr=0.03/weight_decay=0.0001",
        "decisions": [0, 2, 1],
        "labels": ["conv3", "conv5", "skip"],
        "hyperparameters": {"lr": 0.03, "weight_decay": 1e-4, "optimizer": "sgd"},
        "budget": 0,
        "previous_dir": None,
        "input_shape": [1, 28, 28],
        "classes": 10,
        "model": "model.pt",
        "objective": "val_acc",
        "maximize": True,
        "threads": 1,
        "gpus": "",
        "trial_dir": trial_dir,
        "report": os.path.join(trial_dir, "report.jsonl"),
        "stop_file": os.path.join(trial_dir, "stop"),
    }
    data.update(overrides)
    return data


def sylva_env(trial_dir, previous_dir=None):
    """The environment Sylva gives a trial's command, over a SYLVA_*-free copy of ours."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SYLVA_")}
    env.update({
        "SYLVA_TRIAL_DIR": trial_dir,
        "SYLVA_TRIAL_JSON": os.path.join(trial_dir, "trial.json"),
        "SYLVA_REPORT": os.path.join(trial_dir, "report.jsonl"),
        "SYLVA_STOP_FILE": os.path.join(trial_dir, "stop"),
        "SYLVA_TRIAL_NUMBER": "7",
        "SYLVA_SEED": "18446744073709551615",
        "SYLVA_BUDGET": "0",
        "SYLVA_THREADS": "1",
    })
    if previous_dir:
        env["SYLVA_PREVIOUS_DIR"] = previous_dir
    return env


def read_lines(path):
    with open(path, encoding="utf-8") as f:
        return f.read().splitlines()


class TrialDirTest(unittest.TestCase):
    """A temporary trial directory and the Sylva environment pointing at it."""

    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory()
        self.dir = self._tmp.name
        self.report_path = os.path.join(self.dir, "report.jsonl")
        self.stop_path = os.path.join(self.dir, "stop")
        env = sylva_env(self.dir)
        patcher = mock.patch.dict(os.environ, env, clear=True)
        patcher.start()
        self.addCleanup(patcher.stop)
        self.addCleanup(self._tmp.cleanup)


class ReportTest(TrialDirTest):
    def test_report_line(self):
        sylva_trial.report(3, val_acc=81.25, loss=0.5, epochs=2, better=True)
        self.assertEqual(read_lines(self.report_path),
                         ['{"step": 3, "val_acc": 81.25, "loss": 0.5, "epochs": 2, "better": true}'])

    def test_lines_append_in_order(self):
        for step in range(1, 4):
            sylva_trial.report(step, val_acc=10.0 * step)
        lines = [json.loads(line) for line in read_lines(self.report_path)]
        self.assertEqual(lines, [{"step": s, "val_acc": 10.0 * s} for s in (1, 2, 3)])

    def test_finish_line_and_result_json(self):
        sylva_trial.report(1, val_acc=50.0)
        sylva_trial.finish(val_acc=88.5, params=7850)
        lines = read_lines(self.report_path)
        self.assertEqual(lines[-1], '{"final": true, "val_acc": 88.5, "params": 7850}')
        with open(os.path.join(self.dir, "result.json"), encoding="utf-8") as f:
            self.assertEqual(json.load(f), {"val_acc": 88.5, "params": 7850})
        # The atomic write leaves no temporary file behind.
        self.assertEqual(sorted(os.listdir(self.dir)), ["report.jsonl", "result.json"])

    def test_concurrent_writers_produce_whole_lines(self):
        # Several processes append long lines (~1.5 KB, 60 metrics) at once;
        # every line must come out whole and every writer's lines in order.
        writers, lines_each = 4, 150
        code = ("import sys; sys.path.insert(0, %r); import sylva_trial\n"
                "w = int(sys.argv[1])\n"
                "for s in range(%d):\n"
                "    sylva_trial.report(s, writer=w, **{'metric_%%02d' %% i: s + i / 7 for i in range(60)})\n"
                % (os.path.join(ROOT, "python"), lines_each))
        procs = [subprocess.Popen([sys.executable, "-c", code, str(w)]) for w in range(writers)]
        for p in procs:
            self.assertEqual(p.wait(timeout=60), 0)
        steps = {w: [] for w in range(writers)}
        for line in read_lines(self.report_path):
            obj = json.loads(line)  # raises on a torn or interleaved line
            self.assertEqual(len(obj), 62)
            steps[obj["writer"]].append(obj["step"])
        for w in range(writers):
            self.assertEqual(steps[w], list(range(lines_each)))

    def test_numpy_scalars_are_numbers(self):
        try:
            import numpy
        except ImportError:
            self.skipTest("numpy not installed")
        sylva_trial.report(numpy.int64(2), acc=numpy.float32(0.5), n=numpy.int32(3))
        self.assertEqual(json.loads(read_lines(self.report_path)[0]), {"step": 2, "acc": 0.5, "n": 3})


class ValidationTest(TrialDirTest):
    def assertNothingWritten(self):
        self.assertFalse(os.path.exists(self.report_path))

    def test_non_numbers_raise_type_error_naming_the_metric(self):
        for bad in ("81.2", None, [1], {"a": 1}, 1j):
            with self.assertRaisesRegex(TypeError, "val_acc"):
                sylva_trial.report(1, loss=0.1, val_acc=bad)
            with self.assertRaisesRegex(TypeError, "val_acc"):
                sylva_trial.finish(val_acc=bad)
        self.assertNothingWritten()

    def test_step_must_be_an_int(self):
        for bad in ("1", 1.0, None, True):
            with self.assertRaisesRegex(TypeError, "step"):
                sylva_trial.report(bad, val_acc=1.0)
        self.assertNothingWritten()

    def test_non_finite_values_raise_value_error_naming_the_metric(self):
        for bad in (float("nan"), float("inf"), float("-inf")):
            with self.assertRaisesRegex(ValueError, "train_loss"):
                sylva_trial.report(1, val_acc=1.0, train_loss=bad)
            with self.assertRaisesRegex(ValueError, "train_loss"):
                sylva_trial.finish(val_acc=1.0, train_loss=bad)
        self.assertNothingWritten()
        self.assertFalse(os.path.exists(os.path.join(self.dir, "result.json")))

    def test_reserved_and_empty(self):
        with self.assertRaisesRegex(ValueError, "final"):
            sylva_trial.report(1, final=True)  # would turn the line into a final one
        with self.assertRaisesRegex(ValueError, "at least one metric"):
            sylva_trial.finish()
        self.assertNothingWritten()


class StopTest(TrialDirTest):
    def test_should_stop_follows_the_stop_file(self):
        self.assertFalse(sylva_trial.should_stop())
        open(self.stop_path, "w").close()
        self.assertTrue(sylva_trial.should_stop())
        os.unlink(self.stop_path)
        self.assertFalse(sylva_trial.should_stop())

    def test_should_stop_outside_sylva(self):
        del os.environ["SYLVA_STOP_FILE"]
        open(self.stop_path, "w").close()  # a file named "stop" means nothing then
        self.assertFalse(sylva_trial.should_stop())


class StandaloneTest(TrialDirTest):
    def test_lines_go_to_stderr(self):
        for name in [k for k in os.environ if k.startswith("SYLVA_")]:
            del os.environ[name]
        err = io.StringIO()
        cwd = os.getcwd()
        os.chdir(self.dir)
        try:
            with contextlib.redirect_stderr(err):
                sylva_trial.report(1, val_acc=70.0)
                sylva_trial.finish(val_acc=71.5)
        finally:
            os.chdir(cwd)
        self.assertEqual(err.getvalue(),
                         '{"step": 1, "val_acc": 70.0}\n{"final": true, "val_acc": 71.5}\n')
        self.assertEqual(os.listdir(self.dir), [])  # no report.jsonl, no result.json


class LoadTest(TrialDirTest):
    def write_trial(self, **overrides):
        data = sample_trial(self.dir, **overrides)
        with open(os.path.join(self.dir, "trial.json"), "w", encoding="utf-8") as f:
            json.dump(data, f)
        return data

    def test_attributes(self):
        data = self.write_trial()
        t = sylva_trial.load()
        self.assertEqual(t.number, 7)
        self.assertEqual(t.seed, 2**64 - 1)
        self.assertEqual(t.experiment, "unit")
        self.assertEqual(t.key, "lr=0.03/wd=1e-4/conv3/conv5")
        self.assertEqual(t.canonical, data["canonical"])
        self.assertEqual(t.decisions, [0, 2, 1])
        self.assertEqual(t.hyperparameters, {"lr": 0.03, "weight_decay": 1e-4, "optimizer": "sgd"})
        self.assertEqual(t.budget, 0)
        self.assertEqual(t.input_shape, [1, 28, 28])
        self.assertEqual(t.classes, 10)
        self.assertEqual(t.model_path, os.path.join(self.dir, "model.pt"))
        self.assertTrue(os.path.isabs(t.model_path))
        self.assertEqual(t.trial_dir, self.dir)
        self.assertIsNone(t.previous_dir)
        self.assertEqual(t.objective, "val_acc")
        self.assertIs(t.maximize, True)
        self.assertEqual(t.threads, 1)
        self.assertEqual(t.data, data)

    def test_hparam_default(self):
        self.write_trial()
        t = sylva_trial.load()
        self.assertEqual(t.hparam("lr", 0.05), 0.03)
        self.assertEqual(t.hparam("optimizer"), "sgd")
        self.assertEqual(t.hparam("batch_size", 128), 128)
        self.assertIsNone(t.hparam("missing"))

    def test_no_model_and_promotion(self):
        prev = os.path.join(self.dir, "prev")
        self.write_trial(model=None, previous_dir=prev, budget=4, maximize=False)
        t = sylva_trial.load()
        self.assertIsNone(t.model_path)
        self.assertEqual(t.previous_dir, prev)
        self.assertEqual(t.budget, 4)
        self.assertIs(t.maximize, False)

    def test_default_path_is_cwd_trial_json(self):
        self.write_trial()
        del os.environ["SYLVA_TRIAL_JSON"]
        cwd = os.getcwd()
        os.chdir(self.dir)
        try:
            self.assertEqual(sylva_trial.load().number, 7)
        finally:
            os.chdir(cwd)

    def test_explicit_path_and_bad_file(self):
        path = os.path.join(self.dir, "other.json")
        with open(path, "w") as f:
            json.dump({"trial": 12, "hyperparameters": {}}, f)  # a minimal hand-written one
        t = sylva_trial.load(path)
        self.assertEqual((t.number, t.trial_dir, t.model_path), (12, self.dir, None))
        with open(path, "w") as f:
            f.write("[1, 2]")
        with self.assertRaisesRegex(ValueError, "not a JSON object"):
            sylva_trial.load(path)


def write_idx(path, dims, payload):
    """Writes a gzip IDX file of unsigned bytes."""
    with gzip.open(path, "wb") as f:
        f.write(struct.pack(">HBB", 0, 0x08, len(dims)) + struct.pack(">%dI" % len(dims), *dims))
        f.write(bytes(payload))


@unittest.skipIf(torch is None, "torch does not import")
class TrainFashionMnistTest(unittest.TestCase):
    """examples/train_fashion_mnist.py end to end on a tiny synthetic dataset."""

    IMAGES = 512  # >= --train-images 256 + --val-images 128

    @classmethod
    def setUpClass(cls):
        cls._tmp = tempfile.TemporaryDirectory()
        root = cls._tmp.name
        # A learnable synthetic "Fashion-MNIST": label k lights up row band k.
        cls.data = os.path.join(root, "data")
        os.mkdir(cls.data)
        g = torch.Generator().manual_seed(0)
        labels = torch.randint(0, 10, (cls.IMAGES,), generator=g)
        images = torch.randint(0, 60, (cls.IMAGES, 28, 28), generator=g)
        for i, k in enumerate(labels.tolist()):
            images[i, 2 * k + 4:2 * k + 6, :] = 255
        write_idx(os.path.join(cls.data, "train-images-idx3-ubyte.gz"), (cls.IMAGES, 28, 28),
                  images.to(torch.uint8).flatten().tolist())
        write_idx(os.path.join(cls.data, "train-labels-idx1-ubyte.gz"), (cls.IMAGES,),
                  labels.tolist())
        # The untrained network, as Sylva would write it.
        cls.model = os.path.join(root, "model.pt")
        net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 10))
        torch.jit.save(torch.jit.script(net), cls.model)

    @classmethod
    def tearDownClass(cls):
        cls._tmp.cleanup()

    def make_trial_dir(self, name, **overrides):
        trial_dir = os.path.join(self._tmp.name, name)
        os.mkdir(trial_dir)
        shutil.copy(self.model, os.path.join(trial_dir, "model.pt"))
        hyper = {"lr": 0.1, "batch_size": 64}
        with open(os.path.join(trial_dir, "trial.json"), "w", encoding="utf-8") as f:
            json.dump(sample_trial(trial_dir, hyperparameters=hyper, **overrides), f)
        return trial_dir

    def run_script(self, trial_dir, previous_dir=None, extra=()):
        cmd = [sys.executable, TRAIN_SCRIPT, "--data", self.data, "--train-images", "256",
               "--val-images", "128", "--epochs", "1", "--device", "cpu", *extra]
        proc = subprocess.run(cmd, cwd=trial_dir, env=sylva_env(trial_dir, previous_dir),
                              stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        return [json.loads(line) for line in read_lines(os.path.join(trial_dir, "report.jsonl"))]

    def test_end_to_end(self):
        trial_dir = self.make_trial_dir("t1")
        lines = self.run_script(trial_dir)
        self.assertEqual(len(lines), 2, lines)
        step, final = lines
        self.assertEqual(step["step"], 1)
        self.assertTrue(0 <= step["val_acc"] <= 100, step)
        self.assertIn("train_loss", step)
        self.assertIs(final["final"], True)
        self.assertEqual(final["val_acc"], step["val_acc"])
        self.assertEqual(final["params"], 784 * 10 + 10)
        self.assertGreaterEqual(final["train_seconds"], 0)
        with open(os.path.join(trial_dir, "result.json"), encoding="utf-8") as f:
            result = json.load(f)
        self.assertEqual(result, {k: v for k, v in final.items() if k != "final"})
        self.assertTrue(os.path.exists(os.path.join(trial_dir, "checkpoint.pt")))

    def test_promotion_resumes_from_the_previous_rung(self):
        rung1 = self.make_trial_dir("r1", budget=1)
        self.run_script(rung1)
        rung2 = self.make_trial_dir("r2", budget=2, previous_dir=rung1)
        lines = self.run_script(rung2, previous_dir=rung1)
        # Epoch 1 came from rung 1's checkpoint: only epoch 2 runs here.
        self.assertEqual([line.get("step") for line in lines], [2, None])
        self.assertIs(lines[-1]["final"], True)
        ckpt = torch.load(os.path.join(rung2, "checkpoint.pt"))
        self.assertEqual(ckpt["epoch"], 2)

    def test_stop_file_ends_without_final_line(self):
        trial_dir = self.make_trial_dir("s1")
        open(os.path.join(trial_dir, "stop"), "w").close()
        lines = self.run_script(trial_dir)
        self.assertEqual([line.get("step") for line in lines], [1])

    @unittest.skipUnless(os.path.isdir(DEBIAN_DATA), "no " + DEBIAN_DATA)
    def test_reads_the_debian_idx_files(self):
        import importlib.util
        spec = importlib.util.spec_from_file_location("train_fashion_mnist", TRAIN_SCRIPT)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        images, labels = module.load_split(DEBIAN_DATA, "t10k")
        self.assertEqual(tuple(images.shape), (10000, 1, 28, 28))
        self.assertEqual(images.dtype, torch.uint8)
        self.assertEqual(labels.shape[0], 10000)
        self.assertEqual(sorted(set(labels.tolist())), list(range(10)))
        self.assertEqual(labels.bincount().tolist(), [1000] * 10)  # the test set is balanced


if __name__ == "__main__":
    unittest.main()
