"""The runtime's redaction: examples, properties (hypothesis), and the same output as the reference app's."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llm_observability.runtime.redaction import redact

RAG_REDACTION = Path(__file__).resolve().parents[2] / "llm_observability" / "functions" / "rag_api" / "redaction.py"
TOKENS = ("[EMAIL]", "[PHONE]", "[CARD]", "[IP]", "[AWS_KEY]")


def _reference() -> ModuleType:
    spec = importlib.util.spec_from_file_location("rag_api_redaction_reference", RAG_REDACTION)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


REFERENCE = _reference()


@pytest.mark.parametrize(
    ("text", "expected", "count"),
    [
        ("write to jane.doe@example.co.uk today", "write to [EMAIL] today", 1),
        ("call +1 (415) 555-2671 or 415-555-2671", "call [PHONE] or [PHONE]", 2),
        ("card 4111 1111 1111 1111 ok", "card [CARD] ok", 1),
        ("from 10.0.0.1 and 2001:db8::1", "from [IP] and [IP]", 2),
        ("key AKIAABCDEFGHIJKLMNOP leaked", "key [AWS_KEY] leaked", 1),
        (
            "in 2024 at 10:30, version 1.2.3, order 1234567890123",
            "in 2024 at 10:30, version 1.2.3, order 1234567890123",
            0,
        ),
    ],
)
def test_redact_examples(text: str, expected: str, count: int) -> None:
    assert redact(text) == (expected, count)


pii = st.sampled_from(
    [
        "jane@example.com",
        "+44 20 7946 0958",
        "4111-1111-1111-1111",
        "192.168.1.20",
        "AKIAABCDEFGHIJKLMNOP",
        "fe80::1",
        "(415) 555-2671",
    ]
)
texty = st.lists(
    st.one_of(st.text(max_size=40), pii, st.from_regex(r"[\d .()+:-]{1,25}", fullmatch=True)), max_size=12
).map(" ".join)


@settings(max_examples=200, deadline=None, database=None)
@given(texty)
def test_redact_never_raises_and_counts_its_tokens(text: str) -> None:
    redacted, count = redact(text)
    assert isinstance(redacted, str) and count >= 0
    added = sum(redacted.count(token) for token in TOKENS) - sum(text.count(token) for token in TOKENS)
    assert added == count


@settings(max_examples=200, deadline=None, database=None)
@given(texty)
def test_redact_behaves_like_the_reference_apps_redaction(text: str) -> None:
    assert redact(text) == REFERENCE.redact(text)


@settings(max_examples=200, deadline=None, database=None)
@given(st.lists(pii, min_size=1, max_size=5).map(", ".join))
def test_known_pii_never_survives(text: str) -> None:
    redacted, count = redact(text)
    assert count >= 1 and "@" not in redacted and "AKIA" not in redacted
