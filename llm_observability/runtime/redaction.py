"""PII redaction for text that the runtime writes to logs (prompt logging mode ``redacted``).

``redact(text)`` replaces e-mail addresses, phone numbers, payment card numbers,
IPv4/IPv6 addresses and AWS access key ids with fixed tokens and returns the
redacted text with the number of replacements.  Patterns are compiled once at
import.  Candidates that are easy to confuse with ordinary text (card numbers,
IPv6 addresses, phone numbers) are validated before they are replaced, so
random digit strings, years, times and version numbers survive.

The reference app's log lines use it too, so every log line replaces the same PII with the same tokens. A
prompt can be long (a RAG prompt holds its passages), so the families that need a rare character are only
matched where it occurs: e-mail addresses in the whitespace-delimited words that contain an "@" (no match can
span whitespace, and the pattern's boundaries read whitespace as the end of text), IPv6 addresses only when two
colons are separated by nothing but hex digits. A test checks this gives what the plain patterns give.
Standard library only.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable

TOKEN_EMAIL = "[EMAIL]"
TOKEN_PHONE = "[PHONE]"
TOKEN_CARD = "[CARD]"
TOKEN_IP = "[IP]"
TOKEN_AWS_KEY = "[AWS_KEY]"

_AWS_KEY = re.compile(r"(?<![A-Za-z0-9])(?:AKIA|ASIA)[A-Z0-9]{16}(?![A-Za-z0-9])")
_EMAIL = re.compile(
    r"(?<![\w.%+-])[\w.%+-]++@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}(?![\w-])"
)
# Hex groups with at least two colons, optionally ending in an embedded IPv4
# address; validated with ``ipaddress`` so times and MAC addresses survive.
_IPV6 = re.compile(
    r"(?<![\w:.])(?=[0-9A-Fa-f]*:[0-9A-Fa-f]*:)[0-9A-Fa-f:]{2,39}(?:(?<=:)\d{1,3}(?:\.\d{1,3}){3})?(?![\w:]|\.\d)"
)
# 13-19 digits, optionally grouped by single spaces or dashes; Luhn-checked.
_CARD = re.compile(r"(?<![\d.,+-])\d(?:[ -]?\d){12,18}(?!\d|[.,]\d)")
_IPV4 = re.compile(
    r"(?<![\w.])(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?!\w|\.\d)"
)
# International: "+", a country code, then digit groups (8..15 digits in all, E.164).
_PHONE_INTL = re.compile(r"(?<![\w+])\+[1-9]\d{0,2}(?:[ .-]?(?:\(\d{1,4}\)|\d{1,4})){1,6}(?!\w)")
# North American: optional leading 1, area code, exchange and line number; separators required.
_PHONE_NANP = re.compile(r"(?<![\w+(-])(?:1[ .-]?)?(?:\(\d{3}\)[ .-]?|\d{3}[ .-])\d{3}[ .-]\d{4}(?!\w|[.-]\d)")
# Cheap pre-check: every card, IPv4 and North American phone candidate contains
# a run of at least 7 characters of digits and separators.
_DIGIT_RUN = re.compile(r"\d[\d .()-]{5,}\d")
# Cheap pre-check: every IPv6 candidate starts where the lookahead above finds two colons with only hex
# digits between them.
_IPV6_HINT = re.compile(r":[0-9A-Fa-f]*:")
_NON_DIGITS = re.compile(r"\D")


def _luhn_valid(digits: str) -> bool:
    """Return True when ``digits`` passes the Luhn checksum used by card numbers."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if position % 2:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def _is_card(candidate: str) -> bool:
    digits = _NON_DIGITS.sub("", candidate)
    return 13 <= len(digits) <= 19 and _luhn_valid(digits)


def _is_ipv6(candidate: str) -> bool:
    try:
        ipaddress.IPv6Address(candidate)
    except ValueError:
        return False
    return True


def _is_e164_length(candidate: str) -> bool:
    return 8 <= len(_NON_DIGITS.sub("", candidate)) <= 15


def _sub_valid(pattern: re.Pattern[str], token: str, valid: Callable[[str], bool], text: str) -> tuple[str, int]:
    """Like ``pattern.subn`` but only replaces matches for which ``valid`` holds."""
    count = 0

    def replace(match: re.Match[str]) -> str:
        nonlocal count
        candidate = match.group(0)
        if valid(candidate):
            count += 1
            return token
        return candidate

    return pattern.sub(replace, text), count


def _sub_emails(text: str) -> tuple[str, int]:
    """``_EMAIL.subn`` applied to the whitespace-delimited words of ``text`` that contain an "@" (same result)."""
    at = text.find("@")
    parts: list[str] = []
    total = done = 0
    length = len(text)
    while at != -1:
        start = at
        while start > done and not text[start - 1].isspace():
            start -= 1
        end = at + 1
        while end < length and not text[end].isspace():
            end += 1
        word, count = _EMAIL.subn(TOKEN_EMAIL, text[start:end])
        parts += (text[done:start], word)
        total += count
        done = end
        at = text.find("@", end)
    if not total:
        return text, 0
    parts.append(text[done:])
    return "".join(parts), total


def redact(text: str) -> tuple[str, int]:
    """Replace PII in ``text`` with tokens; return the new text and the number of replacements.

    Order matters: keys and e-mail addresses go first (they contain digits),
    then IP addresses and card numbers, and phone numbers last (international
    before North American, so a "+1" prefix is not left behind).  Each family is
    guarded by a substring check so ordinary prose costs almost nothing.
    """
    total = 0
    if "AKIA" in text or "ASIA" in text:
        text, count = _AWS_KEY.subn(TOKEN_AWS_KEY, text)
        total += count
    if "@" in text:
        text, count = _sub_emails(text)
        total += count
    if _IPV6_HINT.search(text) is not None:
        text, count = _sub_valid(_IPV6, TOKEN_IP, _is_ipv6, text)
        total += count
    has_digit_run = _DIGIT_RUN.search(text) is not None
    if has_digit_run:
        text, count = _sub_valid(_CARD, TOKEN_CARD, _is_card, text)
        total += count
        text, count = _IPV4.subn(TOKEN_IP, text)
        total += count
    if "+" in text:
        text, count = _sub_valid(_PHONE_INTL, TOKEN_PHONE, _is_e164_length, text)
        total += count
    if has_digit_run:
        text, count = _PHONE_NANP.subn(TOKEN_PHONE, text)
        total += count
    return text, total
