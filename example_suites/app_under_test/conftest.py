"""Makes `support_bot` importable for the suite's `python:support_bot:answer` provider.

pytest puts this folder on sys.path when it loads this conftest (rootdir-relative imports);
a real project would install its package or set pytest's `pythonpath` ini key instead.
"""
