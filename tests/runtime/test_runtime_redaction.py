"""The runtime's redaction (the one the reference app's log lines use too): examples and properties (hypothesis).

The reference handler's own copy was the same code and is gone; ``tests/functions/test_redaction.py`` holds its
examples, now run against this module. ``redact`` matches e-mail and IPv6 candidates only where their rare
characters occur (long RAG prompts); a property test checks it against the plain patterns applied to the whole text.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llm_observability.runtime import redaction as r
from llm_observability.runtime.redaction import redact

TOKENS = ("[EMAIL]", "[PHONE]", "[CARD]", "[IP]", "[AWS_KEY]")


@pytest.mark.parametrize(
    ("text", "expected", "count"),
    [
        ("write to jane.doe@example.co.uk today", "write to [EMAIL] today", 1),
        ("call +1 (415) 555-2671 or 415-555-2671", "call [PHONE] or [PHONE]", 2),
        ("card 4111 1111 1111 1111 ok", "card [CARD] ok", 1),
        ("from 10.0.0.1 and 2001:db8::1", "from [IP] and [IP]", 2),
        ("key AKIAIOSFODNN7EXAMPLE leaked", "key [AWS_KEY] leaked", 1),
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
        "AKIAIOSFODNN7EXAMPLE",
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
@given(st.lists(pii, min_size=1, max_size=5).map(", ".join))
def test_known_pii_never_survives(text: str) -> None:
    redacted, count = redact(text)
    assert count >= 1 and "@" not in redacted and "AKIA" not in redacted


def _plain_redact(text: str) -> tuple[str, int]:
    """The patterns applied to the whole text, with the plainest guards: what ``redact`` must equal."""
    total = 0
    for pattern, token, valid, needed in (
        (r._AWS_KEY, r.TOKEN_AWS_KEY, None, "AKIA" in text or "ASIA" in text),
        (r._EMAIL, r.TOKEN_EMAIL, None, True),
        (r._IPV6, r.TOKEN_IP, r._is_ipv6, True),
    ):
        if needed:
            text, count = r._sub_valid(pattern, token, valid, text) if valid else pattern.subn(token, text)
            total += count
    has_digit_run = r._DIGIT_RUN.search(text) is not None
    if has_digit_run:
        text, count = r._sub_valid(r._CARD, r.TOKEN_CARD, r._is_card, text)
        total += count
        text, count = r._IPV4.subn(r.TOKEN_IP, text)
        total += count
    if "+" in text:
        text, count = r._sub_valid(r._PHONE_INTL, r.TOKEN_PHONE, r._is_e164_length, text)
        total += count
    if has_digit_run:
        text, count = r._PHONE_NANP.subn(r.TOKEN_PHONE, text)
        total += count
    return text, total


near_pii = st.sampled_from(
    [
        "a@b.co", "x.y+z@mail.example.org", "@", "a@", "@b.com", "a@b.c_d", "jane@example.com_x", "mail@host-",
        "::", "fe80::1", "2001:db8::8a2e:370:7334", "a:b:c", "10:30:45", "de:ad:be:ef:00:01", "::ffff:192.0.2.1",
    ]
)  # fmt: skip
spaces = st.sampled_from([" ", "\n", "\t", "\u00a0", "\u2003", "", ",", "<", ">", "(", ":", "@", "."])
mixed = st.lists(st.one_of(near_pii, pii, spaces, st.text(max_size=12)), max_size=16).map("".join)


@settings(max_examples=400, deadline=None, database=None)
@given(mixed)
def test_redact_equals_the_plain_patterns_applied_to_the_whole_text(text: str) -> None:
    assert redact(text) == _plain_redact(text)


def test_redact_of_a_long_rag_prompt_equals_the_plain_patterns() -> None:
    passage = "Customers may return unused items within 30 days of delivery; write to returns@example.com. " * 40
    prompt = f"Passages:\n[1] {passage}\n\nQuestion: I am jane.doe@example.com, from 2001:db8::1, a refund?"
    assert redact(prompt) == _plain_redact(prompt)
    assert redact(prompt)[1] == 42  # 41 e-mail addresses and the IPv6 address
