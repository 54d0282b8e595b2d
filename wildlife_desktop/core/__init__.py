"""core layer (Qt-free)."""
