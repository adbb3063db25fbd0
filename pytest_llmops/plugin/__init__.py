"""The pytest layer: the only package that imports pytest. ``hooks`` is the entry point."""
