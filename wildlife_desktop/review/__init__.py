"""review layer (Qt-free)."""
