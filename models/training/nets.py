"""Small 2-D CNNs in the spirit of the papers, sized for CPU training on 2 cores.

Every classifier ends in global-average-pooling + one linear layer, so the class-activation map
computed in the forward pass (relu(sum_c w_c * A_c)) equals Grad-CAM for the positive logit; it is
exported as a second graph output ("cam") next to the probability.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F


def conv_bn(cin, cout, stride=1):
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class PlainNet(nn.Module):
    """VGG-like: stacked 3x3 convolutions with max-pooling (stand-in for VGG16 of paper 000)."""

    def __init__(self, cin=1, width=16, extra=0):
        super().__init__()
        w = width
        self.features = nn.Sequential(
            conv_bn(cin, w), conv_bn(w, w), nn.MaxPool2d(2),
            conv_bn(w, 2 * w), conv_bn(2 * w, 2 * w), nn.MaxPool2d(2),
            conv_bn(2 * w, 4 * w), conv_bn(4 * w, 4 * w), nn.MaxPool2d(2),
            conv_bn(4 * w, 4 * w),
        )
        self.channels = 4 * w
        self.extra = extra
        self.head = nn.Linear(self.channels + extra, 1)

    def forward_features(self, x):
        return self.features(x)


class ResBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.c1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.b1 = nn.BatchNorm2d(cout)
        self.c2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.b2 = nn.BatchNorm2d(cout)
        self.skip = None
        if stride != 1 or cin != cout:
            self.skip = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        y = F.relu(self.b1(self.c1(x)))
        y = self.b2(self.c2(y))
        return F.relu(y + (x if self.skip is None else self.skip(x)))


class ResNetSmall(nn.Module):
    """ResNet-like with residual blocks (stand-in for ResNet-50 of papers 000, 002, 003)."""

    def __init__(self, cin=1, width=16, extra=0):
        super().__init__()
        w = width
        self.stem = conv_bn(cin, w)
        self.layers = nn.Sequential(ResBlock(w, w, 1), ResBlock(w, 2 * w, 2), ResBlock(2 * w, 4 * w, 2), ResBlock(4 * w, 4 * w, 2))
        self.channels = 4 * w
        self.extra = extra
        self.head = nn.Linear(self.channels + extra, 1)

    def forward_features(self, x):
        return self.layers(self.stem(x))


class CamClassifier(nn.Module):
    """Wraps a backbone: outputs (probability [N,1], cam [N,h,w]). With `extra` > 0 the clinical vector
    is concatenated to the pooled features before the linear layer (early fusion, paper 004); the CAM
    then uses the image part of the weights only."""

    def __init__(self, backbone):
        super().__init__()
        self.backbone = backbone

    def forward(self, x, clinical=None):
        a = self.backbone.forward_features(x)  # N,C,h,w
        pooled = a.mean(dim=(2, 3))
        if self.backbone.extra:
            pooled = torch.cat([pooled, clinical], dim=1)
        logit = self.backbone.head(pooled)
        prob = torch.sigmoid(logit)
        w = self.backbone.head.weight[0, : self.backbone.channels].view(1, -1, 1, 1)
        cam = F.relu((a * w).sum(dim=1))
        return prob, cam, logit


class UNetSmall(nn.Module):
    """Encoder-decoder segmenter for background / GTV / GTVln (stand-in for DeepLabv3 of paper 002 and the
    Mask R-CNN detector of paper 004). Output: per-pixel class probabilities [N,3,H,W]."""

    def __init__(self, cin=1, w=12, classes=3):
        super().__init__()
        self.e1 = nn.Sequential(conv_bn(cin, w), conv_bn(w, w))
        self.e2 = nn.Sequential(conv_bn(w, 2 * w), conv_bn(2 * w, 2 * w))
        self.e3 = nn.Sequential(conv_bn(2 * w, 4 * w), conv_bn(4 * w, 4 * w))
        self.b = nn.Sequential(conv_bn(4 * w, 4 * w))
        self.d3 = nn.Sequential(conv_bn(8 * w, 2 * w))
        self.d2 = nn.Sequential(conv_bn(4 * w, w))
        self.d1 = nn.Sequential(conv_bn(2 * w, w))
        self.out = nn.Conv2d(w, classes, 1)

    def forward(self, x):
        e1 = self.e1(x)
        e2 = self.e2(F.max_pool2d(e1, 2))
        e3 = self.e3(F.max_pool2d(e2, 2))
        b = self.b(F.max_pool2d(e3, 2))
        d3 = self.d3(torch.cat([F.interpolate(b, scale_factor=2.0, mode="nearest"), e3], 1))
        d2 = self.d2(torch.cat([F.interpolate(d3, scale_factor=2.0, mode="nearest"), e2], 1))
        d1 = self.d1(torch.cat([F.interpolate(d2, scale_factor=2.0, mode="nearest"), e1], 1))
        logits = self.out(d1)
        return logits


def build(arch, cin=1, extra=0, width=16):
    if arch == "plain":
        return CamClassifier(PlainNet(cin, width, extra))
    if arch == "resnet":
        return CamClassifier(ResNetSmall(cin, width, extra))
    if arch == "unet":
        return UNetSmall(cin, w=width)
    raise ValueError(f"unknown arch {arch}")
