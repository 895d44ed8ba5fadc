"""sylva_trial: the trial side of Sylva's command evaluator (standard library only).

Sylva's ``--evaluator command`` runs ``--command 'CMD'`` once per trial through
``/bin/sh -c``, in a fresh trial directory (also the working directory), with
stdout/stderr captured to ``stdout.log`` / ``stderr.log``.  The command learns
about its trial from the environment and reports back by appending JSON lines
to a file that Sylva tails while the command runs:

    SYLVA_TRIAL_DIR    absolute path of the trial directory (the cwd)
    SYLVA_TRIAL_JSON   $SYLVA_TRIAL_DIR/trial.json: the trial (key, seed,
                       hyperparameters, budget, model, input_shape, ...)
    SYLVA_REPORT       $SYLVA_TRIAL_DIR/report.jsonl: append JSON lines here
    SYLVA_STOP_FILE    $SYLVA_TRIAL_DIR/stop: exists once Sylva wants the
                       trial to stop (pruning); SIGTERM follows
    SYLVA_SEED, SYLVA_BUDGET, SYLVA_THREADS, SYLVA_TRIAL_NUMBER,
    SYLVA_PREVIOUS_DIR (promotions only), CUDA_VISIBLE_DEVICES (with --gpus)

Each line of $SYLVA_REPORT is one JSON object whose other fields are numbers
or bools:

    {"step": 3, "val_acc": 81.2, "loss": 0.41}   intermediate values at step 3
    {"final": true, "val_acc": 88.0}             the final metrics

Exiting 0 after a final line (or after writing result.json, one JSON object of
metrics, in the trial directory) completes the trial; exiting 0 without final
metrics, exiting non-zero or being killed fails it.

The same protocol from a shell script is three lines:

    read the trial:  cat "$SYLVA_TRIAL_JSON"      (or python3 -c / jq)
    report:          echo "{\\"step\\": $epoch, \\"val_acc\\": $acc}" >> "$SYLVA_REPORT"
    finish:          echo "{\\"final\\": true, \\"val_acc\\": $acc}" >> "$SYLVA_REPORT"

From Python::

    import sylva_trial
    trial = sylva_trial.load()
    lr = trial.hparam("lr", 0.05)
    for epoch in range(1, epochs + 1):
        ...
        sylva_trial.report(epoch, val_acc=acc, train_loss=loss)
        if sylva_trial.should_stop():
            break
    sylva_trial.finish(val_acc=acc)

Outside Sylva (SYLVA_REPORT unset) report() and finish() print their line to
stderr instead, and finish() writes no result.json, so the script also runs by
hand: ``SYLVA_TRIAL_JSON=path/trial.json python3 train.py``.

JSON has no NaN or infinity, so report() and finish() refuse non-finite values
(ValueError naming the metric) rather than write a line Sylva cannot read.
"""

import json
import math
import numbers
import os
import sys
import tempfile

__all__ = ["Trial", "load", "report", "finish", "should_stop"]


class Trial:
    """One trial as described by trial.json.

    Attributes (from the protocol's trial.json fields):
      number           the trial number ("trial")
      seed             the trial's seed, an unsigned 64-bit int
      experiment       the experiment name
      key, canonical   the trial's key ("lr=0.03/wd=1e-4/conv3/...") and canonical form
      decisions        the architecture decisions, a list of ints
      hyperparameters  dict name -> number (or string when not numeric)
      budget           epochs set by successive halving; 0: the script's own choice
      input_shape      [C, H, W]
      classes          number of classes
      model_path       absolute path of the untrained TorchScript module, or None
      trial_dir        absolute path of the trial directory
      previous_dir     the previous rung's trial directory (promotions only), or None
      objective        the metric Sylva optimises (e.g. "val_acc")
      maximize         True when larger objective values are better
      threads          CPU threads the trial may use
      data             the raw trial.json dict (every other field lives here)
    """

    def __init__(self, data, json_path):
        self.data = data
        json_dir = os.path.dirname(os.path.abspath(json_path))
        self.experiment = data.get("experiment", "")
        self.number = int(data.get("trial", 0))
        self.seed = int(data.get("seed", os.environ.get("SYLVA_SEED", 0)))
        self.key = data.get("key", "")
        self.canonical = data.get("canonical", self.key)
        self.decisions = list(data.get("decisions") or [])
        self.hyperparameters = dict(data.get("hyperparameters") or {})
        self.budget = int(data.get("budget", os.environ.get("SYLVA_BUDGET", 0)) or 0)
        self.input_shape = list(data.get("input_shape") or [])
        self.classes = int(data.get("classes", 0) or 0)
        self.objective = data.get("objective", "val_acc")
        self.maximize = bool(data.get("maximize", True))
        self.threads = int(data.get("threads") or os.environ.get("SYLVA_THREADS")
                           or os.cpu_count() or 1)
        # The trial directory: trial.json says where it is; a hand-written
        # trial.json without the field means the directory holding it.
        self.trial_dir = os.path.abspath(
            data.get("trial_dir") or os.environ.get("SYLVA_TRIAL_DIR") or json_dir)
        previous = data.get("previous_dir") or os.environ.get("SYLVA_PREVIOUS_DIR")
        self.previous_dir = os.path.abspath(previous) if previous else None
        self.model_path = self._resolve_model(data.get("model"), json_dir)

    def _resolve_model(self, model, json_dir):
        """The absolute path of "model" (relative to the trial dir), or None."""
        if not model:
            return None
        if os.path.isabs(model):
            return model
        path = os.path.join(self.trial_dir, model)
        # A trial.json copied elsewhere to rerun by hand still finds the
        # model.pt copied beside it.
        beside = os.path.join(json_dir, model)
        if not os.path.exists(path) and os.path.exists(beside):
            return beside
        return path

    def hparam(self, name, default=None):
        """The hyperparameter `name`, or `default` when the trial has none."""
        return self.hyperparameters.get(name, default)

    def __repr__(self):
        return "Trial(experiment=%r, number=%d, key=%r)" % (
            self.experiment, self.number, self.key)


def load(path=None):
    """Reads the trial from `path`, else $SYLVA_TRIAL_JSON, else ./trial.json."""
    path = path or os.environ.get("SYLVA_TRIAL_JSON") or "trial.json"
    with open(path, "r", encoding="utf-8") as f:
        data = json.load(f)
    if not isinstance(data, dict):
        raise ValueError("%s: trial.json is not a JSON object" % path)
    return Trial(data, path)


def _check_metrics(metrics, reserved):
    """Validates metric values; returns them as plain int/float/bool.

    Accepts any real number (int, float, bool, and numpy scalars, which
    register as numbers.Real) and converts it so json.dumps can write it.
    """
    out = {}
    for name, value in metrics.items():
        if name == reserved:
            raise ValueError("metric %r is reserved by the protocol" % name)
        if isinstance(value, bool):
            out[name] = value
            continue
        if not isinstance(value, numbers.Real):
            hint = " (call .item() on a tensor)" if hasattr(value, "item") else ""
            raise TypeError("metric %r must be a number or bool, not %s%s"
                            % (name, type(value).__name__, hint))
        if isinstance(value, numbers.Integral):
            out[name] = int(value)
            continue
        value = float(value)
        if not math.isfinite(value):
            raise ValueError("metric %r is %r: JSON has no NaN or infinity" % (name, value))
        out[name] = value
    return out


def _append_line(obj):
    """Appends obj as one JSON line to $SYLVA_REPORT, or prints it to stderr.

    The file is opened with O_APPEND and the line written with a single
    os.write, so lines from concurrent writers never interleave and the reader
    tailing the file sees each line as soon as it is written (no buffering).
    """
    line = (json.dumps(obj, allow_nan=False) + "\n").encode("utf-8")
    path = os.environ.get("SYLVA_REPORT")
    if not path:
        # Standalone (not run by Sylva): show the line instead.
        sys.stderr.write(line.decode("utf-8"))
        sys.stderr.flush()
        return
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_CLOEXEC", 0),
                 0o644)
    try:
        written = os.write(fd, line)
        # A short write on a regular file is practically unheard of; finish
        # the line rather than leave it truncated.
        while written < len(line):
            written += os.write(fd, line[written:])
    finally:
        os.close(fd)


def report(step, **metrics):
    """Reports intermediate metrics at `step` (an int, e.g. the epoch).

    Appends {"step": step, **metrics}.  Raises TypeError for a metric that is
    not a number/bool and ValueError for NaN/infinity, naming the metric.
    """
    if isinstance(step, bool) or not isinstance(step, numbers.Integral):
        raise TypeError("step must be an int, not %s" % type(step).__name__)
    line = {"step": int(step)}
    line.update(_check_metrics(metrics, reserved="final"))
    _append_line(line)


def finish(**metrics):
    """Reports the final metrics: appends {"final": true, **metrics}.

    Under Sylva it also writes result.json (the metrics alone) in the trial
    directory, atomically (a temporary file, then os.replace), so a reader
    never sees a half-written file.  Call it once, at the end, then exit 0.
    """
    if not metrics:
        raise ValueError("finish() needs at least one metric")
    clean = _check_metrics(metrics, reserved="final")
    if os.environ.get("SYLVA_REPORT"):
        trial_dir = (os.environ.get("SYLVA_TRIAL_DIR")
                     or os.path.dirname(os.path.abspath(os.environ["SYLVA_REPORT"])))
        _write_json_atomic(os.path.join(trial_dir, "result.json"), clean)
    line = {"final": True}
    line.update(clean)
    _append_line(line)


def _write_json_atomic(path, obj):
    """Writes obj as JSON to path through a temporary file and os.replace."""
    directory = os.path.dirname(path) or "."
    fd, tmp = tempfile.mkstemp(prefix=".result.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(obj, f, allow_nan=False)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def should_stop():
    """True once Sylva has created $SYLVA_STOP_FILE (the trial is being pruned).

    Check it between epochs (or every few batches) and exit promptly; Sylva
    sends SIGTERM to the process group soon after creating the file.
    """
    path = os.environ.get("SYLVA_STOP_FILE")
    return bool(path) and os.path.exists(path)
