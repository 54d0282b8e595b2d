"""Small typed exception hierarchy. Every message is meant to be shown to a field user."""

from __future__ import annotations


class WildlifeError(Exception):
    """Base class for all errors this application raises on purpose."""


class ModelLoadError(WildlifeError):
    """A model file or pack is missing, unreadable, tampered with or of an unknown family."""


class ModelPackError(ModelLoadError):
    """A model pack (manifest + ONNX) is malformed or cannot be installed."""


class ImageReadError(WildlifeError):
    """An image or video cannot be decoded (corrupt, truncated, empty, not an image)."""


class SidecarWriteError(WildlifeError):
    """An output file could not be written."""


class DatasetError(WildlifeError):
    """A folder, journal or results file is unusable."""
