#!/usr/bin/env python3
"""Writes einspace's four seed architectures as canonical bracket files and
checks their parameter counts.

einspace (Ericsson et al., NeurIPS 2024) seeds its evolutionary search with
"resnet18_no_maxpool+wideresnet16_4+transformer+mlp_mixer" (reference:
github.com/linusericsson/einspace, einspace/seed_architectures.py). This
script writes those four networks as derivation trees of
spaces/grammar/grammars/einspace.grammar, mirroring the reference's nesting of
sequential / branching / routing / computation modules node for node:

    resnet18.arch    einspace_resnet18_no_maxpool_architecture_dict
    wrn16-4.arch     einspace_wideresnet16_4_architecture_dict
    vit.arch         einspace_transformer_d4_architecture_dict
    mlp-mixer.arch   einspace_mlp_mixer_architecture_dict

Canonical form: [RULE child ...]; children are nested brackets or op labels.
    op          [M [C linear64]]
    sequential  [M X Y]
    route       [M [P im2col3k1s1p] [M ...] [R col2im]]
    branch      [M [B clone2] [M ...] [M ...] [A add]]   (2 branches)
                [M [B clone4] [M ...] [A concat_dim2]]   (4 or 8: one M, copied)
The root is [S ...] (sequential, branch or route).

The script also holds an independent shape/parameter counter over the bracket
text (parse, propagate shapes, count, add the builder's head) and prints each
seed's count at 3x64x64 and 1x28x28 with 10 classes against the paper's
figures. `--torch` additionally builds every seed as a plain PyTorch module
from the bracket text, runs a forward pass and counts its parameters, and
builds ResNet-18 and WRN-16-4 a third way from torch.nn layers.

Usage: python3 spaces/grammar/seeds/gen_seeds.py [--check] [--torch]
  (no flag)  write the four .arch files, then print the counts
  --check    do not write; fail if the files on disk differ from the generated text
  --torch    also run the PyTorch cross-checks (needs torch)
"""

import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))

# ----------------------------------------------------------------------------
# Tree constructors. A node is (rule, [children]); an op child is a str.

LINEAR_WIDTHS = (16, 32, 64, 128, 256, 512, 1024, 2048)
IM2COLS = {(1, 1, 0), (1, 2, 0), (3, 1, 1), (3, 2, 1), (4, 4, 0), (8, 8, 0), (16, 16, 0)}


def op(label):
    return ("M", [("C", [label])])


def seq(a, b):
    return ("M", [a, b])


def route(pre, inner, post):
    return ("M", [("P", [pre]), inner, ("R", [post])])


def branch(b, inners, agg):
    return ("M", [("B", [b])] + list(inners) + [("A", [agg])])


def root(m):
    assert m[0] == "M" and not (len(m[1]) == 1 and m[1][0][0] == "C"), "root must be a constructor"
    return ("S", m[1])


# --- building blocks, named after the reference's dicts ---------------------

def conv3x3(w):  # einspace_conv3x3_architecture_dict
    return route("im2col3k1s1p", op(f"linear{w}"), "col2im")


def strided_conv3x3(w):  # einspace_strided_conv3x3_architecture_dict
    return route("im2col3k2s1p", op(f"linear{w}"), "col2im")


def conv1x1(w):  # einspace_conv1x1_architecture_dict
    return route("im2col1k1s0p", op(f"linear{w}"), "col2im")


def strided_conv1x1(w):  # einspace_strided_conv1x1_architecture_dict
    return route("im2col1k2s0p", op(f"linear{w}"), "col2im")


def bn_relu():  # einspace_bn_relu_architecture_dict
    return seq(op("norm"), op("leakyrelu"))


def identity():
    return op("identity")


# ResNet-18 (no max-pool) -----------------------------------------------------

def resnet_stem_no_maxpool():
    # conv3x3(64) - norm - leakyrelu, then a stride-2 conv3x3(64) (no norm or
    # activation) where torchvision has its max-pool.
    return seq(seq(seq(conv3x3(64), op("norm")), op("leakyrelu")), strided_conv3x3(64))


def resnet_block(a, b):  # einspace_resnet_block_architecture_dict
    body = seq(seq(seq(conv3x3(a), op("norm")), op("leakyrelu")), seq(conv3x3(b), op("norm")))
    return seq(branch("clone2", [body, identity()], "add"), op("leakyrelu"))


def resnet_strided_block(a, b):  # einspace_resnet_strided_block_architecture_dict
    body = seq(seq(seq(strided_conv3x3(a), op("norm")), op("leakyrelu")),
               seq(conv3x3(b), op("norm")))
    shortcut = seq(strided_conv1x1(b), op("norm"))
    return seq(branch("clone2", [body, shortcut], "add"), op("leakyrelu"))


def resnet18():  # einspace_resnet18_no_maxpool_architecture_dict
    return root(seq(
        seq(resnet_stem_no_maxpool(),
            seq(seq(resnet_block(64, 64), resnet_block(64, 64)),
                seq(resnet_strided_block(128, 128), resnet_block(128, 128)))),
        seq(seq(resnet_strided_block(256, 256), resnet_block(256, 256)),
            seq(resnet_strided_block(512, 512), resnet_block(512, 512)))))


# WRN-16-4 --------------------------------------------------------------------

def wrn_stem():  # einspace_wideresnet_stem_architecture_dict
    return seq(seq(conv3x3(16), op("norm")), op("leakyrelu"))


def wrn_shortcut_block(w):  # einspace_resnet_shortcut_block_architecture_dict
    body = seq(seq(conv3x3(w), bn_relu()), conv3x3(w))
    return seq(branch("clone2", [body, conv1x1(w)], "add"), bn_relu())


def wrn_strided_shortcut_block(w):  # einspace_resnet_strided_shortcut_block_architecture_dict
    body = seq(seq(strided_conv3x3(w), bn_relu()), conv3x3(w))
    return seq(branch("clone2", [body, strided_conv1x1(w)], "add"), bn_relu())


def wrn_identity_block(w):  # einspace_resnet_identity_block_architecture_dict
    body = seq(seq(conv3x3(w), bn_relu()), conv3x3(w))
    return seq(branch("clone2", [body, identity()], "add"), bn_relu())


def wrn16_4():  # einspace_wideresnet16_4_architecture_dict
    return root(seq(
        wrn_stem(),
        seq(seq(seq(wrn_shortcut_block(64), wrn_identity_block(64)),
                seq(wrn_strided_shortcut_block(128), wrn_identity_block(128))),
            seq(wrn_strided_shortcut_block(256), wrn_identity_block(256)))))


# ViT (einspace "transformer": 4 post-norm layers, 4 heads, d=512) -------------

def patch_embed():
    # im2col4k4s0p + linear512, left in col mode (post-routing identity), then a
    # learnable positional encoding.
    return seq(route("im2col4k4s0p", op("linear512"), "identity"), op("pos_enc"))


def sdpa_head():  # einspace_sdpa_architecture_dict
    # softmax(Q K^T / sqrt(64)) V with Q, K, V = linear64; K^T comes from a
    # route whose post-routing is permute21.
    scores = branch("clone2", [op("linear64"), route("identity", op("linear64"), "permute21")],
                    "scaled_dot_product")
    return branch("clone2", [seq(scores, op("softmax")), op("linear64")], "dot_product")


def mhsa_h4():  # einspace_mhsa_h4_architecture_dict
    return seq(branch("clone4", [sdpa_head()], "concat_dim2"), op("linear512"))


def ffn():  # einspace_ffn_architecture_dict
    return seq(seq(op("linear512"), op("leakyrelu")), op("linear512"))


def transformer_layer():  # einspace_transformer_layer_architecture_dict
    return seq(seq(branch("clone2", [mhsa_h4(), identity()], "add"), op("norm")),
               seq(branch("clone2", [ffn(), identity()], "add"), op("norm")))


def vit():  # einspace_transformer_d4_architecture_dict
    L = transformer_layer
    return root(seq(patch_embed(), seq(seq(L(), L()), seq(L(), L()))))


# MLP-Mixer (8 layers, d=512) ---------------------------------------------------

def mixer_token_mlp():
    # einspace_channel_mixer_architecture_dict. Despite its name it mixes
    # tokens: permute21 -> linear_x4 -> leakyrelu -> linear_4th -> permute21.
    # The widths are relative to the input's last axis (the token count S), so
    # the same tree serves any input size; the reference's linear_4th is
    # linear_div4 here. einspace's sampling grammar has no relative linears;
    # Sylva's einspace grammar offers linear_x2/x4 and linear_div2/div4.
    return seq(seq(route("permute21", op("linear_x4"), "identity"), op("leakyrelu")),
               route("identity", op("linear_div4"), "permute21"))


def mixer_channel_mlp():  # einspace_token_mixer_architecture_dict (mixes channels)
    return seq(seq(op("linear256"), op("leakyrelu")), op("linear512"))


def mixer_layer():  # einspace_mlp_mixer_layer_architecture_dict
    body = seq(op("norm"), seq(mixer_token_mlp(), mixer_channel_mlp()))
    return branch("clone2", [body, identity()], "add")


def mlp_mixer():  # einspace_mlp_mixer_architecture_dict
    def X():
        return mixer_layer()
    return root(seq(patch_embed(),
                    seq(seq(seq(X(), X()), seq(X(), X())), seq(seq(X(), X()), seq(X(), X())))))


# ----------------------------------------------------------------------------
# Rendering

def flat(node):
    if isinstance(node, str):
        return node
    return "[" + node[0] + " " + " ".join(flat(c) for c in node[1]) + "]"


def render(node, indent=0, width=100):
    text = flat(node)
    if isinstance(node, str) or len(text) + indent <= width:
        return " " * indent + text
    lines = [" " * indent + "[" + node[0]]
    for c in node[1]:
        lines.append(render(c, indent + 2, width))
    lines[-1] += "]"
    return "\n".join(lines)


# ----------------------------------------------------------------------------
# Independent parser and shape/parameter counter over the bracket text.

class ShapeError(Exception):
    pass


# Relative-width linears (the reference's layers.py: linear_x4 = in*4,
# linear_4th = in//4 on the last axis; here linear_x4 and linear_div4).


def parse(text):
    text = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    tokens = re.findall(r"\[|\]|[^\s\[\]]+", text)
    pos = 0

    def node():
        nonlocal pos
        if tokens[pos] != "[":
            raise ValueError(f"expected '[' at token {pos}, got {tokens[pos]!r}")
        pos += 1
        name = tokens[pos]
        pos += 1
        children = []
        while tokens[pos] != "]":
            if tokens[pos] == "[":
                children.append(node())
            else:
                children.append(tokens[pos])
                pos += 1
        pos += 1
        return (name, children)

    tree = node()
    if pos != len(tokens):
        raise ValueError("text after the root's closing ']'")
    return tree


def is_im(s):
    return len(s) == 3


def is_col(s):
    return len(s) == 2


def leaf(node, rule):
    if not (isinstance(node, tuple) and node[0] == rule and len(node[1]) == 1
            and isinstance(node[1][0], str)):
        raise ValueError(f"expected [{rule} op], got {flat(node)[:60]}")
    return node[1][0]


def unary(label, s):
    """Output shape and parameter count of a C op."""
    if label in ("identity", "leakyrelu", "softmax"):
        return s, 0
    if label == "norm":
        return s, 2 * (s[0] if is_im(s) else s[-1])
    if label == "pos_enc":
        n = 1
        for d in s:
            n *= d
        return s, n
    m = re.fullmatch(r"linear_x(\d+)|linear_div(\d+)", label)
    if m:
        d = s[-1]
        if m.group(1):
            n = d * int(m.group(1))
        elif d % int(m.group(2)):
            raise ShapeError(f"{label} of width {d}")
        else:
            n = d // int(m.group(2))
        return s[:-1] + [n], d * n + n
    m = re.fullmatch(r"linear(\d+)", label)
    if m:
        n = int(m.group(1))
        if n not in LINEAR_WIDTHS:
            raise ShapeError(f"{label}: width not in the grammar")
        return s[:-1] + [n], s[-1] * n + n
    raise ShapeError(f"unknown op {label}")


def permute(code, s):
    if is_col(s):
        if code != "21":
            raise ShapeError(f"permute{code} on col {s}")
        return [s[1], s[0]]
    if code not in ("132", "213", "231", "312", "321"):
        raise ShapeError(f"permute{code} on im {s}")
    return [s[int(c) - 1] for c in code]


def pre_route(label, s):
    """Returns (shape, fold) for a P op; fold is (h', w') after an im2col."""
    if label == "identity":
        return s, None
    m = re.fullmatch(r"permute(\d+)", label)
    if m:
        return permute(m.group(1), s), None
    m = re.fullmatch(r"im2col(\d+)k(\d+)s(\d+)p", label)
    if m:
        k, st, p = map(int, m.groups())
        if (k, st, p) not in IM2COLS:
            raise ShapeError(f"{label} not in the grammar")
        if not is_im(s):
            raise ShapeError(f"{label} on col {s}")
        c, h, w = s[0], s[1] + 2 * p, s[2] + 2 * p
        if h < k or w < k:
            raise ShapeError(f"{label} on {s}: kernel larger than the padded input")
        fold = ((h - k) // st + 1, (w - k) // st + 1)
        return [fold[0] * fold[1], c * k * k], fold
    raise ShapeError(f"unknown pre-routing op {label}")


def post_route(label, s, fold):
    if label == "identity":
        return s
    m = re.fullmatch(r"permute(\d+)", label)
    if m:
        return permute(m.group(1), s)
    if label == "col2im":
        if fold is None:
            raise ShapeError("col2im without an im2col in its route")
        if not is_col(s):
            raise ShapeError(f"col2im on im {s}")
        plane = fold[0] * fold[1]
        if (s[0] * s[1]) % plane:
            raise ShapeError(f"col2im: {s} does not fold to {fold}")
        return [s[0] * s[1] // plane, fold[0], fold[1]]
    raise ShapeError(f"unknown post-routing op {label}")


def split(label, s):
    m = re.fullmatch(r"clone(\d)", label)
    if m:
        n = int(m.group(1))
        if n not in (2, 4, 8):
            raise ShapeError(label)
        return [list(s)] * n
    m = re.fullmatch(r"group(\d)_dim(\d)", label)
    if m:
        n, d = int(m.group(1)), int(m.group(2))
        if n not in (2, 4, 8) or not 1 <= d <= len(s) or s[d - 1] % n:
            raise ShapeError(f"{label} on {s}")
        part = list(s)
        part[d - 1] //= n
        return [part] * n
    raise ShapeError(f"unknown branching op {label}")


def aggregate(label, shapes):
    if label == "add":
        if any(x != shapes[0] for x in shapes):
            raise ShapeError(f"add of {shapes}")
        return shapes[0]
    m = re.fullmatch(r"concat_dim(\d)", label)
    if m:
        d = int(m.group(1))
        if not 1 <= d <= len(shapes[0]):
            raise ShapeError(f"{label} on {shapes[0]}")
        out = list(shapes[0])
        out[d - 1] = 0
        for x in shapes:
            if len(x) != len(out) or any(x[i] != out[i] for i in range(len(x)) if i != d - 1):
                raise ShapeError(f"{label} of {shapes}")
            out[d - 1] += x[d - 1]
        return out
    if label in ("dot_product", "scaled_dot_product"):
        if len(shapes) != 2:
            raise ShapeError(f"{label} of {len(shapes)} tensors")
        a, b = shapes
        if len(a) != len(b) or a[-1] != b[-2] or (is_im(a) and a[0] != b[0]):
            raise ShapeError(f"{label}: {a} @ {b}")
        return a[:-1] + [b[-1]]
    raise ShapeError(f"unknown aggregation {label}")


def module(node, s):
    """Shape and parameter count of an S or M node applied to shape s."""
    name, ch = node
    if name not in ("S", "M"):
        raise ValueError(f"expected S or M, got {name}")
    if len(ch) == 1 and ch[0][0] == "C":
        if name == "S":
            raise ShapeError("the root cannot be a bare op")
        return unary(leaf(ch[0], "C"), s)
    if ch[0][0] == "P":  # route
        if len(ch) != 3:
            raise ValueError("route needs P M R")
        s1, fold = pre_route(leaf(ch[0], "P"), s)
        s2, p = module(ch[1], s1)
        return post_route(leaf(ch[2], "R"), s2, fold), p
    if ch[0][0] == "B":  # branch
        parts = split(leaf(ch[0], "B"), s)
        inner = ch[1:-1]
        if len(parts) == 2:
            if len(inner) != 2:
                raise ValueError("a 2-way branch has two M children")
        else:
            if len(inner) != 1:
                raise ValueError("a 4- or 8-way branch has one M child")
            inner = inner * len(parts)  # deep copies: same shapes, own weights
        outs, total = [], 0
        for m, x in zip(inner, parts):
            o, p = module(m, x)
            outs.append(o)
            total += p
        return aggregate(leaf(ch[-1], "A"), outs), total
    if len(ch) != 2:
        raise ValueError(f"sequential needs two M children, got {len(ch)}")
    s1, p1 = module(ch[0], s)
    s2, p2 = module(ch[1], s1)
    return s2, p1 + p2


def head(s, classes):
    # im [C,H,W] -> mean over H,W -> Linear(C, classes);
    # col [S,D] -> mean over D -> Linear(S, classes).
    n = s[0]
    return n * classes + classes


def count(tree, input_shape, classes=10):
    out, p = module(tree, list(input_shape))
    return out, p + head(out, classes)


def stats(tree):
    """Rule nodes (brackets) and depth (root = 1)."""
    nodes, depth = 0, 0
    stack = [(tree, 1)]
    while stack:
        n, d = stack.pop()
        nodes += 1
        depth = max(depth, d)
        for c in n[1]:
            if not isinstance(c, str):
                stack.append((c, d + 1))
    return nodes, depth


# ----------------------------------------------------------------------------

PAPER = {"resnet18": 11.2e6, "wrn16-4": 2.8e6, "vit": 4.4e6, "mlp-mixer": 6.5e6}
INPUTS = {"3x64x64": (3, 64, 64), "1x28x28": (1, 28, 28)}

SEEDS = [
    ("resnet18", resnet18,
     "ResNet-18 without max-pool (einspace seed 'resnet18_no_maxpool'): conv3x3-64, norm,\n"
     "leakyrelu, then a stride-2 conv3x3-64 in place of the max-pool; 2+2+2+2 basic blocks\n"
     "(64/128/256/512), strided 1x1 conv + norm shortcuts; every conv has a bias."),
    ("wrn16-4", wrn16_4,
     "WRN-16-4 (einspace seed 'wideresnet16_4'): conv3x3-16 stem, 3 stages of 2 blocks\n"
     "(64/128/256), conv-bn-relu-conv, 1x1 conv shortcut on each stage's first block,\n"
     "bn-relu after each residual sum (the reference's post-activation form)."),
    ("vit", vit,
     "ViT (einspace seed 'transformer' = einspace_transformer_d4): 4x4 patches (im2col4k4s0p)\n"
     "-> linear512, learnable positional encoding, 4 post-norm layers of 4-head attention\n"
     "(head dim 64, concat -> linear512) and a 512-512-512 leakyrelu MLP."),
    ("mlp-mixer", mlp_mixer,
     "MLP-Mixer (einspace seed 'mlp_mixer'): 4x4 patches -> linear512, learnable positional\n"
     "encoding, 8 pre-norm mixer layers: token MLP (permute21, S->4S, leakyrelu, 4S->S,\n"
     "permute21) then channel MLP (512->256->512). The token MLP's widths are relative\n"
     "(linear_x4, linear_div4: the reference's linear_x4 / linear_4th), so the tree is\n"
     "valid for any input size; einspace's own sampling grammar lacks them, Sylva's has them."),
]


def counts(tree):
    out = {}
    for name, shape in INPUTS.items():
        try:
            out[name] = count(tree, shape)[1]
        except ShapeError as e:
            out[name] = e
    return out


def describe(c):
    return f"{c:,}" if isinstance(c, int) else f"not shape-valid ({c})"


def file_text(name, tree, about):
    c = counts(tree)
    nodes, depth = stats(tree)
    lines = [f"# {line}" for line in about.splitlines()]
    lines.append("# Written by spaces/grammar/seeds/gen_seeds.py; grammar spaces/grammar/grammars/einspace.grammar.")
    lines.append(f"# Parameters with 10 classes (head included): 3x64x64 {describe(c['3x64x64'])};"
                 f" 1x28x28 {describe(c['1x28x28'])}.")
    lines.append(f"# Paper (3x64x64): {PAPER[name] / 1e6:.1f}M. Tree: {nodes} rule nodes,"
                 f" depth {depth}.")
    return "\n".join(lines) + "\n" + render(tree) + "\n"


def main(argv):
    check = "--check" in argv
    failed = False
    texts = {}
    for name, fn, about in SEEDS:
        tree = fn()
        text = file_text(name, tree, about)
        path = os.path.join(HERE, name + ".arch")
        if check:
            with open(path) as f:
                if f.read() != text:
                    print(f"{path}: differs from the generated text")
                    failed = True
        else:
            with open(path, "w") as f:
                f.write(text)
        texts[name] = text

    print(f"{'seed':<10} {'3x64x64':>12} {'paper':>6} {'diff':>7} {'1x28x28':>12}  nodes depth")
    for name, _, _ in SEEDS:
        tree = parse(texts[name])  # count from the text, not from the builder's tuples
        c = counts(tree)
        nodes, depth = stats(tree)
        big = c["3x64x64"]
        diff = (big - PAPER[name]) / PAPER[name]
        small = c["1x28x28"]
        small_s = f"{small:>12,}" if isinstance(small, int) else f"{'invalid':>12}"
        print(f"{name:<10} {big:>12,} {PAPER[name] / 1e6:>5.1f}M {diff:>+7.2%} {small_s}"
              f"  {nodes:>5} {depth:>5}")
        if not isinstance(small, int):
            print(f"{'':<10} 1x28x28: {small}")
        if abs(diff) > 0.01:
            print(f"{'':<10} note: {abs(diff):.2%} from the paper's rounded {PAPER[name] / 1e6:.1f}M")

    if "--torch" in argv:
        failed |= torch_checks(texts)
    return 1 if failed else 0


# ----------------------------------------------------------------------------
# PyTorch cross-checks (only with --torch).

def torch_checks(texts):
    import copy

    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    class Op(nn.Module):
        def __init__(self, label, s):
            super().__init__()
            self.label = label
            if label == "norm":
                self.f = nn.BatchNorm2d(s[0]) if is_im(s) else nn.LayerNorm(s[-1])
            elif label == "pos_enc":
                self.pos = nn.Parameter(torch.randn(1, *s) * 0.02)
            elif label.startswith("linear_x"):
                self.f = nn.Linear(s[-1], s[-1] * int(label[8:]))
            elif label.startswith("linear_div"):
                self.f = nn.Linear(s[-1], s[-1] // int(label[10:]))
            elif label.startswith("linear"):
                self.f = nn.Linear(s[-1], int(label[6:]))

        def forward(self, x):
            if self.label == "identity":
                return x
            if self.label == "leakyrelu":
                return F.leaky_relu(x, 0.01)
            if self.label == "softmax":
                return torch.softmax(x, -1)
            if self.label == "pos_enc":
                return x + self.pos
            return self.f(x)

    def perm(code):
        return [0] + [int(c) for c in code]

    class Route(nn.Module):
        def __init__(self, pre, inner, post, fold):
            super().__init__()
            self.pre, self.inner, self.post, self.fold = pre, inner, post, fold

        def forward(self, x):
            m = re.fullmatch(r"im2col(\d+)k(\d+)s(\d+)p", self.pre)
            if m:
                k, s, p = map(int, m.groups())
                x = F.unfold(x, k, padding=p, stride=s).permute(0, 2, 1)
            elif self.pre.startswith("permute"):
                x = x.permute(perm(self.pre[7:]))
            x = self.inner(x)
            if self.post == "col2im":
                x = x.permute(0, 2, 1).reshape(x.shape[0], -1, *self.fold)
            elif self.post.startswith("permute"):
                x = x.permute(perm(self.post[7:]))
            return x

    class Branch(nn.Module):
        def __init__(self, b, inner, agg):
            super().__init__()
            self.b, self.inner, self.agg = b, nn.ModuleList(inner), agg

        def forward(self, x):
            if self.b.startswith("clone"):
                xs = [x] * len(self.inner)
            else:
                n, d = map(int, re.fullmatch(r"group(\d)_dim(\d)", self.b).groups())
                xs = torch.split(x, x.shape[d] // n, d)
            ys = [m(v) for m, v in zip(self.inner, xs)]
            if self.agg == "add":
                return sum(ys)
            if self.agg.startswith("concat_dim"):
                return torch.cat(ys, int(self.agg[10:]))
            out = ys[0] @ ys[1]
            return out / ys[0].shape[-1] ** 0.5 if self.agg == "scaled_dot_product" else out

    def build(node, s):
        """(module, output shape); shapes come from the analytic rules so the
        torch forward pass below is an independent check of them."""
        _, ch = node
        if len(ch) == 1 and ch[0][0] == "C":
            label = leaf(ch[0], "C")
            return Op(label, s), unary(label, s)[0]
        if ch[0][0] == "P":
            pre, post = leaf(ch[0], "P"), leaf(ch[2], "R")
            s1, fold = pre_route(pre, s)
            inner, s2 = build(ch[1], s1)
            return Route(pre, inner, post, fold), post_route(post, s2, fold)
        if ch[0][0] == "B":
            b, agg = leaf(ch[0], "B"), leaf(ch[-1], "A")
            parts = split(b, s)
            if len(parts) == 2:
                built = [build(m, x) for m, x in zip(ch[1:-1], parts)]
            else:
                first = build(ch[1], parts[0])
                built = [first] + [(copy.deepcopy(first[0]), first[1]) for _ in parts[1:]]
            return Branch(b, [m for m, _ in built], agg), aggregate(agg, [o for _, o in built])
        a, s1 = build(ch[0], s)
        b, s2 = build(ch[1], s1)
        return nn.Sequential(a, b), s2

    class Net(nn.Module):
        def __init__(self, tree, shape, classes=10):
            super().__init__()
            self.body, out = build(tree, list(shape))
            self.out = out
            self.fc = nn.Linear(out[0], classes)

        def forward(self, x):
            y = self.body(x)
            y = y.mean(dim=(2, 3)) if y.dim() == 4 else y.mean(dim=-1)
            return self.fc(y)

    def nparams(m):
        return sum(p.numel() for p in m.parameters())

    failed = False
    print("\nPyTorch: each seed built from its bracket text, one forward pass (batch 2)")
    for name, _, _ in SEEDS:
        tree = parse(texts[name])
        for iname, shape in INPUTS.items():
            try:
                expect = count(tree, shape)[1]
            except ShapeError as e:
                print(f"  {name:<10} {iname}: skipped, not shape-valid ({e})")
                continue
            net = Net(tree, shape).eval()
            with torch.no_grad():
                body = net.body(torch.randn(2, *shape))
                y = net(torch.randn(2, *shape))
            ok = (list(body.shape[1:]) == net.out and tuple(y.shape) == (2, 10)
                  and nparams(net) == expect)
            failed |= not ok
            print(f"  {name:<10} {iname}: torch {nparams(net):>12,}  analytic {expect:>12,}"
                  f"  body out {list(body.shape[1:])}  {'ok' if ok else 'MISMATCH'}")

    # ResNet-18 and WRN-16-4 a third way, straight from torch.nn layers.
    def conv(cin, cout, k, s, bias=True):
        return nn.Conv2d(cin, cout, k, s, k // 2, bias=bias)

    class Basic(nn.Module):  # the reference's resnet (strided) block
        def __init__(self, cin, cout, stride):
            super().__init__()
            self.body = nn.Sequential(conv(cin, cout, 3, stride), nn.BatchNorm2d(cout),
                                      nn.LeakyReLU(), conv(cout, cout, 3, 1), nn.BatchNorm2d(cout))
            self.short = (nn.Identity() if stride == 1 and cin == cout else
                          nn.Sequential(conv(cin, cout, 1, stride), nn.BatchNorm2d(cout)))

        def forward(self, x):
            return F.leaky_relu(self.body(x) + self.short(x))

    def resnet18_nn(cin, classes=10):
        layers = [conv(cin, 64, 3, 1), nn.BatchNorm2d(64), nn.LeakyReLU(), conv(64, 64, 3, 2)]
        c = 64
        for w, s in ((64, 1), (128, 2), (256, 2), (512, 2)):
            layers += [Basic(c, w, s), Basic(w, w, 1)]
            c = w
        return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c, classes))

    class WrnBlock(nn.Module):  # the reference's (strided) shortcut / identity block
        def __init__(self, cin, cout, stride):
            super().__init__()
            self.body = nn.Sequential(conv(cin, cout, 3, stride), nn.BatchNorm2d(cout),
                                      nn.LeakyReLU(), conv(cout, cout, 3, 1))
            self.short = (nn.Identity() if stride == 1 and cin == cout else conv(cin, cout, 1, stride))
            self.post = nn.Sequential(nn.BatchNorm2d(cout), nn.LeakyReLU())

        def forward(self, x):
            return self.post(self.body(x) + self.short(x))

    def wrn_nn(cin, classes=10):
        layers = [conv(cin, 16, 3, 1), nn.BatchNorm2d(16), nn.LeakyReLU()]
        c = 16
        for w, s in ((64, 1), (128, 2), (256, 2)):
            layers += [WrnBlock(c, w, s), WrnBlock(w, w, 1)]
            c = w
        return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c, classes))

    # torchvision's resnet18(num_classes=10), rebuilt (torchvision is not installed):
    # 7x7/2 stem without bias, max-pool, bias-free convs.
    class TvBasic(nn.Module):
        def __init__(self, cin, cout, stride):
            super().__init__()
            self.body = nn.Sequential(conv(cin, cout, 3, stride, False), nn.BatchNorm2d(cout),
                                      nn.ReLU(), conv(cout, cout, 3, 1, False), nn.BatchNorm2d(cout))
            self.short = (nn.Identity() if stride == 1 and cin == cout else
                          nn.Sequential(conv(cin, cout, 1, stride, False), nn.BatchNorm2d(cout)))

        def forward(self, x):
            return F.relu(self.body(x) + self.short(x))

    def tv_resnet18(classes=10):
        layers = [nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64), nn.ReLU(),
                  nn.MaxPool2d(3, 2, 1)]
        c = 64
        for w, s in ((64, 1), (128, 2), (256, 2), (512, 2)):
            layers += [TvBasic(c, w, s), TvBasic(w, w, 1)]
            c = w
        return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c, classes))

    print("\nPyTorch: plain torch.nn models")
    for label, fn, seed in (("ResNet-18 (reference form)", resnet18_nn, "resnet18"),
                            ("WRN-16-4 (reference form)", wrn_nn, "wrn16-4")):
        for iname, shape in INPUTS.items():
            m = fn(shape[0]).eval()
            with torch.no_grad():
                y = m(torch.randn(2, *shape))
            expect = count(parse(texts[seed]), shape)[1]
            ok = nparams(m) == expect and tuple(y.shape) == (2, 10)
            failed |= not ok
            print(f"  {label:<27} {iname}: {nparams(m):>12,} (seed {expect:>12,})"
                  f"  {'ok' if ok else 'MISMATCH'}")
    print(f"  {'torchvision resnet18':<27} 3x64x64: {nparams(tv_resnet18()):>12,} (for comparison)")
    return failed


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
