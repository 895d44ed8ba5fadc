#!/usr/bin/env python3
"""Writes a folder of synthetic CIFAR-10-format data for the benchmarks.

    /usr/bin/python3 bench/make_cifar_like.py DIR [--train 10000] [--test 1000] [--seed 1]

DIR gets data_batch_1.bin, data_batch_2.bin, ... (10,000 records each, the last
one shorter) and test_batch.bin: records of one label byte (0-9) and 3,072 pixel
bytes (R, G, B planes of 32x32), as the real CIFAR-10 binary version has them.

The pixels are random but learnable: each class has a smooth colour pattern of
its own (4x4 random values, bilinearly upsampled), and every image is its class's
pattern at a random contrast plus uniform noise. Speed is what the benchmarks
measure; the patterns only keep the loss from being meaningless. Uses torch
(Debian's python3-torch: /usr/bin/python3); the same seed writes the same bytes.
"""

import argparse
import ctypes
import os
import sys

import torch

RECORDS_PER_FILE = 10000
CLASSES = 10


def records(count, templates, generator):
    """uint8 [count, 3073]: a label byte, then the 3x32x32 pixels."""
    labels = torch.randint(0, CLASSES, (count,), generator=generator)
    contrast = 0.6 + 0.4 * torch.rand(count, 1, 1, 1, generator=generator)
    noise = (torch.rand(count, 3, 32, 32, generator=generator) - 0.5) * 96.0
    pixels = (128.0 + (templates[labels] - 128.0) * contrast + noise).clamp(0, 255)
    out = torch.empty(count, 1 + 3 * 32 * 32, dtype=torch.uint8)
    out[:, 0] = labels.to(torch.uint8)
    out[:, 1:] = pixels.round().to(torch.uint8).view(count, -1)
    return out


def write(path, rows):
    rows = rows.contiguous()
    with open(path, "wb") as f:
        f.write(ctypes.string_at(rows.data_ptr(), rows.numel()))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("dir", help="folder to write (created if missing)")
    p.add_argument("--train", type=int, default=10000, help="training records [10000]")
    p.add_argument("--test", type=int, default=1000, help="test records [1000]")
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args(argv)
    if args.train < 1 or args.test < 1:
        p.error("--train and --test must be positive")
    os.makedirs(args.dir, exist_ok=True)

    generator = torch.Generator().manual_seed(args.seed)
    coarse = torch.rand(CLASSES, 3, 4, 4, generator=generator) * 255.0
    templates = torch.nn.functional.interpolate(coarse, size=(32, 32), mode="bilinear",
                                                align_corners=False)
    left, number = args.train, 1
    while left > 0:
        n = min(left, RECORDS_PER_FILE)
        write(os.path.join(args.dir, "data_batch_%d.bin" % number), records(n, templates, generator))
        left -= n
        number += 1
    write(os.path.join(args.dir, "test_batch.bin"), records(args.test, templates, generator))
    print("%s: %d training images in %d file(s), %d test images"
          % (args.dir, args.train, number - 1, args.test), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
