"""Image to tensor: detector letterbox and classifier crops, in numpy (plus one cv2 resize).

Letterbox modes:

* ``classic``: MegaDetector/yolov5 rectangular letterbox (``auto=True``): the long side goes to
  ``input_size`` (aspect kept) and each side is padded, centred, only up to the next multiple of
  ``stride``. Needs an ONNX export with dynamic height/width.
* ``square``: the same resize, padded to the full ``input_h`` x ``input_w`` (fixed-shape exports).
* ``stretch``: resize to the input size without keeping the aspect ratio (ultralytics RT-DETR).
* ``topleft``: the long side goes to the input size and the image is anchored at the top left;
  the right/bottom rest of the full square is padding (YOLOX as zamba runs it,
  ``PIL.ImageOps.pad(..., centering=(0, 0))``).

The image is first laid out as a padded ``uint8`` canvas, then :func:`to_tensor` turns it into
the network's input as an :class:`InputSpec` says (layout, channel order, normalisation, dtype).
Without a spec: padding grey 114, NCHW float32 RGB in 0..1 (the MegaDetector convention).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import cv2
import numpy as np
from PIL import Image

from ..core.records import BBox

PAD_VALUE: Final[int] = 114

#: Input layouts, channel orders, normalisations and resize filters a manifest may name.
LAYOUTS: Final[tuple[str, ...]] = ("nchw", "nhwc")
CHANNEL_ORDERS: Final[tuple[str, ...]] = ("rgb", "bgr")
#: ``unit``: pixel / 255; ``raw``: pixel values as they are (0..255, in the input's dtype, e.g. uint8
#: for a model that normalises inside its graph); ``meanstd``: (pixel / 255 - mean) / std.
NORMALISATIONS: Final[tuple[str, ...]] = ("unit", "raw", "meanstd")
#: ``area``: OpenCV INTER_AREA when shrinking, INTER_LINEAR when enlarging (fast, the default);
#: ``bicubic``: Pillow's antialiased BICUBIC (what ``PIL.ImageOps.pad`` uses).
RESIZE_FILTERS: Final[tuple[str, ...]] = ("area", "bicubic")
INPUT_DTYPES: Final[dict[str, type[np.generic]]] = {"float32": np.float32, "float16": np.float16, "uint8": np.uint8}


@dataclass(frozen=True)
class InputSpec:
    """How an image becomes a network input tensor (read from a model pack's manifest).

    ``mean``/``std`` are on the 0..1 scale, in the model's channel order, and used only by the
    ``meanstd`` normalisation; ``pad_value`` is a 0..255 pixel value, padded before normalisation.
    """

    layout: str = "nchw"
    channel_order: str = "rgb"
    normalisation: str = "unit"
    mean: tuple[float, float, float] = (0.0, 0.0, 0.0)
    std: tuple[float, float, float] = (1.0, 1.0, 1.0)
    dtype: type[np.generic] = np.float32
    pad_value: int = PAD_VALUE
    resize_filter: str = "area"

    def __post_init__(self) -> None:
        for name, allowed in (("layout", LAYOUTS), ("channel_order", CHANNEL_ORDERS),
                              ("normalisation", NORMALISATIONS), ("resize_filter", RESIZE_FILTERS)):
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {', '.join(allowed)}, got {getattr(self, name)!r}")
        if self.dtype is np.uint8 and self.normalisation != "raw":
            raise ValueError("a uint8 model input takes raw pixel values (normalisation 'raw')")


#: Classifier inputs before :class:`InputSpec` existed: NCHW float32 RGB, ImageNet-style mean/std.
def meanstd_spec(mean: Sequence[float], std: Sequence[float]) -> InputSpec:
    """The spec of a classic ``(x / 255 - mean) / std`` NCHW float32 RGB input."""
    return InputSpec(normalisation="meanstd", mean=tuple(float(v) for v in mean),  # type: ignore[arg-type]
                     std=tuple(float(v) for v in std))  # type: ignore[arg-type]


def to_tensor(batch: np.ndarray, spec: InputSpec) -> np.ndarray:
    """``N x H x W x 3`` uint8 RGB images to the network input the spec describes."""
    if spec.channel_order == "bgr":
        batch = batch[..., ::-1]
    if spec.layout == "nchw":
        batch = batch.transpose(0, 3, 1, 2)
    if spec.normalisation == "raw":
        return np.ascontiguousarray(batch, dtype=spec.dtype)
    out = np.empty(batch.shape, dtype=np.float32)  # C-contiguous, whatever the view's strides
    if spec.normalisation == "unit":
        np.divide(batch, np.float32(255.0), out=out, dtype=np.float32)
    else:
        shape = (1, 3, 1, 1) if spec.layout == "nchw" else (1, 1, 1, 3)
        std = np.asarray(spec.std, dtype=np.float32)
        scale = (1.0 / (255.0 * std)).reshape(shape)
        shift = (np.asarray(spec.mean, dtype=np.float32) / std).reshape(shape)
        np.multiply(batch, scale, out=out, dtype=np.float32)
        out -= shift
    return out if spec.dtype is np.float32 else out.astype(spec.dtype)


@dataclass(frozen=True)
class LetterboxTransform:
    """How an image was mapped into the network input, and how to map boxes back.

    ``input_x = image_x * gain_x + pad_x`` (and likewise for y), following yolov5's
    ``scale_boxes`` (the gain and a centred, fractional pad are recomputed from the shapes).
    """

    gain_x: float
    gain_y: float
    pad_x: float
    pad_y: float
    image_w: int
    image_h: int
    input_w: int
    input_h: int

    @property
    def gain(self) -> float:
        """The (isotropic) gain; for ``stretch`` the smaller of the two."""
        return min(self.gain_x, self.gain_y)

    def to_image(self, boxes_xyxy: np.ndarray) -> np.ndarray:
        """Map ``[K, 4]`` x1,y1,x2,y2 boxes in input pixels to original-image pixels (float64)."""
        out = np.array(boxes_xyxy, dtype=np.float64, copy=True).reshape(-1, 4)
        out[:, 0::2] = (out[:, 0::2] - self.pad_x) / self.gain_x
        out[:, 1::2] = (out[:, 1::2] - self.pad_y) / self.gain_y
        return out

    def to_input(self, boxes_xyxy: np.ndarray) -> np.ndarray:
        """Inverse of :meth:`to_image` (image pixels to input pixels)."""
        out = np.array(boxes_xyxy, dtype=np.float64, copy=True).reshape(-1, 4)
        out[:, 0::2] = out[:, 0::2] * self.gain_x + self.pad_x
        out[:, 1::2] = out[:, 1::2] * self.gain_y + self.pad_y
        return out


def as_rgb_uint8(image: np.ndarray) -> np.ndarray:
    """Check an image array and return it as ``H x W x 3`` uint8 (no copy when already so).

    Grey images are stacked to three channels, an alpha channel is dropped.

    Raises:
        ValueError: not a uint8 image array, or empty.
    """
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8:
        raise ValueError("image must be a numpy uint8 array (H, W, 3) in RGB order")
    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    elif image.ndim == 3 and image.shape[2] == 4:
        image = image[:, :, :3]
    elif image.ndim == 3 and image.shape[2] == 1:
        image = np.repeat(image, 3, axis=2)
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"image must have shape (H, W, 3), got {image.shape}")
    if image.shape[0] == 0 or image.shape[1] == 0:
        raise ValueError("image is empty")
    return image


def _resize(image: np.ndarray, width: int, height: int, resize_filter: str = "area") -> np.ndarray:
    h, w = image.shape[:2]
    width, height = max(1, int(width)), max(1, int(height))
    if (w, h) == (width, height):
        return image
    if resize_filter == "bicubic":
        return np.asarray(Image.fromarray(image).resize((width, height), Image.Resampling.BICUBIC))
    shrinking = width <= w and height <= h
    interp = cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
    return cv2.resize(image, (width, height), interpolation=interp)


_DEFAULT_DETECTOR_SPEC: Final[InputSpec] = InputSpec()


def letterbox(
    image: np.ndarray,
    input_size: int | tuple[int, int],
    *,
    mode: str = "classic",
    stride: int = 32,
    spec: InputSpec | None = None,
) -> tuple[np.ndarray, LetterboxTransform]:
    """Resize and pad an RGB image into a detector input tensor.

    Args:
        image: ``H x W x 3`` uint8 RGB array.
        input_size: the long side (``classic``), or the input ``(height, width)`` / a square side
            (``square``, ``stretch``, ``topleft``).
        mode: ``classic``, ``square``, ``stretch`` or ``topleft`` (see the module docstring).
        stride: padding multiple for ``classic``.
        spec: how to lay out and normalise the tensor (default: NCHW float32 RGB in 0..1,
            grey 114 padding).

    Returns:
        ``(tensor, transform)``: the ``1 x ...`` input tensor and the mapping back.

    Raises:
        ValueError: bad image or unknown mode.
    """
    spec = spec or _DEFAULT_DETECTOR_SPEC
    image = as_rgb_uint8(image)
    h, w = image.shape[:2]
    if isinstance(input_size, int):
        target_h = target_w = input_size
    else:
        target_h, target_w = (int(v) for v in input_size)
    if mode == "stretch":
        new_w, new_h, out_w, out_h = target_w, target_h, target_w, target_h
    elif mode in ("classic", "square", "topleft"):
        r = min(target_h / h, target_w / w)
        new_w, new_h = max(1, int(round(w * r))), max(1, int(round(h * r)))
        out_w, out_h = target_w, target_h
        if mode == "classic":
            out_w = new_w + (target_w - new_w) % stride
            out_h = new_h + (target_h - new_h) % stride
    else:
        raise ValueError(f"unknown letterbox mode {mode!r}")
    if mode == "topleft":
        left = top = 0
    else:
        left = int(round((out_w - new_w) / 2 - 0.1))
        top = int(round((out_h - new_h) / 2 - 0.1))

    resized = _resize(image, new_w, new_h, spec.resize_filter)
    if (new_w, new_h) == (out_w, out_h):
        canvas = resized
    else:
        canvas = np.full((out_h, out_w, 3), spec.pad_value, dtype=np.uint8)
        canvas[top : top + new_h, left : left + new_w] = resized
    tensor = to_tensor(canvas[None], spec)
    if mode == "stretch":
        transform = LetterboxTransform(out_w / w, out_h / h, 0.0, 0.0, w, h, out_w, out_h)
    elif mode == "topleft":
        gain = min(out_h / h, out_w / w)
        transform = LetterboxTransform(gain, gain, 0.0, 0.0, w, h, out_w, out_h)
    else:
        gain = min(out_h / h, out_w / w)
        transform = LetterboxTransform(
            gain, gain, (out_w - w * gain) / 2, (out_h - h * gain) / 2, w, h, out_w, out_h
        )
    return tensor, transform


def square_crop_box(box: BBox, width: int, height: int) -> tuple[int, int, int, int]:
    """Pixel window ``(x0, y0, x1, y1)`` of a square crop around a normalised box.

    The shorter side of the box is expanded (centred) to make it square; the square is then
    shifted to lie inside the image and clamped to the image size (MegaDetector's
    ``crop_detections`` practice). The window is at least 1 x 1 pixel.
    """
    bx, by, bw, bh = box.x * width, box.y * height, max(box.w, 0.0) * width, max(box.h, 0.0) * height
    side = max(bw, bh, 1.0)
    x0 = max(0.0, min(bx - (side - bw) / 2, width - side))
    y0 = max(0.0, min(by - (side - bh) / 2, height - side))
    x1 = x0 + min(float(width), side)
    y1 = y0 + min(float(height), side)
    ix0 = min(max(int(math.floor(x0 + 1e-9)), 0), width - 1)
    iy0 = min(max(int(math.floor(y0 + 1e-9)), 0), height - 1)
    ix1 = max(min(int(math.ceil(x1 - 1e-9)), width), ix0 + 1)
    iy1 = max(min(int(math.ceil(y1 - 1e-9)), height), iy0 + 1)
    return ix0, iy0, ix1, iy1


def crop_batch(
    image: np.ndarray,
    boxes: Sequence[BBox],
    input_size: int,
    mean: Sequence[float] = (0.0, 0.0, 0.0),
    std: Sequence[float] = (1.0, 1.0, 1.0),
    *,
    spec: InputSpec | None = None,
) -> np.ndarray:
    """Square crops of ``boxes``, resized and normalised, as one batch tensor.

    Args:
        image: ``H x W x 3`` uint8 RGB array.
        boxes: normalised boxes of the original image.
        input_size: classifier input side ``S``.
        mean: per-channel mean (0..1 scale), e.g. ImageNet's (used without ``spec``).
        std: per-channel standard deviation (0..1 scale) (used without ``spec``).
        spec: the model's input spec; default ``(x / 255 - mean) / std``, NCHW float32 RGB.

    Returns:
        The batch, ``N x 3 x S x S`` (or ``N x S x S x 3`` for an NHWC spec); ``N = 0`` when
        ``boxes`` is empty.
    """
    spec = spec or meanstd_spec(mean, std)
    image = as_rgb_uint8(image)
    h, w = image.shape[:2]
    crops = np.empty((len(boxes), input_size, input_size, 3), dtype=np.uint8)
    for i, box in enumerate(boxes):
        x0, y0, x1, y1 = square_crop_box(box, w, h)
        crops[i] = _resize(image[y0:y1, x0:x1], input_size, input_size, spec.resize_filter)
    return to_tensor(crops, spec)
