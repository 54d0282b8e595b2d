"""Plain-torch ResNet-18/50 with torchvision's parameter names, and the Pytorch-Wildlife classifier layout.

Pytorch-Wildlife's ``PlainResNetClassifier`` (``resnet_base/base_classifier.py``) is a torchvision
``ResNet`` backbone (``net.feature.*``, with an unused 1000-class ``fc``) followed by
``net.classifier`` = ``Linear(512 * expansion, num_cls)``; checkpoints hold ``{"state_dict": ...}``.
This module rebuilds that network without torchvision so the official checkpoints load here.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample: nn.Module | None = None):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample: nn.Module | None = None):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride, 1, bias=False)  # stride on the 3x3 (torchvision v1.5)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * 4, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * 4)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


_LAYOUTS: dict[int, tuple[type[BasicBlock] | type[Bottleneck], tuple[int, int, int, int]]] = {
    18: (BasicBlock, (2, 2, 2, 2)),
    34: (BasicBlock, (3, 4, 6, 3)),
    50: (Bottleneck, (3, 4, 6, 3)),
    101: (Bottleneck, (3, 4, 23, 3)),
}


class ResNetFeatures(nn.Module):
    """ResNet trunk up to global average pooling (``[N, 512 * expansion]`` features)."""

    def __init__(self, depth: int):
        super().__init__()
        if depth not in _LAYOUTS:
            raise ValueError(f"ResNet-{depth} is not supported (use {sorted(_LAYOUTS)})")
        block, layers = _LAYOUTS[depth]
        self.out_features = 512 * block.expansion
        self.inplanes = 64
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        self.layer1 = self._make_layer(block, 64, layers[0])
        self.layer2 = self._make_layer(block, 128, layers[1], 2)
        self.layer3 = self._make_layer(block, 256, layers[2], 2)
        self.layer4 = self._make_layer(block, 512, layers[3], 2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def _make_layer(self, block: type[BasicBlock] | type[Bottleneck], planes: int, blocks: int,
                    stride: int = 1) -> nn.Sequential:
        downsample = None
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = nn.Sequential(nn.Conv2d(self.inplanes, planes * block.expansion, 1, stride, bias=False),
                                       nn.BatchNorm2d(planes * block.expansion))
        layers = [block(self.inplanes, planes, stride, downsample)]
        self.inplanes = planes * block.expansion
        layers += [block(self.inplanes, planes) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return torch.flatten(self.avgpool(x), 1)


class PWResNetClassifier(nn.Module):
    """``feature`` (ResNet trunk) + ``classifier`` (Linear): the Pytorch-Wildlife ResNet classifier."""

    def __init__(self, depth: int, num_classes: int):
        super().__init__()
        self.feature = ResNetFeatures(depth)
        self.classifier = nn.Linear(self.feature.out_features, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.feature(x))


def pw_state_dict(checkpoint: Mapping[str, Any]) -> OrderedDict[str, torch.Tensor]:
    """Map a Pytorch-Wildlife checkpoint to :class:`PWResNetClassifier` keys.

    Accepts ``{"state_dict": {...}}`` or a bare state dict; strips ``module.`` / ``net.`` prefixes
    and drops the backbone's unused ImageNet ``feature.fc.*`` head.
    """
    state = checkpoint.get("state_dict", checkpoint)
    out: OrderedDict[str, torch.Tensor] = OrderedDict()
    for key, value in state.items():
        k = key
        for prefix in ("module.", "net."):
            if k.startswith(prefix):
                k = k[len(prefix):]
        if k.startswith("feature.fc."):
            continue
        out[k] = value
    return out


def load_pw_resnet(checkpoint: Mapping[str, Any], depth: int, num_classes: int) -> PWResNetClassifier:
    """Build the network and load the checkpoint strictly (every key must fit).

    Raises:
        RuntimeError: missing or unexpected keys, or shape mismatches (wrong depth/classes).
    """
    model = PWResNetClassifier(depth, num_classes)
    model.load_state_dict(pw_state_dict(checkpoint), strict=True)
    return model.eval()
