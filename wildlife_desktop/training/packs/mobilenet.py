"""``models install mobilenet``: MobileNetV2 (ImageNet) as a classifier pack, the default fine-tuning base.

The ONNX file is Google's quantised ``mobilenet_v2_1.0_224_quant.tflite`` (Coral test data,
Apache-2.0) converted once with tf2onnx ``--dequantize``, with the pooled 1280-d features exposed
as a second output (``../shared/models/real/README.md``, section 3). This module only checks and
installs it: sha256, labels, and a manifest that describes its input and outputs as data
(uint8 RGB NHWC, normalisation inside the graph; a quantised uint8 softmax, which the classifier
renormalises per row; the features output named for fine-tuning).

It is a real model, but an ImageNet one: it knows "coyote" and "skunk", not most camera-trap
species, and nothing about empty frames. Its name says so wherever a user sees it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Final

from ...core.errors import ModelPackError
from ...runtime.manifest import ModelManifest
from ...runtime.store import ModelStore, sha256_file
from .local_pack import install_onnx_pack

Notify = Callable[[str], None]

MODEL_ID: Final[str] = "mobilenetv2-imagenet"
MODEL_NAME: Final[str] = "MobileNetV2 ImageNet (feature extractor; not a wildlife classifier)"
FOLDER: Final[str] = "mobilenet_v2_imagenet"
ONNX_NAME: Final[str] = "mobilenet_v2_1.0_224_quant_with_features.onnx"
SHA256: Final[str] = "befc56a4a739eeb626432e2458e5c8cbcd0fca4394d8d43ba537d5983357dc4d"
LABELS_NAME: Final[str] = "imagenet_labels.txt"
N_LABELS: Final[int] = 1001  # index 0 = background
INPUT_SIZE: Final[int] = 224
PROBS_OUTPUT: Final[str] = "MobilenetV2/Predictions/Softmax"
FEATURES_OUTPUT: Final[str] = "MobilenetV2/Logits/AvgPool_prequant"
LICENCE: Final[str] = "Apache-2.0"
SOURCE_URL: Final[str] = (
    "https://github.com/google-coral/test_data (commit 104342d2, mobilenet_v2_1.0_224_quant.tflite, "
    "sha256 7aad0c74c5e3...), converted with tf2onnx --dequantize, pooled features exposed as a second output"
)
CITATION: Final[str] = (
    "Sandler M., Howard A., Zhu M., Zhmoginov A., Chen L.-C. MobileNetV2: Inverted Residuals and Linear "
    "Bottlenecks. CVPR 2018. ImageNet-1k weights (quantised) from the TensorFlow/Coral model zoo."
)
#: What the pack's ``extra`` says about its outputs (read by fine-tuning and shown by ``models info``).
PROBS_NOTE: Final[str] = (
    "the probabilities output is a quantised uint8 softmax; the classifier renormalises each row to sum 1"
)


def find_source(source_dir: Path) -> Path:
    """The folder holding the ONNX file: ``source_dir`` itself or its ``mobilenet_v2_imagenet`` subfolder.

    Raises:
        ModelPackError: neither holds the ONNX file.
    """
    source_dir = Path(source_dir)
    for folder in (source_dir, source_dir / FOLDER):
        if (folder / ONNX_NAME).is_file():
            return folder
    raise ModelPackError(f"MobileNetV2: {ONNX_NAME} not found in {source_dir} (nor in {source_dir / FOLDER})")


def read_labels(path: Path) -> tuple[str, ...]:
    """The 1001 ImageNet labels (index 0 = background); a repeated name gets its index appended.

    ImageNet has two classes called "crane" (the bird, 135, and the machine, 518); manifests need
    unique labels, so they become ``crane [135]`` and ``crane [518]``.

    Raises:
        ModelPackError: the file is missing, unreadable or does not hold 1001 non-empty lines.
    """
    try:
        lines = [line.strip() for line in Path(path).read_text(encoding="utf-8").splitlines()]
    except (OSError, UnicodeDecodeError) as exc:
        raise ModelPackError(f"MobileNetV2: cannot read the labels {path}: {exc}") from exc
    while lines and not lines[-1]:
        lines.pop()
    if len(lines) != N_LABELS or not all(lines):
        raise ModelPackError(f"MobileNetV2: {path.name} must hold {N_LABELS} non-empty lines, found {len(lines)}")
    repeated = {name for name, n in Counter(lines).items() if n > 1}
    return tuple(f"{name} [{i}]" if name in repeated else name for i, name in enumerate(lines))


def mobilenet_manifest(labels: tuple[str, ...], created: str = "") -> ModelManifest:
    """The pack's manifest: inputs and outputs described as data, never by the model's name."""
    return ModelManifest(
        id=MODEL_ID,
        version="1",
        name=MODEL_NAME,
        family="classifier",
        task="classification",
        file=ONNX_NAME,
        sha256=SHA256,
        input_size=INPUT_SIZE,
        labels=labels,
        input_layout="nhwc",
        channel_order="rgb",
        normalisation="raw",
        input_dtype="uint8",
        resize_filter="area",
        output=PROBS_OUTPUT,
        output_kind="probabilities",
        licence=LICENCE,
        source_url=SOURCE_URL,
        citation=CITATION,
        random_weights=False,
        created=created,
        extra={
            "features_output": FEATURES_OUTPUT,
            "feature_dim": 1280,
            "probabilities_note": PROBS_NOTE,
            "labels_note": "ImageNet-1k (index 0 = background); not camera-trap species",
            "use": "base for fine-tuning a species head on verified crops",
        },
    )


def install_mobilenet(store: ModelStore, source_dir: Path, *, notify: Notify = print) -> ModelManifest:
    """Check the MobileNetV2 files in ``source_dir`` and install them as pack ``mobilenetv2-imagenet``.

    Args:
        store: the model store to install into.
        source_dir: the ``mobilenet_v2_imagenet`` folder (ONNX and ``imagenet_labels.txt``)
            or a folder laid out like ``../shared/models/real`` that holds it.
        notify: receives one line per step.

    Returns:
        The installed manifest.

    Raises:
        ModelPackError: a file is missing, the ONNX file's sha256 is not the expected one, or the
            store refuses the pack.
    """
    folder = find_source(source_dir)
    onnx_path = folder / ONNX_NAME
    notify(f"MobileNetV2: checking {onnx_path} (sha256)")
    actual = sha256_file(onnx_path)
    if actual != SHA256:
        raise ModelPackError(
            f"MobileNetV2: {onnx_path} is not the expected file (sha256 {actual[:12]}... instead of "
            f"{SHA256[:12]}...); it will not be installed"
        )
    labels = read_labels(folder / LABELS_NAME)
    manifest = mobilenet_manifest(labels, datetime.now(timezone.utc).isoformat(timespec="seconds"))
    installed = install_onnx_pack(store, onnx_path, manifest)
    notify(f"MobileNetV2: installed '{installed.id}' ({installed.name}, {LICENCE})")
    return installed
