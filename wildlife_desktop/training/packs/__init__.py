"""Build ONNX model packs from the official weights (build machines only).

Importing this package does not import torch; :mod:`.build`, :mod:`.loaders`, :mod:`.resnet`,
:mod:`.export` and :mod:`.parity` do, and the CLI loads them only for ``models build``.
:mod:`.fetch` (checksums, downloads) is torch-free.
"""
