"""The price table: ``prices.json`` (list prices of one region, dated, with the pricing page of each
figure, and the assumptions the estimate makes where a template cannot tell), loaded once.
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources as importlib_resources
from typing import Any


@lru_cache(maxsize=1)
def price_table() -> dict[str, Any]:
    """The packaged ``prices.json``."""
    text = importlib_resources.files("llm_observability.assess").joinpath("prices.json").read_text(encoding="utf-8")
    return json.loads(text)


def price_entry(key: str) -> dict[str, Any]:
    """One price entry (``usd``, ``source``, ``note`` ...), e.g. ``price_entry("cloudwatch.dashboard")``."""
    return price_table()["prices"][key]


def assumed(key: str) -> Any:
    """The value of one assumption, e.g. ``assumed("log_storage_months")``."""
    return price_table()["assumptions"][key]["value"]
