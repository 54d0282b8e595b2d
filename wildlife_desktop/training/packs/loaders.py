"""Load official checkpoints into torch modules whose single output is the family's ONNX layout.

Only ``pw_resnet`` uses our own code (and is exercised by the tests). The other builders need the
upstream architecture code, installed on the build machine only (``pip install '.[train]'`` plus
the package named in the error message); they are written from the upstream sources named in
``docs/models.md`` but could not be run here, where those packages do not install.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ...core.errors import ModelPackError
from ...runtime.catalogue import CatalogueEntry
from .fetch import require_official
from .resnet import load_pw_resnet

Loader = Callable[[Path, CatalogueEntry], nn.Module]


class FirstOutput(nn.Module):
    """Wrap a module whose forward returns a tuple/list/dict and keep the tensor we export."""

    def __init__(self, inner: nn.Module):
        super().__init__()
        self.inner = inner

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y: Any = self.inner(x)
        while isinstance(y, (tuple, list)):
            y = y[0]
        return y


def _need(module: str, pip_name: str, entry: CatalogueEntry) -> Any:
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ModelPackError(
            f"Building '{entry.id}' needs the upstream architecture code: pip install {pip_name} "
            f"(licence {entry.code_licence}; build machine only, never a runtime dependency). ({exc})") from exc


def _torch_load(path: Path, entry: CatalogueEntry, *, full_pickle: bool) -> Any:
    """Load a checkpoint: ``weights_only`` (tensors, no code runs) unless ``full_pickle``.

    A full unpickle (pickled model objects) happens only for the official file of ``entry``,
    checked here against its published checksum, and ``build_pack`` runs such builders only inside
    the isolated child process (``isolate.py``).
    """
    if full_pickle:
        require_official(path, entry)
    try:
        return torch.load(path, map_location="cpu", weights_only=not full_pickle)
    except Exception as exc:  # noqa: BLE001 - torch raises many types for bad files
        raise ModelPackError(f"Cannot load {path.name} as a PyTorch checkpoint: {exc}") from exc


def load_pw_resnet_checkpoint(path: Path, entry: CatalogueEntry) -> nn.Module:
    """Pytorch-Wildlife ResNet classifiers (state dict only: loaded with ``weights_only=True``)."""
    if entry.resnet_layers is None:
        raise ModelPackError(f"Catalogue entry '{entry.id}' has no resnet_layers")
    n_out = 1 if len(entry.labels) == 2 else len(entry.labels)
    ckpt = _torch_load(path, entry, full_pickle=False)
    if not isinstance(ckpt, dict):
        raise ModelPackError(f"{path.name} is not a state-dict checkpoint")
    try:
        return load_pw_resnet(ckpt, entry.resnet_layers, n_out)
    except RuntimeError as exc:
        raise ModelPackError(f"{path.name} does not fit ResNet-{entry.resnet_layers} with {n_out} outputs: "
                             f"{str(exc)[:400]}") from exc


def load_yolov5_checkpoint(path: Path, entry: CatalogueEntry) -> nn.Module:
    """MegaDetector v5 / v1000 (YOLOv5): the checkpoint pickles the model, so yolov5's ``models``
    package must be importable (as MegaDetector's ``pytorch_detector.py`` arranges). The Detect
    layer's export mode makes the forward return the decoded ``[1, N, 5+nc]`` tensor only."""
    yolov5 = _need("yolov5", "yolov5", entry)
    root = str(Path(yolov5.__file__).parent)
    if root not in sys.path:
        sys.path.insert(0, root)  # the pickle refers to 'models.yolo.DetectionModel'
    ckpt = _torch_load(path, entry, full_pickle=True)
    model = (ckpt.get("ema") or ckpt["model"]) if isinstance(ckpt, dict) else ckpt
    model = model.float().eval()
    if hasattr(model, "fuse"):
        model = model.fuse()
    for m in model.modules():
        if type(m).__name__ in ("Detect", "Segment"):
            m.inplace = False
            m.export = True
            m.dynamic = True
    return FirstOutput(model).eval()


def load_ultralytics_checkpoint(path: Path, entry: CatalogueEntry) -> nn.Module:
    """MDv6 / MDv1000 ultralytics models (YOLOv9/v10/11, RT-DETR) in ultralytics' export mode:
    ``[1, 4+nc, A]`` (v8/v9/11), ``[1, 300, 6]`` (v10 end-to-end), ``[1, 300, 4+nc]`` (RT-DETR)."""
    ul = _need("ultralytics", "ultralytics", entry)
    require_official(path, entry)  # ultralytics unpickles the whole model
    cls = ul.RTDETR if entry.family == "rtdetr" else ul.YOLO
    model = cls(str(path)).model.float().eval()
    if hasattr(model, "fuse"):
        model = model.fuse()
    for m in model.modules():
        if hasattr(m, "export") and type(m).__name__.endswith(("Detect", "Decoder")):
            m.export = True
            m.format = "onnx"
            m.dynamic = entry.dynamic_input
    return FirstOutput(model).eval()


class _RtDetrToLayout(nn.Module):
    """RT-DETRv2 deploy outputs ``pred_logits`` / ``pred_boxes`` -> ``[1, Q, 4+nc]`` (boxes, sigmoid scores)."""

    def __init__(self, inner: nn.Module):
        super().__init__()
        self.inner = inner

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.inner(x)
        return torch.cat([out["pred_boxes"], out["pred_logits"].sigmoid()], dim=-1)


def load_pw_rtdetr_apache(path: Path, entry: CatalogueEntry) -> nn.Module:
    """MDV6-apa-rtdetr-c through Pytorch-Wildlife's ``MegaDetectorV6Apache`` (RT-DETRv2, Apache-2.0).
    Its ``model.model`` is ``cfg.model.deploy()``; we skip its postprocessor and export raw queries."""
    det_mod = _need("PytorchWildlife.models.detection", "PytorchWildlife", entry)
    require_official(path, entry)  # Pytorch-Wildlife unpickles the whole model
    version = "MDV6-rtdetr-e-apache" if entry.id.endswith("-e") else "MDV6-rtdetr-c-apache"
    det = det_mod.MegaDetectorV6Apache(weights=str(path), device="cpu", pretrained=False, version=version)
    return _RtDetrToLayout(det.model.model).eval()


def load_unsupported(path: Path, entry: CatalogueEntry) -> nn.Module:
    raise ModelPackError(
        f"'{entry.id}' is catalogued (URL, checksum, licence) but our builder cannot convert it yet: "
        f"{entry.notes}")


LOADERS: dict[str, Loader] = {
    "pw_resnet": load_pw_resnet_checkpoint,
    "yolov5": load_yolov5_checkpoint,
    "ultralytics": load_ultralytics_checkpoint,
    "pw_rtdetr_apache": load_pw_rtdetr_apache,
    "unsupported": load_unsupported,
}
