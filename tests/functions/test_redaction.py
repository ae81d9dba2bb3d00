"""PII redaction of log lines (the runtime's, which the reference handler uses too): what is replaced, what is left
alone, and the replacement count."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from llm_observability.runtime.redaction import redact


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # e-mail addresses
        ("write to jane.doe@example.com today", "write to [EMAIL] today"),
        ("first+tag@mail.example.co.uk.", "[EMAIL]."),
        ("<o'brien_1984@sub-domain.example.org>", "<o'[EMAIL]>"),
        # phone numbers
        ("call (555) 123-4567 now", "call [PHONE] now"),
        ("call 555-123-4567", "call [PHONE]"),
        ("call 555.123.4567", "call [PHONE]"),
        ("call 555 123 4567", "call [PHONE]"),
        ("toll free 1-800-555-0199", "toll free [PHONE]"),
        ("US +1 (555) 123-4567.", "US [PHONE]."),
        ("UK +44 20 7946 0958", "UK [PHONE]"),
        ("DE +49 151 1234 5678", "DE [PHONE]"),
        ("FR +33 1 23 45 67 89", "FR [PHONE]"),
        ("compact +4915112345678", "compact [PHONE]"),
        # payment cards (Luhn-valid test numbers)
        ("visa 4111 1111 1111 1111", "visa [CARD]"),
        ("visa 4111-1111-1111-1111", "visa [CARD]"),
        ("visa 4111111111111111", "visa [CARD]"),
        ("amex 378282246310005", "amex [CARD]"),
        ("mastercard 5555 5555 5555 4444 exp 12/30", "mastercard [CARD] exp 12/30"),
        ("diners 30569309025904", "diners [CARD]"),
        # IP addresses
        ("from 192.168.0.1.", "from [IP]."),
        ("hosts 10.0.0.1, 8.8.8.8 and 255.255.255.255", "hosts [IP], [IP] and [IP]"),
        ("v6 2001:db8::1 here", "v6 [IP] here"),
        ("v6 fe80::1ff:fe23:4567:890a", "v6 [IP]"),
        ("full 2001:0db8:85a3:0000:0000:8a2e:0370:7334", "full [IP]"),
        ("mapped ::ffff:192.0.2.128", "mapped [IP]"),
        ("loopback ::1", "loopback [IP]"),
        # AWS access key ids
        ("key AKIAIOSFODNN7EXAMPLE", "key [AWS_KEY]"),
        ("temporary ASIAIOSFODNN7EXAMPLE.", "temporary [AWS_KEY]."),  # ...EXAMPLE: ignored by key scanners
    ],
)
def test_pii_is_replaced_with_a_token(text: str, expected: str) -> None:
    assert redact(text) == (expected, expected.count("["))


@pytest.mark.parametrize(
    "text",
    [
        "",
        "What is the refund policy?",
        "In 2024 we sold 12 items; 1999-2001 was slow.",
        "Order 12345 shipped on 2024-01-15 at 10:30:45.",
        "version 1.2.3 and 1.2.3.4.5 and v1.2.3.4",
        "not an ip 10.0.0.256 or 999.1.1.1",
        "price $1,234.56, pi 3.14159, big 100000, bigger 1234567",
        "random digits 1234 5678 9012 3456 fail the Luhn check",
        "1234567812345678",
        "ISBN 978-3-16-148410-0",
        "a@b and user@localhost are not addresses",
        "time 12:30:45, MAC 00:1A:2B:3C:4D:5E, C++ std::vector, ratio 3:2",
        "too short +12 and +1 2024",
        "1 + 1 = 2",
        "xAKIAIOSFODNN7EXAMPLE and AKIA1234",
        "amount 4111111111111111.50",
        "20 digits 12345678901234567890",
    ],
)
def test_ordinary_text_is_left_alone(text: str) -> None:
    assert redact(text) == (text, 0)


def test_counts_every_replacement() -> None:
    text = (
        "Jane (jane@example.com, +44 20 7946 0958) paid with 4111 1111 1111 1111 "
        "from 203.0.113.7 and 2001:db8::42 using AKIAIOSFODNN7EXAMPLE; cc bob@example.org."
    )

    redacted, count = redact(text)

    assert count == 7
    assert redacted == ("Jane ([EMAIL], [PHONE]) paid with [CARD] from [IP] and [IP] using [AWS_KEY]; cc [EMAIL].")


def test_redaction_is_idempotent() -> None:
    once, _ = redact("mail a.b@example.com or call 555-123-4567 from 10.1.2.3")
    assert redact(once) == (once, 0)


def test_card_number_is_not_split_into_a_phone_number() -> None:
    assert redact("card 5105 1051 0510 5100 ok") == ("card [CARD] ok", 1)


ROOT = Path(__file__).resolve().parents[2]
# The shape AWS key scanners (git-secrets, gitleaks, trufflehog) flag; they let ids ending in EXAMPLE through.
_KEY_ID = re.compile(r"(?<![A-Za-z0-9])(?:AKIA|ASIA)[A-Z0-9]{16}(?![A-Za-z0-9])")


def test_fixture_key_ids_are_ones_that_key_scanners_ignore() -> None:
    found = {
        (path.relative_to(ROOT).as_posix(), key)
        for folder in ("tests", "llm_observability")
        for path in (ROOT / folder).rglob("*.py")
        for key in _KEY_ID.findall(path.read_text(encoding="utf-8"))
        if not key.endswith("EXAMPLE")
    }
    assert found == set()
