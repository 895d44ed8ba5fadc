#!/usr/bin/env python3
"""Converts an MNIST-format (IDX) dataset into the other formats Sylva reads.

    python3 examples/convert_idx.py /usr/share/datasets/fashion-mnist OUT \
        --train 3000 --test 500

writes, from the first --train training and --test test images:
  OUT/cifar10/   data_batch_1.bin, test_batch.bin (images padded to 32x32 and
                 repeated into three channels: CIFAR-10 records)
  OUT/folder/    train/CLASS/N.png and test/CLASS/N.png (gray PNG files)
  OUT/table.csv  one row per training image: 784 pixel columns and `label`

Each then trains with `sylva search --evaluator train --dataset OUT/...`.
Pure Python with zlib (PNG writing included), so it needs nothing beyond python3.
"""

import argparse
import gzip
import os
import struct
import zlib


def read_idx(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    _, _, ndim = struct.unpack_from(">HBB", data, 0)
    dims = struct.unpack_from(">%dI" % ndim, data, 4)
    return dims, data[4 + 4 * ndim:]


def find(folder, base):
    for name in (base + ".gz", base):
        if os.path.exists(os.path.join(folder, name)):
            return os.path.join(folder, name)
    raise SystemExit("%s: no %s[.gz]" % (folder, base))


def load(folder, prefix, count):
    dims, pixels = read_idx(find(folder, prefix + "-images-idx3-ubyte"))
    _, labels = read_idx(find(folder, prefix + "-labels-idx1-ubyte"))
    n, h, w = dims
    count = min(count, n)
    return [(pixels[i * h * w:(i + 1) * h * w], labels[i]) for i in range(count)], h, w


def png_bytes(gray, h, w):
    raw = b"".join(b"\x00" + gray[y * w:(y + 1) * w] for y in range(h))

    def chunk(kind, body):
        return (struct.pack(">I", len(body)) + kind + body +
                struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF))

    header = struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)  # 8-bit gray
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) +
            chunk(b"IEND", b""))


def cifar_record(gray, label, h, w):
    top, left = (32 - h) // 2, (32 - w) // 2
    plane = bytearray(32 * 32)
    for y in range(h):
        plane[(top + y) * 32 + left:(top + y) * 32 + left + w] = gray[y * w:(y + 1) * w]
    return bytes([label]) + bytes(plane) * 3


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("idx_folder")
    p.add_argument("out")
    p.add_argument("--train", type=int, default=3000)
    p.add_argument("--test", type=int, default=500)
    a = p.parse_args()
    train, h, w = load(a.idx_folder, "train", a.train)
    test, _, _ = load(a.idx_folder, "t10k", a.test)
    if h > 32 or w > 32:
        raise SystemExit("images are %dx%d; CIFAR records hold 32x32" % (w, h))

    os.makedirs(os.path.join(a.out, "cifar10"), exist_ok=True)
    for name, split in (("data_batch_1.bin", train), ("test_batch.bin", test)):
        with open(os.path.join(a.out, "cifar10", name), "wb") as f:
            for gray, label in split:
                f.write(cifar_record(gray, label, h, w))

    for split_name, split in (("train", train), ("test", test)):
        for i, (gray, label) in enumerate(split):
            d = os.path.join(a.out, "folder", split_name, "class%d" % label)
            os.makedirs(d, exist_ok=True)
            with open(os.path.join(d, "%05d.png" % i), "wb") as f:
                f.write(png_bytes(gray, h, w))

    with open(os.path.join(a.out, "table.csv"), "w") as f:
        f.write(",".join("p%d" % k for k in range(h * w)) + ",label\n")
        for gray, label in train:
            f.write(",".join(str(v) for v in gray) + ",%d\n" % label)
    print("wrote %s/cifar10, %s/folder, %s/table.csv (%d train, %d test images)" %
          (a.out, a.out, a.out, len(train), len(test)))


if __name__ == "__main__":
    main()
