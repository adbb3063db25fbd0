"""The record modes: what a run may replay, record, or send live."""

from __future__ import annotations

import enum

__all__ = ["RecordMode"]


class RecordMode(enum.StrEnum):
    """``--llmops-record-mode``; see ``recording.cassette`` for what each one does."""

    NONE = "none"
    ONCE = "once"
    NEW_EPISODES = "new_episodes"
    ALL = "all"

    def __str__(self) -> str:
        return self.value
