"""Small random-weight torch networks with the real families' output layouts (tests only).

``TinyYoloV5``: anchor-based YOLOv5 Detect head, decoded ``[1, N, 5+nc]`` (cx, cy, w, h in input
pixels, objectness, class probabilities), any input size divisible by 32 (dynamic export).
``TinyYoloV10``: anchor-free distance head with an end-to-end top-300 over (anchor, class) pairs,
``[1, 300, 6]`` = x1, y1, x2, y2, score, class. Weights are random: outputs mean nothing.
"""

from __future__ import annotations

import math

import torch
from torch import nn

ANCHORS = ((10, 13, 16, 30, 33, 23), (30, 61, 62, 45, 59, 119), (116, 90, 156, 198, 373, 326))
STRIDES = (8, 16, 32)


def _conv(c_in: int, c_out: int, stride: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, stride, 1), nn.SiLU())


class _Trunk(nn.Module):
    """Strided convs giving feature maps at strides 8, 16, 32."""

    def __init__(self, width: int = 16):
        super().__init__()
        self.stem = nn.Sequential(_conv(3, width, 2), _conv(width, width, 2), _conv(width, width, 2))
        self.p4 = _conv(width, width, 2)
        self.p5 = _conv(width, width, 2)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        p3 = self.stem(x)
        p4 = self.p4(p3)
        return [p3, p4, self.p5(p4)]


def _spread(module: nn.Module, gain: float) -> None:
    """Larger random weights so scores spread over 0..1 instead of collapsing to ties."""
    g = torch.Generator().manual_seed(0)
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            fan_in = m.in_channels * m.kernel_size[0] * m.kernel_size[1]
            with torch.no_grad():
                m.weight.copy_(torch.randn(m.weight.shape, generator=g) * gain / fan_in**0.5)
                if m.bias is not None:
                    m.bias.copy_(torch.randn(m.bias.shape, generator=g) * 0.5)


class TinyYoloV5(nn.Module):
    def __init__(self, nc: int = 3, width: int = 16):
        super().__init__()
        self.nc, self.no, self.na = nc, nc + 5, 3
        self.trunk = _Trunk(width)
        self.heads = nn.ModuleList(nn.Conv2d(width, self.na * self.no, 1) for _ in STRIDES)
        self.register_buffer("anchors", torch.tensor(ANCHORS, dtype=torch.float32).view(3, 3, 2))
        _spread(self, 1.6)
        with torch.no_grad():  # YOLOv5's prior biases: few objects per image, so few confident boxes
            for head, s in zip(self.heads, STRIDES, strict=True):
                b = head.bias.view(self.na, self.no)
                b[:, 4] += math.log(8 / (640 / s) ** 2)
                b[:, 5:] += math.log(0.6 / (nc - 0.99))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        outs = []
        for i, f in enumerate(self.trunk(x)):
            p = self.heads[i](f)
            bs, _, ny, nx = p.shape
            p = p.view(bs, self.na, self.no, ny, nx).permute(0, 1, 3, 4, 2).sigmoid()
            yv, xv = torch.meshgrid(torch.arange(ny, dtype=torch.float32), torch.arange(nx, dtype=torch.float32),
                                    indexing="ij")
            grid = torch.stack((xv, yv), 2).view(1, 1, ny, nx, 2)
            anchor = self.anchors[i].view(1, self.na, 1, 1, 2)
            xy = (p[..., :2] * 2 - 0.5 + grid) * STRIDES[i]
            wh = (p[..., 2:4] * 2) ** 2 * anchor
            outs.append(torch.cat((xy, wh, p[..., 4:]), -1).view(bs, -1, self.no))
        return torch.cat(outs, 1)


class TinyYoloV10(nn.Module):
    def __init__(self, nc: int = 3, width: int = 16, max_det: int = 300):
        super().__init__()
        self.nc, self.max_det = nc, max_det
        self.trunk = _Trunk(width)
        self.box = nn.ModuleList(nn.Conv2d(width, 4, 1) for _ in STRIDES)
        self.cls = nn.ModuleList(nn.Conv2d(width, nc, 1) for _ in STRIDES)
        _spread(self, 1.6)
        with torch.no_grad():  # a low class prior, so that well under 300 rows clear a 0.05 floor
            for head in self.cls:
                head.bias -= 5.0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        boxes, scores = [], []
        for i, f in enumerate(self.trunk(x)):
            bs, _, ny, nx = f.shape
            yv, xv = torch.meshgrid(torch.arange(ny, dtype=torch.float32) + 0.5,
                                    torch.arange(nx, dtype=torch.float32) + 0.5, indexing="ij")
            centre = torch.stack((xv, yv), 0).view(1, 2, -1) * STRIDES[i]
            dist = torch.nn.functional.softplus(self.box[i](f)).view(bs, 4, -1) * STRIDES[i] * 2
            boxes.append(torch.cat((centre - dist[:, :2], centre + dist[:, 2:]), 1))
            scores.append(self.cls[i](f).view(bs, self.nc, -1).sigmoid())
        b = torch.cat(boxes, 2).transpose(1, 2)  # [bs, A, 4]
        s = torch.cat(scores, 2).transpose(1, 2)  # [bs, A, nc]
        k = min(self.max_det, s.shape[1] * self.nc)
        top, idx = s.flatten(1).topk(k, dim=1)
        anchor = idx // self.nc
        cls = (idx % self.nc).to(torch.float32)
        sel = torch.gather(b, 1, anchor.unsqueeze(-1).expand(-1, -1, 4))
        return torch.cat((sel, top.unsqueeze(-1), cls.unsqueeze(-1)), -1)
