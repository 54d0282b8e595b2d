"""Letterbox geometry and classifier crops."""

from __future__ import annotations

import numpy as np
import pytest

from wildlife_desktop.core.records import BBox
from wildlife_desktop.runtime.preprocess import as_rgb_uint8, crop_batch, letterbox, square_crop_box

PAD = np.float32(114 / 255)


def test_classic_letterbox_pads_only_to_stride_multiple() -> None:
    img = np.full((530, 1000, 3), 200, dtype=np.uint8)  # resized to 640 x 339, padded to 352
    tensor, tf = letterbox(img, 640, mode="classic", stride=32)
    assert tensor.shape == (1, 3, 352, 640)
    assert tensor.dtype == np.float32 and tensor.flags.c_contiguous
    assert tf.gain == pytest.approx(0.64)
    assert tf.pad_x == pytest.approx(0.0) and tf.pad_y == pytest.approx(6.4)
    # 13 rows of padding: 6 on top, 7 at the bottom (yolov5's round(d -/+ 0.1)).
    assert np.all(tensor[0, :, :6, :] == PAD)
    assert np.all(tensor[0, :, 345:, :] == PAD)
    np.testing.assert_allclose(tensor[0, :, 6:345, :], 200 / 255, rtol=1e-6)


def test_classic_letterbox_4_3_mdv5_shape() -> None:
    img = np.zeros((1536, 2048, 3), dtype=np.uint8)
    tensor, tf = letterbox(img, 1280, mode="classic", stride=64)
    assert tensor.shape == (1, 3, 960, 1280)
    assert (tf.pad_x, tf.pad_y) == (0.0, 0.0)


def test_square_letterbox_centres_the_image() -> None:
    img = np.zeros((600, 800, 3), dtype=np.uint8)
    img[:, :, 0] = 255
    tensor, tf = letterbox(img, 640, mode="square")
    assert tensor.shape == (1, 3, 640, 640)
    assert tf.gain == pytest.approx(0.8) and tf.pad_y == pytest.approx(80.0) and tf.pad_x == 0.0
    assert np.all(tensor[0, :, :80] == PAD) and np.all(tensor[0, :, 560:] == PAD)
    assert np.all(tensor[0, 0, 80:560] == 1.0) and np.all(tensor[0, 1, 80:560] == 0.0)


def test_stretch_letterbox_uses_two_gains() -> None:
    img = np.zeros((300, 1200, 3), dtype=np.uint8)
    tensor, tf = letterbox(img, 640, mode="stretch")
    assert tensor.shape == (1, 3, 640, 640)
    assert (tf.gain_x, tf.gain_y, tf.pad_x, tf.pad_y) == (640 / 1200, 640 / 300, 0.0, 0.0)


@pytest.mark.parametrize("mode", ["classic", "square", "stretch"])
def test_transform_round_trip(mode: str) -> None:
    img = np.zeros((531, 997, 3), dtype=np.uint8)
    _, tf = letterbox(img, 640, mode=mode)
    boxes = np.array([[10.0, 20.0, 500.0, 400.0], [0.0, 0.0, 997.0, 531.0]])
    np.testing.assert_allclose(tf.to_image(tf.to_input(boxes)), boxes, atol=1e-9)
    inp = tf.to_input(boxes[1:])[0]  # the whole image fills the non-padded area
    assert 0 <= inp[0] < 1 and 0 <= inp[1] <= tf.input_h / 2 and inp[2] <= tf.input_w


def test_bad_images_are_rejected_and_grey_is_expanded() -> None:
    with pytest.raises(ValueError):
        letterbox(np.zeros((10, 10, 3), dtype=np.float32), 64)
    with pytest.raises(ValueError):
        letterbox(np.zeros((0, 10, 3), dtype=np.uint8), 64)
    with pytest.raises(ValueError):
        letterbox(np.zeros((10, 10, 3), dtype=np.uint8), 64, mode="fancy")
    grey = as_rgb_uint8(np.full((4, 5), 7, dtype=np.uint8))
    assert grey.shape == (4, 5, 3) and np.all(grey == 7)
    rgba = np.zeros((4, 5, 4), dtype=np.uint8)
    assert as_rgb_uint8(rgba).shape == (4, 5, 3)


def test_square_crop_expands_short_side_centred() -> None:
    # 200 x 100 image; box 20 x 40 px at (20, 20) -> 40 x 40 square centred on the box.
    assert square_crop_box(BBox(0.1, 0.2, 0.1, 0.4), 200, 100) == (10, 20, 50, 60)


def test_square_crop_is_shifted_inside_the_image() -> None:
    # box at the right edge: x 180..200, y 10..70 -> 60 px square shifted left to x 140..200.
    assert square_crop_box(BBox(0.9, 0.1, 0.1, 0.6), 200, 100) == (140, 10, 200, 70)


def test_square_crop_larger_than_image_is_clamped() -> None:
    # 180 x 50 px box in a 200 x 100 image: the 180 px square cannot fit vertically.
    assert square_crop_box(BBox(0.0, 0.0, 0.9, 0.5), 200, 100) == (0, 0, 180, 100)


def test_crop_batch_normalises_each_crop() -> None:
    img = np.zeros((100, 200, 3), dtype=np.uint8)
    img[:, :100] = (255, 0, 0)
    img[:, 100:] = (0, 0, 255)
    mean, std = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
    batch = crop_batch(img, [BBox(0.1, 0.2, 0.1, 0.4), BBox(0.7, 0.2, 0.1, 0.4)], 16, mean, std)
    assert batch.shape == (2, 3, 16, 16) and batch.dtype == np.float32
    red = (np.array([1.0, 0.0, 0.0]) - mean) / std
    blue = (np.array([0.0, 0.0, 1.0]) - mean) / std
    np.testing.assert_allclose(batch[0].mean(axis=(1, 2)), red, rtol=1e-5)
    np.testing.assert_allclose(batch[1].mean(axis=(1, 2)), blue, rtol=1e-5)
    assert crop_batch(img, [], 16, mean, std).shape == (0, 3, 16, 16)
