"""The engine that runs a case: plain Python, no pytest. YAML items and the fixture share it."""
