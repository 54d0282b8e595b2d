"""pipeline layer (Qt-free)."""
