#!/usr/bin/env python3
"""Paper-size reference networks for `npm run bench`: exports each to ONNX (TorchScript exporter, dynamic batch
axis) into a cache directory and times PyTorch on this machine as the reference for ONNX Runtime.

Usage: reference-nets.py --cache DIR --threads N [--quick] [--only NAMES]: exports, prints one JSON line
{torch, threads, networks: [{name, file, input, exportSeconds}]}, then serves timed runs on stdin (see serve()).

Networks (random weights; speed does not depend on the weights):
  resnet50-224, resnet50-512   torchvision.models.resnet50 (the papers' class of classifier)
  inception-resnet-v2-299      a compact, faithful implementation of Szegedy et al. 2016 as in the widely used
                               reference code (stem, mixed 5b, 10 x block35, reduction A, 20 x block17,
                               reduction B, 9 x block8 + 1 without ReLU, 1536-wide head; not in torchvision)
  unet-512                     a U-Net localiser (Ronneberger et al. 2015: 4 down / 4 up, base width 32,
                               batch norm, 1 input channel, 2 output classes)
--quick exports resnet50 at 64 x 64 only (a seconds-long smoke run of the same code path).
PyTorch runs as the recipe's code would: eval(), torch.no_grad(), NCHW tensors, float32.
"""
import argparse
import json
import os
import sys
import time

import torch
import torch.nn as nn


def conv_bn(cin, cout, k, s=1, p=0):
    return nn.Sequential(nn.Conv2d(cin, cout, k, s, p, bias=False), nn.BatchNorm2d(cout, eps=0.001), nn.ReLU(inplace=False))


class Mixed5b(nn.Module):
    def __init__(self):
        super().__init__()
        self.b0 = conv_bn(192, 96, 1)
        self.b1 = nn.Sequential(conv_bn(192, 48, 1), conv_bn(48, 64, 5, p=2))
        self.b2 = nn.Sequential(conv_bn(192, 64, 1), conv_bn(64, 96, 3, p=1), conv_bn(96, 96, 3, p=1))
        self.b3 = nn.Sequential(nn.AvgPool2d(3, 1, 1, count_include_pad=False), conv_bn(192, 64, 1))

    def forward(self, x):
        return torch.cat([self.b0(x), self.b1(x), self.b2(x), self.b3(x)], 1)


class Block35(nn.Module):
    def __init__(self, scale=0.17):
        super().__init__()
        self.scale = scale
        self.b0 = conv_bn(320, 32, 1)
        self.b1 = nn.Sequential(conv_bn(320, 32, 1), conv_bn(32, 32, 3, p=1))
        self.b2 = nn.Sequential(conv_bn(320, 32, 1), conv_bn(32, 48, 3, p=1), conv_bn(48, 64, 3, p=1))
        self.conv = nn.Conv2d(128, 320, 1)

    def forward(self, x):
        out = self.conv(torch.cat([self.b0(x), self.b1(x), self.b2(x)], 1))
        return torch.relu(out * self.scale + x)


class Mixed6a(nn.Module):
    def __init__(self):
        super().__init__()
        self.b0 = conv_bn(320, 384, 3, 2)
        self.b1 = nn.Sequential(conv_bn(320, 256, 1), conv_bn(256, 256, 3, p=1), conv_bn(256, 384, 3, 2))
        self.b2 = nn.MaxPool2d(3, 2)

    def forward(self, x):
        return torch.cat([self.b0(x), self.b1(x), self.b2(x)], 1)


class Block17(nn.Module):
    def __init__(self, scale=0.10):
        super().__init__()
        self.scale = scale
        self.b0 = conv_bn(1088, 192, 1)
        self.b1 = nn.Sequential(conv_bn(1088, 128, 1), conv_bn(128, 160, (1, 7), p=(0, 3)), conv_bn(160, 192, (7, 1), p=(3, 0)))
        self.conv = nn.Conv2d(384, 1088, 1)

    def forward(self, x):
        out = self.conv(torch.cat([self.b0(x), self.b1(x)], 1))
        return torch.relu(out * self.scale + x)


class Mixed7a(nn.Module):
    def __init__(self):
        super().__init__()
        self.b0 = nn.Sequential(conv_bn(1088, 256, 1), conv_bn(256, 384, 3, 2))
        self.b1 = nn.Sequential(conv_bn(1088, 256, 1), conv_bn(256, 288, 3, 2))
        self.b2 = nn.Sequential(conv_bn(1088, 256, 1), conv_bn(256, 288, 3, p=1), conv_bn(288, 320, 3, 2))
        self.b3 = nn.MaxPool2d(3, 2)

    def forward(self, x):
        return torch.cat([self.b0(x), self.b1(x), self.b2(x), self.b3(x)], 1)


class Block8(nn.Module):
    def __init__(self, scale=0.20, relu=True):
        super().__init__()
        self.scale = scale
        self.relu = relu
        self.b0 = conv_bn(2080, 192, 1)
        self.b1 = nn.Sequential(conv_bn(2080, 192, 1), conv_bn(192, 224, (1, 3), p=(0, 1)), conv_bn(224, 256, (3, 1), p=(1, 0)))
        self.conv = nn.Conv2d(448, 2080, 1)

    def forward(self, x):
        out = self.conv(torch.cat([self.b0(x), self.b1(x)], 1)) * self.scale + x
        return torch.relu(out) if self.relu else out


class InceptionResNetV2(nn.Module):
    """Inception-ResNet-v2 (Szegedy et al. 2016), layer for layer as the reference implementation; 299 x 299 x 3."""

    def __init__(self, num_classes=2):
        super().__init__()
        self.stem = nn.Sequential(
            conv_bn(3, 32, 3, 2), conv_bn(32, 32, 3), conv_bn(32, 64, 3, p=1), nn.MaxPool2d(3, 2),
            conv_bn(64, 80, 1), conv_bn(80, 192, 3), nn.MaxPool2d(3, 2),
        )
        self.mixed_5b = Mixed5b()
        self.repeat = nn.Sequential(*[Block35() for _ in range(10)])
        self.mixed_6a = Mixed6a()
        self.repeat_1 = nn.Sequential(*[Block17() for _ in range(20)])
        self.mixed_7a = Mixed7a()
        self.repeat_2 = nn.Sequential(*[Block8() for _ in range(9)])
        self.block8 = Block8(relu=False)
        self.conv2d_7b = conv_bn(2080, 1536, 1)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(1536, num_classes)

    def forward(self, x):
        x = self.stem(x)
        x = self.repeat(self.mixed_5b(x))
        x = self.repeat_1(self.mixed_6a(x))
        x = self.block8(self.repeat_2(self.mixed_7a(x)))
        x = self.pool(self.conv2d_7b(x)).flatten(1)
        return self.fc(x)


class UNet(nn.Module):
    """U-Net localiser: 4 down / 4 up, two 3x3 conv + BN + ReLU per level, base width 32; 1 -> 2 channels."""

    def __init__(self, base=32, cin=1, classes=2):
        super().__init__()
        w = [base * 2 ** i for i in range(5)]

        def double(a, b):
            return nn.Sequential(conv_bn(a, b, 3, p=1), conv_bn(b, b, 3, p=1))

        self.down = nn.ModuleList([double(cin, w[0])] + [double(w[i], w[i + 1]) for i in range(4)])
        self.up = nn.ModuleList([nn.ConvTranspose2d(w[i + 1], w[i], 2, 2) for i in reversed(range(4))])
        self.dec = nn.ModuleList([double(w[i] * 2, w[i]) for i in reversed(range(4))])
        self.head = nn.Conv2d(w[0], classes, 1)

    def forward(self, x):
        skips = []
        for i, d in enumerate(self.down):
            x = d(x if i == 0 else nn.functional.max_pool2d(x, 2))
            skips.append(x)
        x = skips.pop()
        for up, dec in zip(self.up, self.dec):
            x = dec(torch.cat([up(x), skips.pop()], 1))
        return self.head(x)


def networks(quick):
    import torchvision

    if quick:
        return [("resnet50-64", lambda: torchvision.models.resnet50(weights=None), (3, 64, 64))]
    return [
        ("resnet50-224", lambda: torchvision.models.resnet50(weights=None), (3, 224, 224)),
        ("resnet50-512", lambda: torchvision.models.resnet50(weights=None), (3, 512, 512)),
        ("inception-resnet-v2-299", InceptionResNetV2, (3, 299, 299)),
        ("unet-512", UNet, (1, 512, 512)),
    ]


def serve(models, threads):
    """Line protocol on stdin/stdout, so that the caller can alternate PyTorch and ONNX Runtime run by run (the same
    load for both): `run NAME BATCH` runs one forward pass (the first call for a NAME/BATCH makes the input and
    warms up) and answers {"ms", "cpuMs"} (wall and process CPU time, all threads); `drop NAME` frees a network;
    `quit` ends."""
    inputs = {}
    for line in sys.stdin:
        cmd = line.split()
        if not cmd or cmd[0] == "quit":
            break
        if cmd[0] == "drop":
            models.pop(cmd[1], None)
            inputs = {k: v for k, v in inputs.items() if k[0] != cmd[1]}
            print("{}", flush=True)
            continue
        name, b = cmd[1], int(cmd[2])
        model, shape = models[name]
        with torch.no_grad():
            if (name, b) not in inputs:
                inputs[(name, b)] = torch.rand(b, *shape)
                model(inputs[(name, b)])  # warm-up
            x = inputs[(name, b)]
            c0, t0 = time.process_time(), time.perf_counter()
            model(x)
            t1, c1 = time.perf_counter(), time.process_time()
        print(json.dumps({"ms": (t1 - t0) * 1000, "cpuMs": (c1 - c0) * 1000}), flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cache", required=True)
    ap.add_argument("--threads", type=int, required=True)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--only", default="", help="comma-separated network names (default: all)")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.set_num_interop_threads(1)
    torch.manual_seed(0)
    os.makedirs(a.cache, exist_ok=True)
    out = {"torch": torch.__version__, "threads": torch.get_num_threads(), "networks": []}
    only = [n for n in a.only.split(",") if n]
    models = {}
    for name, make, shape in networks(a.quick):
        if only and name not in only:
            continue
        model = make().eval()
        f = os.path.join(a.cache, f"{name}.onnx")
        t0 = time.perf_counter()
        if not os.path.exists(f):
            tmp = f + ".tmp"
            torch.onnx.export(model, torch.zeros(1, *shape), tmp, input_names=["input"], output_names=["output"],
                              dynamic_axes={"input": {0: "N"}, "output": {0: "N"}}, opset_version=13, do_constant_folding=True)
            os.replace(tmp, f)
        models[name] = (model, shape)
        out["networks"].append({"name": name, "file": f, "input": list(shape), "exportSeconds": time.perf_counter() - t0})
        print(f"  pytorch {name}: exported or cached ({time.perf_counter() - t0:.0f} s)", file=sys.stderr, flush=True)
    print(json.dumps(out), flush=True)
    serve(models, a.threads)


if __name__ == "__main__":
    main()
