"""Decisions: run statistics, the comparison with a baseline, and the gates that set the exit code."""
