#!/usr/bin/env python3
"""The PyTorch side of bench/train_throughput.sh: a Sylva trial's network trained
in plain PyTorch with the built-in trainer's recipe, timed the same way.

Run through the command evaluator, which writes the trial's untrained network
(model.pt, TorchScript, initialised as the train evaluator initialises it) and
trial.json into the trial directory:

    sylva search ... --evaluator command --input-shape 3,32,32 --classes 10 \\
        --threads-per-worker T --command "/usr/bin/python3 $PWD/bench/train_throughput.py \\
        --data DIR --train-images N --val-images 500 --test-images 100"

The recipe is the train evaluator's: batch 128 (a last partial batch dropped),
SGD Nesterov momentum 0.9, weight decay 5e-4, lr 0.05 cosine per step, cross
entropy; augmentation crop (pad 4 black, random 32x32 crop), flip (p 1/2) and
cutout (16x16, centre anywhere, clipped, filled with the training mean), done
the usual fast PyTorch way: indexing and masks on the uint8 batch, then one
float conversion and per-channel standardisation. torch threads: the trial's.
The network is TorchScript (what Sylva writes), run with the optimising
executor off by default (--jit-optimize): op by op, as an eager nn.Module runs;
on a loaded 2-core machine that was about 20% faster per step than with it on.

Timed span, as the train evaluator's train_seconds: from loading the network
to the end of the test pass (network, optimizer, the epoch, validation on
--val-images and test on --test-images in chunks of 1,000). Reading the files
and the channel statistics come before it, as in Sylva (the dataset is read
when the evaluator is made). The data is prepared synchronously, so
data_wait_share is the time preparing batches over the loop's time.

Reports train_seconds, data_wait_share, loop_seconds (the epoch and the validation
pass: the span of data_wait_share, as in Sylva),
images_per_second (trained images / train_seconds), val_acc and test_acc.
"""

import argparse
import math
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
import sylva_trial  # noqa: E402  (needs the path above)

import torch  # noqa: E402

RECORD = 1 + 3 * 32 * 32
EVAL_CHUNK = 1000  # the train evaluator's kEvalChunk


def read_cifar(paths, limit):
    """The first `limit` records of CIFAR-10 binary files: uint8 [N,3,32,32], int64 [N]."""
    data = bytearray()
    for path in paths:
        if len(data) >= limit * RECORD:
            break
        with open(path, "rb") as f:
            data += f.read()
    n = min(limit, len(data) // RECORD)
    if n < limit:
        sys.exit("%s: %d images, %d wanted" % (", ".join(paths), n, limit))
    rows = torch.frombuffer(data, dtype=torch.uint8)[:n * RECORD].view(n, RECORD)
    return rows[:, 1:].reshape(n, 3, 32, 32).clone(), rows[:, 0].long()


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class Augment:
    """crop / flip / cutout of a uint8 batch [B,C,H,W] on its device."""

    def __init__(self, spec, fill, generator, device):
        self.crop, self.flip, self.cutout = 0, False, 0
        for word in filter(None, spec.split(",")):
            name, _, value = word.partition("=")
            if name == "crop":
                self.crop = int(value or 4)
            elif name == "flip":
                self.flip = True
            elif name == "cutout":
                self.cutout = int(value or 16)
            elif name != "none":
                sys.exit("--augment: %r is not crop, flip or cutout" % word)
        self.fill = fill.view(1, -1, 1, 1)
        self.gen = generator
        self.device = device

    def rand_int(self, high, size):
        return torch.randint(0, high, (size,), generator=self.gen).to(self.device)

    def __call__(self, x):
        b, c, h, w = x.shape
        if self.crop:
            p = self.crop
            padded = torch.nn.functional.pad(x, (p, p, p, p))
            oy = self.rand_int(2 * p + 1, b).view(b, 1, 1, 1)
            ox = self.rand_int(2 * p + 1, b).view(b, 1, 1, 1)
            rows = oy + torch.arange(h, device=x.device).view(1, 1, h, 1)
            cols = ox + torch.arange(w, device=x.device).view(1, 1, 1, w)
            bi = torch.arange(b, device=x.device).view(b, 1, 1, 1)
            ci = torch.arange(c, device=x.device).view(1, c, 1, 1)
            x = padded[bi, ci, rows, cols]
        if self.flip:
            mirror = (self.rand_int(2, b) == 1).view(b, 1, 1, 1)
            x = torch.where(mirror, x.flip(3), x)
        if self.cutout:
            half = self.cutout // 2
            cy = self.rand_int(h, b).view(b, 1, 1)
            cx = self.rand_int(w, b).view(b, 1, 1)
            ys = torch.arange(h, device=x.device).view(1, h, 1)
            xs = torch.arange(w, device=x.device).view(1, 1, w)
            box = ((ys >= cy - half) & (ys < cy - half + self.cutout) &
                   (xs >= cx - half) & (xs < cx - half + self.cutout)).unsqueeze(1)
            x = torch.where(box, self.fill, x)
        return x


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", required=True, help="folder of CIFAR-10 binary files")
    p.add_argument("--train-images", type=int, required=True, help="images per epoch")
    p.add_argument("--val-images", type=int, default=500)
    p.add_argument("--test-images", type=int, default=100)
    p.add_argument("--augment", default="crop,flip,cutout")
    p.add_argument("--device", default="cpu", help="cpu | cuda | cuda:N")
    p.add_argument("--channels-last", choices=("auto", "on", "off"), default="auto",
                   help="NHWC, as Sylva's --channels-last: auto is on for cuda")
    p.add_argument("--jit-optimize", choices=("on", "off"), default="off",
                   help="TorchScript's profiling/optimising executor; off (the default) runs "
                        "the graph op by op, nearest to an eager nn.Module")
    p.add_argument("--trial", help="trial.json (default: $SYLVA_TRIAL_JSON, else ./trial.json)")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    with torch.jit.optimized_execution(args.jit_optimize == "on"):
        return run(args)


def run(args):
    trial = sylva_trial.load(args.trial)
    if trial.model_path is None:
        sys.exit("trial %d has no model.pt" % trial.number)
    torch.manual_seed(trial.seed % 2**63)
    torch.set_num_threads(max(1, trial.threads))
    device = torch.device(args.device)
    channels_last = args.channels_last == "on" or (args.channels_last == "auto" and
                                                   device.type == "cuda")
    memory_format = torch.channels_last if channels_last else torch.contiguous_format

    # Data, before the timed span: training images, then validation images
    # after them; test images from test_batch.bin.
    batches = sorted(f for f in os.listdir(args.data) if f.startswith("data_batch_"))
    x, y = read_cifar([os.path.join(args.data, f) for f in batches],
                      args.train_images + args.val_images)
    x_train, y_train = x[:args.train_images].to(device), y[:args.train_images].to(device)
    x_val, y_val = x[args.train_images:].to(device), y[args.train_images:].to(device)
    x_test, y_test = read_cifar([os.path.join(args.data, "test_batch.bin")], args.test_images)
    x_test, y_test = x_test.to(device), y_test.to(device)
    scaled = x_train.float() / 255.0
    mean = scaled.mean(dim=(0, 2, 3))
    std = scaled.std(dim=(0, 2, 3))
    del scaled
    scale = (1.0 / (255.0 * std)).view(1, 3, 1, 1)
    shift = (mean / std).view(1, 3, 1, 1)
    fill = (mean * 255.0).round().clamp(0, 255).to(torch.uint8)
    shuffle = torch.Generator().manual_seed(trial.seed % 2**63)
    augment = Augment(args.augment, fill, shuffle, device)

    def normalise(batch):
        return (batch.float() * scale - shift).contiguous(memory_format=memory_format)

    def accuracy(model, xs, ys):
        model.eval()
        correct = 0
        with torch.no_grad():
            for i in range(0, len(xs), EVAL_CHUNK):
                logits = model(normalise(xs[i:i + EVAL_CHUNK]))
                correct += (logits.argmax(1) == ys[i:i + EVAL_CHUNK]).sum().item()
        return 100.0 * correct / max(1, len(xs))

    batch = 128
    steps = len(x_train) // batch
    if steps < 1:
        sys.exit("--train-images %d: fewer than one batch of %d" % (len(x_train), batch))
    lr0, momentum, weight_decay = 0.05, 0.9, 5e-4

    sync(device)
    start = time.perf_counter()
    model = torch.jit.load(trial.model_path, map_location=device)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    params = sum(p.numel() for p in model.parameters())
    opt = torch.optim.SGD(model.parameters(), lr=lr0, momentum=momentum,
                          weight_decay=weight_decay, nesterov=True)
    loss_fn = torch.nn.CrossEntropyLoss()

    model.train()
    sync(device)
    loop_start = time.perf_counter()
    prepare_seconds = 0.0
    order = torch.randperm(len(x_train), generator=shuffle).to(device)
    loss_sum = 0.0
    for step in range(steps):
        for group in opt.param_groups:
            group["lr"] = 0.5 * lr0 * (1.0 + math.cos(math.pi * step / steps))
        t0 = time.perf_counter()
        idx = order[step * batch:(step + 1) * batch]
        xb = normalise(augment(x_train[idx]))
        yb = y_train[idx]
        sync(device)
        prepare_seconds += time.perf_counter() - t0
        loss = loss_fn(model(xb), yb)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        value = loss.item()  # as Sylva on the CPU: a non-finite loss stops at once
        if not math.isfinite(value):
            sys.exit("step %d: loss %s" % (step + 1, value))
        loss_sum += value
    val_acc = accuracy(model, x_val, y_val)
    sync(device)
    loop_seconds = time.perf_counter() - loop_start
    test_acc = accuracy(model, x_test, y_test)
    sync(device)
    train_seconds = time.perf_counter() - start

    images = steps * batch
    print("pytorch: %d images in %.2f s (epoch + validation %.2f s): %.1f images/s, data wait %.3f"
          % (images, train_seconds, loop_seconds, images / train_seconds,
             prepare_seconds / loop_seconds), file=sys.stderr)
    sylva_trial.finish(val_acc=val_acc, test_acc=test_acc, train_loss=loss_sum / steps,
                       train_seconds=train_seconds, loop_seconds=loop_seconds,
                       data_wait_share=prepare_seconds / loop_seconds,
                       images_per_second=images / train_seconds, params=params)
    return 0


if __name__ == "__main__":
    sys.exit(main())
