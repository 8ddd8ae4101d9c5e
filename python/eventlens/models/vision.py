"""The seeds' ImageNet CNNs (torchvision), trained from scratch, fitted to event images.

Seeds 000 and 002 use ResNet50 (and seed 000 also DenseNet121, InceptionV3 and
MobileNetV2) on 224×224 RGB pictures.  We build the torchvision networks with
``weights=None`` (nothing can be downloaded, and ImageNet features do not
describe circle outlines anyway) and adapt them:

* **Input channels**: the stem convolution is rebuilt for C channels (6 for our
  multi-channel images, 3 for the seed's RGB picture).
* **Classes**: the classifier is rebuilt for the task's classes.
* **Small canvases** (``stem="auto"``): an ImageNet stem divides the image by 4
  before the first residual stage (7×7/2 conv + 3×3/2 max-pool), which on a
  64-px canvas leaves a 2×2 map for the last stage.  We pick the stem's total
  stride so that the last stage still sees ≥ 4×4: stride 4 (unchanged) for
  canvases ≥ 128 px, a 3×3/2 conv without the max-pool (stride 2) from 48 px,
  and a 3×3/1 conv without the max-pool (stride 1, as for CIFAR) below.  A
  3×3/1 stem never skips a 1-pixel outline; the extra cost is the price.
* **InceptionV3** has no stem knob that keeps its architecture; its valid
  convolutions need ≥ 75 px, so smaller images are upsampled bilinearly to
  ``min_size`` (default 75) inside the model — documented minimum, exported into
  the ONNX graph.  Auxiliary logits are off (no auxiliary loss is used).

Size knobs (``layers`` for ResNet, ``block_config``/``growth_rate`` for DenseNet,
``width_mult`` for MobileNetV2) keep the published defaults; tests and CPU
benchmarks shrink them and say so.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
import torch.nn.functional as F  # noqa: N812 - the usual torch spelling
import torchvision.models as tvm
from torch import nn

Stem = Literal["auto", "imagenet", "stride2", "stride1"]


def _stem_stride(stem: Stem, height: int, width: int) -> int:
    if stem == "auto":
        size = min(height, width)
        return 4 if size >= 128 else 2 if size >= 48 else 1
    strides = {"imagenet": 4, "stride2": 2, "stride1": 1}
    if stem not in strides:
        raise ValueError(f"stem = {stem!r}; choose auto, imagenet, stride2 or stride1")
    return strides[stem]


def build_resnet50(
    input_shape: tuple[int, ...],
    n_classes: int,
    stem: Stem = "auto",
    layers: Sequence[int] = (3, 4, 6, 3),
    width_per_group: int = 64,
) -> nn.Module:
    """ResNet50 (bottleneck blocks 3-4-6-3) for C-channel images."""
    c, h, w = input_shape
    model = tvm.ResNet(
        tvm.resnet.Bottleneck, list(layers), num_classes=n_classes, width_per_group=width_per_group
    )
    stride = _stem_stride(stem, h, w)
    if stride == 4:
        model.conv1 = nn.Conv2d(c, 64, kernel_size=7, stride=2, padding=3, bias=False)
    else:
        model.conv1 = nn.Conv2d(c, 64, kernel_size=3, stride=stride, padding=1, bias=False)
        model.maxpool = nn.Identity()
    nn.init.kaiming_normal_(model.conv1.weight, mode="fan_out", nonlinearity="relu")
    return model


def build_densenet121(
    input_shape: tuple[int, ...],
    n_classes: int,
    stem: Stem = "auto",
    growth_rate: int = 32,
    block_config: Sequence[int] = (6, 12, 24, 16),
    num_init_features: int = 64,
) -> nn.Module:
    """DenseNet121 (growth 32, blocks 6-12-24-16) for C-channel images."""
    c, h, w = input_shape
    model = tvm.DenseNet(
        growth_rate=growth_rate,
        block_config=tuple(block_config),
        num_init_features=num_init_features,
        num_classes=n_classes,
    )
    stride = _stem_stride(stem, h, w)
    if stride == 4:
        conv = nn.Conv2d(c, num_init_features, kernel_size=7, stride=2, padding=3, bias=False)
    else:
        conv = nn.Conv2d(c, num_init_features, kernel_size=3, stride=stride, padding=1, bias=False)
        model.features.pool0 = nn.Identity()
    nn.init.kaiming_normal_(conv.weight)
    model.features.conv0 = conv
    return model


def build_mobilenet_v2(
    input_shape: tuple[int, ...],
    n_classes: int,
    stem: Stem = "auto",
    width_mult: float = 1.0,
    dropout: float = 0.2,
    inverted_residual_setting: Sequence[Sequence[int]] | None = None,
) -> nn.Module:
    """MobileNetV2 for C-channel images.

    Its stem is a single 3×3/2 conv (total stride 2, no max-pool), so ``auto``
    keeps stride 2 from 48 px up and uses stride 1 below; ``imagenet`` equals
    ``stride2`` here.  ``inverted_residual_setting`` (rows of expansion t,
    channels c, repeats n, stride s) defaults to the published network.
    """
    c, h, w = input_shape
    setting = (
        [list(map(int, row)) for row in inverted_residual_setting]
        if inverted_residual_setting is not None
        else None
    )
    model = tvm.MobileNetV2(
        num_classes=n_classes,
        width_mult=width_mult,
        dropout=dropout,
        inverted_residual_setting=setting,
    )
    stride = min(_stem_stride(stem, h, w), 2)
    old = model.features[0][0]
    conv = nn.Conv2d(c, old.out_channels, kernel_size=3, stride=stride, padding=1, bias=False)
    nn.init.kaiming_normal_(conv.weight, mode="fan_out")
    model.features[0][0] = conv
    return model


class _UpsampleTo(nn.Module):
    """Bilinearly upsample images smaller than ``min_size`` (InceptionV3's minimum)."""

    def __init__(self, height: int, width: int, min_size: int) -> None:
        super().__init__()
        self.size = (max(height, min_size), max(width, min_size))
        self.active = self.size != (height, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.active:
            return x
        return F.interpolate(x, size=self.size, mode="bilinear", align_corners=False)


class _Inception(nn.Module):
    def __init__(self, up: _UpsampleTo, net: nn.Module) -> None:
        super().__init__()
        self.up = up
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(self.up(x))


def build_inception_v3(
    input_shape: tuple[int, ...],
    n_classes: int,
    min_size: int = 75,
    dropout: float = 0.5,
) -> nn.Module:
    """InceptionV3 (aux logits off) for C-channel images; upsamples below ``min_size`` px."""
    c, h, w = input_shape
    if min_size < 75:
        raise ValueError(f"inception_v3: min_size = {min_size}; InceptionV3 needs >= 75 px")
    net = tvm.Inception3(
        num_classes=n_classes,
        aux_logits=False,
        transform_input=False,
        init_weights=True,
        dropout=dropout,
    )
    old = net.Conv2d_1a_3x3
    net.Conv2d_1a_3x3 = type(old)(c, old.conv.out_channels, kernel_size=3, stride=2)
    # torchvision's own initialisation of Inception convolutions:
    nn.init.trunc_normal_(net.Conv2d_1a_3x3.conv.weight, std=0.1, a=-2, b=2)
    return _Inception(_UpsampleTo(h, w, min_size), net)
