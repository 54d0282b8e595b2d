"""Input specs from manifests: layout, channel order, normalisation, dtype, padding, resize filter."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageOps

from wildlife_desktop.core.records import BBox
from wildlife_desktop.runtime.manifest import ModelManifest, manifest_from_dict
from wildlife_desktop.runtime.preprocess import InputSpec, crop_batch, letterbox, to_tensor

from .conftest import DET_LABELS


def _manifest(**kw: object) -> ModelManifest:
    data: dict[str, object] = {
        "id": "m", "version": "1", "name": "m", "family": "yolov5", "task": "detection", "file": "m.onnx",
        "sha256": "ab" * 32, "input_size": 640, "labels": list(DET_LABELS),
    }
    data.update(kw)
    return manifest_from_dict(data)


def _gradient(h: int, w: int) -> np.ndarray:
    rng = np.random.default_rng(7)
    return rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8)


def test_version_1_manifest_reads_with_the_old_behaviour() -> None:
    m = _manifest(schema_version=1)
    spec = m.input_spec(np.float32)
    assert spec == InputSpec()  # NCHW float32 RGB 0..1, grey 114 padding
    c = manifest_from_dict({**_manifest().__dict__, "family": "classifier", "task": "classification",
                            "labels": ["a", "b"], "extra": {}, "mean": [0.5] * 3, "std": [0.25] * 3})
    assert c.input_spec(np.float32).normalisation == "meanstd"
    assert c.input_spec(np.float32).mean == (0.5, 0.5, 0.5)


def test_yolox_family_defaults_are_raw_pixels_on_black_top_left() -> None:
    spec = _manifest(family="yolox", labels=["animal"]).input_spec(np.float32)
    assert (spec.normalisation, spec.pad_value) == ("raw", 0)
    img = _gradient(300, 400)
    tensor, tf = letterbox(img, 640, mode="topleft", spec=spec)
    assert tensor.shape == (1, 3, 640, 640) and tensor.dtype == np.float32
    assert (tf.pad_x, tf.pad_y) == (0.0, 0.0) and tf.gain == pytest.approx(1.6)
    assert np.all(tensor[0, :, 480:, :] == 0.0)  # black padding at the bottom only
    assert tensor.max() > 200  # 0..255, not 0..1


def test_bicubic_topleft_matches_pillow_imageops_pad() -> None:
    img = _gradient(333, 500)
    spec = InputSpec(normalisation="raw", pad_value=0, resize_filter="bicubic")
    tensor, _ = letterbox(img, 640, mode="topleft", spec=spec)
    want = np.asarray(ImageOps.pad(Image.fromarray(img), (640, 640), method=Image.Resampling.BICUBIC,
                                   centering=(0, 0)), dtype=np.float32).transpose(2, 0, 1)
    np.testing.assert_array_equal(tensor[0], want)


def test_bgr_meanstd_and_nhwc_uint8() -> None:
    img = _gradient(8, 8)
    bgr = to_tensor(img[None], InputSpec(channel_order="bgr", normalisation="meanstd",
                                         mean=(0.4, 0.45, 0.5), std=(0.2, 0.25, 0.3)))
    expect = (img[..., ::-1].transpose(2, 0, 1) / 255.0 - np.array([0.4, 0.45, 0.5])[:, None, None]) / np.array(
        [0.2, 0.25, 0.3])[:, None, None]
    np.testing.assert_allclose(bgr[0], expect, rtol=1e-5, atol=1e-5)
    nhwc = crop_batch(img, [BBox(0.0, 0.0, 1.0, 1.0)], 8,
                      spec=InputSpec(layout="nhwc", normalisation="raw", dtype=np.uint8))
    assert nhwc.dtype == np.uint8 and nhwc.shape == (1, 8, 8, 3)
    np.testing.assert_array_equal(nhwc[0], img)


def test_uint8_input_needs_raw_normalisation() -> None:
    with pytest.raises(ValueError, match="raw"):
        InputSpec(dtype=np.uint8)
    m = _manifest(family="classifier", task="classification", labels=["a", "b"], input_dtype="uint8",
                  normalisation="raw", input_layout="nhwc")
    assert m.input_spec(np.float32).dtype is np.uint8  # the manifest's dtype wins; the file is checked at load


@pytest.mark.parametrize("shape", [(1, 8000), (8000, 1), (1, 1)])
def test_extreme_shapes_letterbox(shape: tuple[int, int]) -> None:
    img = np.full((*shape, 3), 90, dtype=np.uint8)
    for mode in ("classic", "square", "topleft", "stretch"):
        tensor, tf = letterbox(img, 640, mode=mode)
        assert tensor.shape[2] >= 1 and tensor.shape[3] >= 1
        back = tf.to_image(np.array([[0.0, 0.0, tensor.shape[3], tensor.shape[2]]]))
        assert np.isfinite(back).all()
