"""A gate's verdict: the figure, the limit, whether it held, and the message that says so."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

__all__ = ["GateResult"]


@dataclass(frozen=True)
class GateResult:
    """One gate's verdict."""

    name: str  # the setting without the prefix: "max_cost"
    label: str  # "max cost"
    value: float | None
    limit: float
    passed: bool
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "label": self.label,
            # JSON has no infinity: a rise from 0 is "no figure", and the message says why.
            "value": None if self.value is not None and math.isinf(self.value) else self.value,
            "limit": self.limit,
            "passed": self.passed,
            "message": self.message,
        }
