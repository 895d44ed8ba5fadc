#!/usr/bin/env python3
"""Train a Sylva trial's network on Fashion-MNIST: a script for `--evaluator command`.

Sylva writes the untrained network (TorchScript, model.pt) and trial.json into
the trial directory and runs this script there; the script trains the network,
reports the validation accuracy per epoch through sylva_trial and finishes with
the final metrics.  See python/sylva_trial.py for the protocol.

    sylva search ... --evaluator command --input-shape 1,28,28 --classes 10 \\
        --command "/usr/bin/python3 $PWD/examples/train_fashion_mnist.py --epochs 2"

By hand, against any trial directory Sylva left (or a hand-written trial.json):

    SYLVA_TRIAL_JSON=DB.trials/EXP/3/trial.json python3 examples/train_fashion_mnist.py

Hyperparameters read from the trial (defaults in brackets): lr [0.05],
weight_decay [5e-4], optimizer sgd|adamw [sgd], momentum [0.9] (SGD, Nesterov),
batch_size [128], label_smoothing [0], epochs [--epochs].
Epochs: the trial's budget (successive halving) when > 0, else the `epochs`
hyperparameter, else --epochs.
"""

import argparse
import gzip
import math
import os
import struct
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
import sylva_trial  # noqa: E402  (needs the path above)

import torch  # noqa: E402

DEFAULT_DATA = "/usr/share/datasets/fashion-mnist"  # Debian's fashion-mnist package
MEAN, STD = 0.2860, 0.3530  # Fashion-MNIST training-set pixel statistics
SPLIT_SEED = 20170825  # fixes the train/validation split for every trial
TRAIN_SIZE = 60000


def read_idx(path):
    """Reads a (gzip) IDX file: returns (dims, raw bytes of the uint8 data)."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    if len(data) < 4:
        raise ValueError("%s: not an IDX file" % path)
    zero, dtype, ndim = struct.unpack_from(">HBB", data, 0)
    if zero != 0 or dtype != 0x08:  # 0x08: unsigned byte, the only type MNIST uses
        raise ValueError("%s: not an unsigned-byte IDX file" % path)
    dims = struct.unpack_from(">%dI" % ndim, data, 4)
    offset = 4 + 4 * ndim
    if len(data) - offset != math.prod(dims):
        raise ValueError("%s: %d data bytes for dims %s" % (path, len(data) - offset, dims))
    return dims, data[offset:]


def load_split(data_dir, prefix):
    """Reads PREFIX-images-idx3-ubyte.gz / PREFIX-labels-idx1-ubyte.gz.

    Returns uint8 images [N, 1, H, W] and int64 labels [N].
    """
    def find(name):
        for candidate in (name + ".gz", name):
            path = os.path.join(data_dir, candidate)
            if os.path.exists(path):
                return path
        raise FileNotFoundError("%s: no %s(.gz); pass --data DIR" % (data_dir, name))

    dims, pixels = read_idx(find(prefix + "-images-idx3-ubyte"))
    (count,), labels = read_idx(find(prefix + "-labels-idx1-ubyte"))
    if len(dims) != 3 or dims[0] != count:
        raise ValueError("%s: %s images but %d labels" % (data_dir, dims, count))
    images = torch.frombuffer(bytearray(pixels), dtype=torch.uint8).view(dims[0], 1, dims[1], dims[2])
    return images, torch.frombuffer(bytearray(labels), dtype=torch.uint8).long()


def normalise(images):
    """uint8 [N,1,H,W] -> float scaled to [0,1], then standardised."""
    return (images.float() / 255.0 - MEAN) / STD


def evaluate(model, x, y, batch=1000):
    """Accuracy of `model` on (x, y), in percent."""
    model.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(x), batch):
            correct += (model(x[i:i + batch]).argmax(1) == y[i:i + batch]).sum().item()
    return 100.0 * correct / max(1, len(x))


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", default=DEFAULT_DATA, help="folder of the Fashion-MNIST IDX files")
    p.add_argument("--train-images", type=int, default=10000, help="training images per epoch")
    p.add_argument("--val-images", type=int, default=2000, help="held-out validation images")
    p.add_argument("--epochs", type=int, default=2,
                   help="epochs when the trial sets neither a budget nor an `epochs` hyperparameter")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    p.add_argument("--trial", help="trial.json (default: $SYLVA_TRIAL_JSON, else ./trial.json)")
    args = p.parse_args(argv)
    if args.val_images < 1 or args.train_images < 1 or args.val_images >= TRAIN_SIZE:
        p.error("--train-images and --val-images must be positive, --val-images < %d" % TRAIN_SIZE)
    return args


def main(argv=None):
    args = parse_args(argv)
    trial = sylva_trial.load(args.trial)
    if trial.model_path is None:
        sys.exit("trial %d has no model.pt (--model-file no, or see model_error in trial.json)"
                 % trial.number)

    torch.manual_seed(trial.seed % 2**63)
    torch.set_num_threads(max(1, trial.threads))
    if args.device == "auto":
        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    else:
        device = torch.device(args.device)

    # Hyperparameters: the trial's values, else the defaults.
    lr = float(trial.hparam("lr", 0.05))
    weight_decay = float(trial.hparam("weight_decay", 5e-4))
    optimizer_name = str(trial.hparam("optimizer", "sgd")).lower()
    momentum = float(trial.hparam("momentum", 0.9))
    batch_size = int(trial.hparam("batch_size", 128))
    label_smoothing = float(trial.hparam("label_smoothing", 0.0))
    if trial.budget > 0:
        epochs = trial.budget
    else:
        epochs = int(trial.hparam("epochs", args.epochs))

    # Data: a fixed permutation of the 60000 training images (the same for
    # every trial); its last --val-images are the validation set, never
    # trained on, and the first --train-images of the rest are trained on.
    images, labels = load_split(args.data, "train")
    if trial.input_shape and list(trial.input_shape) != list(images.shape[1:]):
        sys.exit("trial input_shape %s, but Fashion-MNIST images are %s (use --input-shape 1,28,28)"
                 % (trial.input_shape, list(images.shape[1:])))
    if args.val_images >= len(images):
        sys.exit("--val-images %d leaves none of the %d training images to train on"
                 % (args.val_images, len(images)))
    perm = torch.randperm(len(images), generator=torch.Generator().manual_seed(SPLIT_SEED))
    val_idx = perm[len(perm) - args.val_images:]
    train_idx = perm[:min(args.train_images, len(perm) - args.val_images)]
    x_train = normalise(images[train_idx]).to(device)
    y_train = labels[train_idx].to(device)
    x_val = normalise(images[val_idx]).to(device)
    y_val = labels[val_idx].to(device)
    del images, labels

    model = torch.jit.load(trial.model_path, map_location=device)
    params = sum(p.numel() for p in model.parameters())
    if optimizer_name == "sgd":
        opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum,
                              weight_decay=weight_decay, nesterov=momentum > 0)
    elif optimizer_name == "adamw":
        opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    else:
        sys.exit("optimizer %r: expected sgd or adamw" % optimizer_name)

    # Successive-halving promotion: continue from the previous rung's weights.
    start_epoch = 0
    if trial.previous_dir:
        ckpt_path = os.path.join(trial.previous_dir, "checkpoint.pt")
        if os.path.exists(ckpt_path):
            ckpt = torch.load(ckpt_path, map_location=device)
            model.load_state_dict(ckpt["model"])
            if "optimizer" in ckpt and ckpt.get("optimizer_name") == optimizer_name:
                opt.load_state_dict(ckpt["optimizer"])
            start_epoch = int(ckpt.get("epoch", 0))
            print("resumed from %s at epoch %d" % (ckpt_path, start_epoch), file=sys.stderr)

    steps_per_epoch = math.ceil(len(x_train) / batch_size)
    total_steps = max(1, epochs * steps_per_epoch)
    loss_fn = torch.nn.CrossEntropyLoss(label_smoothing=label_smoothing)
    # Batch order: the trial's seed, offset by the epochs already done so a
    # promoted trial does not replay its first epochs' order.
    shuffle = torch.Generator().manual_seed((trial.seed + start_epoch) % 2**63)

    val_acc = evaluate(model, x_val, y_val) if start_epoch >= epochs else float("nan")
    train_loss = float("nan")
    train_seconds = 0.0
    epoch = start_epoch
    for epoch in range(start_epoch + 1, epochs + 1):
        started = time.perf_counter()
        model.train()
        order = torch.randperm(len(x_train), generator=shuffle).to(device)
        loss_sum, seen = 0.0, 0
        for b in range(steps_per_epoch):
            # Cosine schedule over the whole run, one value per step; a
            # promoted trial picks it up where its epoch count puts it.
            step = (epoch - 1) * steps_per_epoch + b
            for group in opt.param_groups:
                group["lr"] = 0.5 * lr * (1.0 + math.cos(math.pi * step / total_steps))
            idx = order[b * batch_size:(b + 1) * batch_size]
            loss = loss_fn(model(x_train[idx]), y_train[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            loss_sum += loss.item() * len(idx)
            seen += len(idx)
            if b % 50 == 49 and sylva_trial.should_stop():
                # Pruned: Sylva has already decided the trial's state (PRUNED,
                # with the last reported values) and sends SIGTERM next, so
                # leave at once without a final line.
                return 0
        train_seconds += time.perf_counter() - started
        train_loss = loss_sum / max(1, seen)
        if not math.isfinite(train_loss):
            sys.exit("epoch %d: training diverged (loss %s)" % (epoch, train_loss))
        val_acc = evaluate(model, x_val, y_val)
        sylva_trial.report(epoch, val_acc=val_acc, train_loss=train_loss)
        if sylva_trial.should_stop():
            return 0  # pruned (see above); no final line

    # Keep the weights for the next rung (written atomically), then finish.
    ckpt_path = os.path.join(trial.trial_dir, "checkpoint.pt")
    tmp = ckpt_path + ".tmp"
    torch.save({"model": model.state_dict(), "optimizer": opt.state_dict(),
                "optimizer_name": optimizer_name, "epoch": max(epoch, start_epoch)}, tmp)
    os.replace(tmp, ckpt_path)

    final = {"val_acc": val_acc}
    if math.isfinite(train_loss):  # no epoch ran when resumed past the budget
        final["train_loss"] = train_loss
    final.update(train_seconds=train_seconds, params=params)
    sylva_trial.finish(**final)
    return 0


if __name__ == "__main__":
    sys.exit(main())
