"""Fixtures for the runtime tests: an instrumented process whose output lines are captured, undone afterwards.

The hook patches ``botocore.client.BaseClient`` for the whole process, so every test that instruments
removes the hook and forgets the recorder when it ends: the other test folders see boto3 untouched.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis.configuration import set_hypothesis_home_dir

from llm_observability.runtime import api, hook, recorder
from llm_observability.runtime.api import PromptLogging
from tests.conftest import OFFLINE_AWS_ENV
from tests.runtime.bedrock_fakes import MODEL_ID, PRICE, FakeBedrock

# Hypothesis keeps its caches out of the checkout (the property tests use no example database either).
set_hypothesis_home_dir(Path(tempfile.gettempdir()) / "llm-observability-hypothesis")

SERVICE = "their-bot"
NAMESPACE = "TheirApp"
RUNTIME_ENV = (
    "LLMOBS_SERVICE_NAME",
    "LLMOBS_NAMESPACE",
    "LLMOBS_PROMPT_LOGGING",
    "LLMOBS_PRICES",
    "LLMOBS_ORIGINAL_HANDLER",
    "LLMOBS_NEXT_WRAPPER",
    "POWERTOOLS_SERVICE_NAME",
    "AWS_LAMBDA_FUNCTION_NAME",
)


@dataclass
class Output:
    """The lines the runtime printed: JSON log lines and EMF objects."""

    lines: list[str] = field(default_factory=list)

    def write(self, line: str) -> None:
        assert "\n" not in line  # one log event per line
        self.lines.append(line)

    def parsed(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.lines]

    def logs(self, message: str | None = None) -> list[dict[str, Any]]:
        return [d for d in self.parsed() if "_aws" not in d and (message is None or d["message"] == message)]

    def calls(self) -> list[dict[str, Any]]:
        return self.logs("bedrock_call")

    def emf(self) -> list[dict[str, Any]]:
        return [d for d in self.parsed() if "_aws" in d]

    def values(self, name: str, **dims: str) -> list[float]:
        """Every value of metric ``name`` under exactly the dimensions {service, **dims}."""
        wanted = {"service": SERVICE, **dims}
        found: list[float] = []
        for blob in self.emf():
            (directive,) = blob["_aws"]["CloudWatchMetrics"]
            (dimension_names,) = directive["Dimensions"]
            if {k: blob[k] for k in dimension_names} != wanted:
                continue
            if name in [m["Name"] for m in directive["Metrics"]]:
                value = blob[name]
                found.extend(value if isinstance(value, list) else [value])
        return found

    def metric_names(self) -> set[str]:
        return {m["Name"] for blob in self.emf() for m in blob["_aws"]["CloudWatchMetrics"][0]["Metrics"]}

    def clear(self) -> None:
        self.lines.clear()


def reset_runtime() -> None:
    """Remove the hook and forget the recorder (what a new process would have)."""
    hook.uninstall()
    recorder._current = None


@pytest.fixture(autouse=True)
def _isolated_runtime(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in RUNTIME_ENV:
        monkeypatch.delenv(name, raising=False)
    for name, value in OFFLINE_AWS_ENV.items():
        monkeypatch.setenv(name, value)
    reset_runtime()
    yield
    reset_runtime()


def instrument_captured(prompt_logging: PromptLogging = "redacted", **options: Any) -> Output:
    """``instrument()`` with the test's settings; its output captured."""
    out = Output()
    api.instrument(
        service_name=SERVICE, namespace=NAMESPACE, prompt_logging=prompt_logging, prices={MODEL_ID: PRICE}, **options
    )
    recorder.current().write = out.write
    return out


@pytest.fixture
def out() -> Output:
    """An instrumented process (redacted prompt logging, a price for MODEL_ID); its output."""
    return instrument_captured()


@pytest.fixture
def fake() -> FakeBedrock:
    """Queued HTTP responses for real boto3 clients."""
    return FakeBedrock()
