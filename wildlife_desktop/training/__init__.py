"""training layer (Qt-free)."""
