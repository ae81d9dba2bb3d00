"""The shared checks: what each accepts, and the one sentence each gives for what it rejects."""

from __future__ import annotations

import math
import re
from typing import Any, Literal

import pytest

from llm_observability import validation as v
from llm_observability.errors import ConfigError

Mode = Literal["create", "adopt"]


def _message(check: Any, *args: Any, **kwargs: Any) -> str:
    with pytest.raises(ConfigError) as raised:
        check(*args, **kwargs)
    text = str(raised.value)
    assert text.endswith(".") and "\n" not in text
    return text


@pytest.mark.parametrize(
    ("kwargs", "good", "bad", "allowed"),
    [
        ({}, (0.1, 10, 5), (0.09, 10.5), "a number from 0.1 to 10"),
        ({"lo_open": True}, (1e-9, 10), (0, -1), "a number above 0 and at most 10"),
        ({"hi_open": True}, (0, 9.99), (10, 11), "a number from 0 to below 10"),
        ({"lo_open": True, "hi_open": True}, (0.5,), (0, 10), "a number above 0 and below 10"),
    ],
)
def test_in_range_bounds(
    kwargs: dict[str, bool], good: tuple[float, ...], bad: tuple[float, ...], allowed: str
) -> None:
    lo = 0.1 if not kwargs else 0
    for value in good:
        assert v.in_range("x", value, lo, 10, **kwargs) == value
    for value in bad:
        assert _message(v.in_range, "x", value, lo, 10, **kwargs) == f"Setting 'x' is {value!r}: allowed is {allowed}."


@pytest.mark.parametrize("value", [math.nan, math.inf, "5", True, None])
def test_in_range_rejects_what_is_not_a_finite_number(value: object) -> None:
    assert _message(v.in_range, "x", value, 0, 10).startswith(f"Setting 'x' is {value!r}: allowed is a number from 0")


def test_whole_number_and_big_bounds_are_printed_with_separators() -> None:
    assert v.whole_number("n", 5000, 1, 5000) == 5000
    for value in (0, 5001, 2.0, False):
        assert _message(v.whole_number, "n", value, 1, 5000) == (
            f"Setting 'n' is {value!r}: allowed is a whole number from 1 to 5,000."
        )
    assert v.Range(0, 1_000_000_000, lo_open=True).allowed == "a number above 0 and at most 1,000,000,000"


def test_choice_takes_a_literal_type_or_a_collection_and_names_the_owner() -> None:
    assert v.choice("mode", "adopt", Mode) == "adopt"
    assert _message(v.choice, "mode", "enable", Mode, owner="ComplianceBaseline") == (
        "ComplianceBaseline 'mode' is 'enable': allowed are create, adopt."
    )
    assert v.choice("level", 2, (1, 2, 3)) == 2
    assert _message(v.choice, "level", True, (1, 2, 3)) == "Setting 'level' is True: allowed are 1, 2, 3."
    assert _message(v.choice, "flag", 1, (True, False)) == "Setting 'flag' is 1: allowed are True, False."
    assert v.Choice(Mode).allowed == "create, adopt"


def test_distinct_choices_returns_a_tuple() -> None:
    assert v.distinct_choices("s", ["cis", "fsbp"], ("fsbp", "cis", "nist")) == ("cis", "fsbp")
    assert v.distinct_choices("s", (), ("fsbp",)) == ()
    for bad in (["cis", "cis"], ["pci"], "cis"):
        assert _message(v.distinct_choices, "s", bad, ("fsbp", "cis")) == (
            f"Setting 's' is {bad!r}: allowed is a list of distinct names from fsbp, cis."
        )
    assert _message(v.distinct_choices, "s", [], Mode, non_empty=True) == (
        "Setting 's' is []: allowed is a list of one or more distinct names from create, adopt."
    )


def test_names_is_a_non_empty_list_of_non_blank_strings() -> None:
    assert v.names("svc", ["Amazon Bedrock"], "service names") == ("Amazon Bedrock",)
    for bad in ([], "Amazon Bedrock", ["a", " "], [1]):
        assert _message(v.names, "svc", bad, "service names") == (
            f"Setting 'svc' is {bad!r}: allowed is a list of one or more service names."
        )


def test_pattern_and_email() -> None:
    assert v.pattern("p", "ab", re.compile(r"^a"), "text starting with a") == "ab"
    assert _message(v.pattern, "p", 5, re.compile(r"^a"), "text") == "Setting 'p' is 5: allowed is text."
    assert v.email("e", "oncall@example.com") == "oncall@example.com"
    assert v.email("e", "") == "" and v.email("e", None) is None
    assert _message(v.email, "email", "nope", owner="AlertTopic") == (
        "AlertTopic 'email' is 'nope': allowed is empty or one e-mail address such as oncall@example.com."
    )
    assert _message(v.email, "e", "", empty_ok=False) == (
        "Setting 'e' is '': allowed is one e-mail address such as oncall@example.com."
    )


def test_the_workload_name_bound_is_the_tightest_derived_name() -> None:
    assert v.WORKLOAD_NAME_MAX_LENGTH == 100 - len("-llm-observability") == 82
    for _, suffix, limit in v.WORKLOAD_DERIVED_NAMES:
        assert v.WORKLOAD_NAME_MAX_LENGTH + len(suffix) <= limit


@pytest.mark.parametrize("name", ["r", "rag-demo", "rag2", "a-b-c", "a" * 82])
def test_valid_workload_names(name: str) -> None:
    assert v.workload_name("workload_name", name) == name


@pytest.mark.parametrize("name", ["", "RagDemo", "rag_demo", "2rag", "-rag", "rag-", "rag demo", "a" * 83, None])
def test_invalid_workload_names(name: str) -> None:
    assert _message(v.workload_name, "name", name, owner="Workload") == (
        f"Workload 'name' is {name!r}: allowed is 1-82 lowercase letters, digits or hyphens, starting with a letter "
        "and not ending with a hyphen."
    )
