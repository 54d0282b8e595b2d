"""Species classifier: square crops around detections, batched, softmax top-k."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..core.errors import ModelLoadError
from ..core.records import BBox, Classification
from .families import FAMILIES
from .manifest import ModelManifest
from .postprocess import CONF_DIGITS
from .preprocess import INPUT_DTYPES, InputSpec, crop_batch
from .session import open_image_model


def softmax(logits: np.ndarray) -> np.ndarray:
    """Numerically stable softmax over the last axis (float64)."""
    z = np.asarray(logits, dtype=np.float64)
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def logits_to_probs(logits: np.ndarray) -> np.ndarray:
    """``[N, C]`` logits to ``[N, C]`` probabilities; ``[N, 1]`` (binary) to ``[N, 2]`` via sigmoid.

    For a binary model the single logit is the positive class (label index 1), as in
    Pytorch-Wildlife's binary ResNets.
    """
    z = np.asarray(logits, dtype=np.float64)
    if z.ndim == 1:
        z = z[None, :]
    if z.shape[1] == 1:
        p = 1.0 / (1.0 + np.exp(-z[:, 0]))
        return np.stack([1.0 - p, p], axis=1)
    return softmax(z)


def renormalise(probs: np.ndarray) -> np.ndarray:
    """Rows of a probabilities output scaled to sum 1 (float64).

    A quantised softmax (e.g. uint8, 0..255) sums to about 255 and loses a little to rounding;
    a float softmax already sums to 1 and is unchanged. A row of zeros stays zeros.
    """
    p = np.clip(np.asarray(probs, dtype=np.float64), 0.0, None)
    if p.ndim == 1:
        p = p[None, :]
    total = p.sum(axis=1, keepdims=True)
    return np.divide(p, total, out=np.zeros_like(p), where=total > 0)


class Classifier:
    """Run one classification model pack on crops of an image.

    Args:
        manifest: the pack's manifest (task ``classification``).
        onnx_path: the ONNX file.
        intra_threads: onnxruntime intra-op threads (default ``cpu_count - 1``).

    Raises:
        ModelLoadError: wrong task, unloadable file, or output/label mismatch.
    """

    def __init__(self, manifest: ModelManifest, onnx_path: Path | str, *, intra_threads: int | None = None):
        spec = FAMILIES[manifest.family]
        if spec.task != "classification":
            raise ModelLoadError(f"Model '{manifest.id}' is a {manifest.task} model, not a classifier")
        self.manifest = manifest
        model = open_image_model(onnx_path, model_id=manifest.id, what="classifier", n_labels=len(manifest.labels),
                                 check_output=spec.check_output, intra_threads=intra_threads,
                                 output=manifest.output,
                                 input_dtype=INPUT_DTYPES[manifest.input_dtype] if manifest.input_dtype else None)
        self._session = model.session
        self._input = model.input
        self._output_name = model.output_name
        self.input_spec: InputSpec = manifest.input_spec(model.dtype)
        self._dtype = self.input_spec.dtype
        fixed = self._input.fixed_hw_in(manifest.input_layout)
        self._size = fixed[0] if fixed is not None else manifest.input_size
        self.fixed_batch: int | None = self._input.fixed_batch

    @property
    def labels(self) -> tuple[str, ...]:
        """Class names in output order."""
        return self.manifest.labels

    @property
    def input_size(self) -> int:
        """Side of the square network input in pixels."""
        return self._size

    @property
    def random_weights(self) -> bool:
        """True for architecture twins whose output means nothing."""
        return self.manifest.random_weights

    def logits(self, batch: np.ndarray, batch_size: int = 8) -> np.ndarray:
        """Run prepared crops (``[N, 3, S, S]``, or NHWC) through the network, in chunks; returns ``[N, C]``.

        The values are what the output holds: logits, or probabilities when the manifest's
        ``output_kind`` says so (as the file gives them: a quantised uint8 softmax is 0..255;
        :meth:`classify` renormalises each row to sum 1).
        """
        step = self.fixed_batch or max(1, int(batch_size))
        parts = []
        for start in range(0, batch.shape[0], step):
            chunk = batch[start : start + step].astype(self._dtype, copy=False)
            n = chunk.shape[0]
            if self.fixed_batch and n < self.fixed_batch:  # pad a fixed-size batch
                pad = np.zeros((self.fixed_batch - n, *chunk.shape[1:]), dtype=chunk.dtype)
                chunk = np.concatenate([chunk, pad])
            out = self._session.run([self._output_name], {self._input.name: chunk})[0]
            parts.append(np.asarray(out, dtype=np.float32).reshape(chunk.shape[0], -1)[:n])
        return np.concatenate(parts) if parts else np.zeros((0, len(self.labels)), dtype=np.float32)

    def classify(
        self, image: np.ndarray, boxes: Sequence[BBox], top_k: int = 5, batch_size: int = 8
    ) -> list[tuple[Classification, ...]]:
        """Classify the square crop around each box.

        Args:
            image: ``H x W x 3`` uint8 RGB array the boxes refer to.
            boxes: normalised boxes.
            top_k: labels kept per box.
            batch_size: crops per onnxruntime call (ignored for a fixed-batch model).

        Returns:
            One tuple per box, highest confidence first (confidences rounded to 3 decimals).
        """
        if not boxes:
            return []
        m = self.manifest
        batch = crop_batch(image, boxes, self._size, spec=self.input_spec)
        out = self.logits(batch, batch_size)
        probs = renormalise(out) if m.output_kind == "probabilities" else logits_to_probs(out)
        k = max(1, min(int(top_k), probs.shape[1]))
        order = np.argsort(-probs, axis=1, kind="stable")[:, :k]
        return [
            tuple(Classification(m.labels[j], round(float(row[j]), CONF_DIGITS)) for j in idx)
            for row, idx in zip(probs, order, strict=True)
        ]
