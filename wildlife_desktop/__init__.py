"""Wildlife Desktop: offline camera-trap image and video processing."""

__version__ = "0.1.0"
