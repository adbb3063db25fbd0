"""Custom checks for the extraction suite (the `python` assertion type)."""

from __future__ import annotations

import json
from typing import Any


def line_items_add_up(output: str, context: Any) -> dict[str, Any]:
    """The line items must sum to the total (to the cent)."""
    data = json.loads(output)
    items_total = round(sum(item["amount"] for item in data["line_items"]), 2)
    ok = abs(items_total - data["total"]) < 0.005
    return {
        "pass": ok,
        "score": 1.0 if ok else 0.0,
        "reason": f"line items sum to {items_total}, total is {data['total']}",
    }
