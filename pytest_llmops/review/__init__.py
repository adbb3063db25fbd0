"""Prompt pull requests: git changes, the cases they affect, prompt and answer diffs, and their text."""
