"""Typed checks shared by the settings and the constructs: a bad value stops synth with one sentence.

Every check raises :class:`~llm_observability.errors.ConfigError` worded
``"<owner> '<setting>' is <value>: allowed is/are <what>."`` (``owner`` is ``Setting`` for a context key,
the construct's class name for a construct prop) and returns the value it accepted. The rule objects
(:class:`Range`, :class:`Choice`, :class:`Pattern`, ...) bundle one bound with its check and the text the
messages and the generated configuration reference print, so each bound is written once.

The workload-name rule lives here too (:data:`WORKLOAD_NAME_MAX_LENGTH`): it is the one rule for
``workload_name`` and ``Workload.name``, sized so that every physical name derived from the name fits.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal, Protocol, TypeVar, get_args, get_origin

from llm_observability.errors import ConfigError

T = TypeVar("T")

#: Physical names built from the workload name: (what, suffix the library appends, the service's limit).
#: The longest suffix of the three stack names is the Level 1 one.
WORKLOAD_DERIVED_NAMES: tuple[tuple[str, str, int], ...] = (
    ("CloudFormation stack name <name>-l1-foundation", "-l1-foundation", 128),
    ("Amazon Managed Service for Prometheus workspace alias <name>-llm-observability", "-llm-observability", 100),
    ("CodeGuru Profiler profiling group <name>-rag-api (CodeGuruProfiling accepts 200)", "-rag-api", 200),
)
#: The longest workload name for which every name above fits: 82, set by the Prometheus workspace alias.
#: OpenSearch domain/collection names (3-28 characters) and S3 bucket names shorten the name themselves;
#: they need its lowercase-letter start and lowercase characters, which the rule below guarantees.
WORKLOAD_NAME_MAX_LENGTH: int = min(limit - len(suffix) for _, suffix, limit in WORKLOAD_DERIVED_NAMES)
WORKLOAD_NAME_RE = re.compile(rf"^[a-z](?:[a-z0-9-]{{0,{WORKLOAD_NAME_MAX_LENGTH - 2}}}[a-z0-9])?$")
WORKLOAD_NAME_ALLOWED = (
    f"1-{WORKLOAD_NAME_MAX_LENGTH} lowercase letters, digits or hyphens, starting with a letter and not ending "
    "with a hyphen"
)

_EMAIL_RE = re.compile(r"^[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}$")
EMAIL_ALLOWED = "one e-mail address such as oncall@example.com"


# ------------------------------------------------------------------------------------------------- checks
def fail(setting: str, value: object, allowed: str, *, plural: bool = False, owner: str = "Setting") -> ConfigError:
    """The one-sentence error for ``setting`` (raise it): ``allowed`` is the text after "allowed is/are"."""
    return ConfigError(f"{owner} '{setting}' is {value!r}: allowed {'are' if plural else 'is'} {allowed}.")


def number_text(value: float) -> str:
    """A bound as the messages print it: ``1000000000`` -> ``1,000,000,000``; ``0.1`` -> ``0.1``."""
    return f"{int(value):,}" if float(value).is_integer() else f"{value:g}"


def range_text(lo: float, hi: float, *, lo_open: bool = False, hi_open: bool = False, whole: bool = False) -> str:
    """``a number from 0.1 to 10``, ``a number above 0 and at most 1,000,000,000``, ``... to below 100``."""
    kind = "a whole number" if whole else "a number"
    low, high = number_text(lo), number_text(hi)
    if lo_open and hi_open:
        return f"{kind} above {low} and below {high}"
    if lo_open:
        return f"{kind} above {low} and at most {high}"
    if hi_open:
        return f"{kind} from {low} to below {high}"
    return f"{kind} from {low} to {high}"


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def in_range(
    setting: str,
    value: float,
    lo: float,
    hi: float,
    *,
    lo_open: bool = False,
    hi_open: bool = False,
    owner: str = "Setting",
) -> float:
    """``value`` if it is a finite number within ``lo``..``hi`` (``lo_open``/``hi_open``: the bound itself excluded)."""
    ok = (
        _is_number(value)
        and (lo < value if lo_open else lo <= value)
        and (value < hi if hi_open else value <= hi)
    )
    if not ok:
        raise fail(setting, value, range_text(lo, hi, lo_open=lo_open, hi_open=hi_open), owner=owner)
    return value


def whole_number(setting: str, value: int, lo: int, hi: int, *, owner: str = "Setting") -> int:
    """``value`` if it is a whole number (not a bool) from ``lo`` to ``hi``."""
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise fail(setting, value, range_text(lo, hi, whole=True), owner=owner)
    return value


def options_of(allowed: object) -> tuple[Any, ...]:
    """The values of a ``Literal[...]`` type, or the items of a collection of allowed values."""
    if get_origin(allowed) is Literal:
        return get_args(allowed)
    if isinstance(allowed, Iterable) and not isinstance(allowed, str):
        return tuple(allowed)
    raise TypeError(f"allowed values must be a Literal type or a collection, not {allowed!r}")


def choice(setting: str, value: T, allowed: object, *, owner: str = "Setting") -> T:
    """``value`` if it is one of ``allowed`` (a ``Literal[...]`` type or a collection of values)."""
    options = options_of(allowed)
    # True == 1 in Python: a bool matches only a bool option, and a number only a number option.
    if not any(o == value and isinstance(o, bool) == isinstance(value, bool) for o in options):
        raise fail(setting, value, ", ".join(map(str, options)), plural=True, owner=owner)
    return value


def distinct_choices(
    setting: str, values: Iterable[T], allowed: object, *, non_empty: bool = False, owner: str = "Setting"
) -> tuple[T, ...]:
    """``values`` as a tuple if it is a list (or tuple) of distinct members of ``allowed`` (with ``non_empty``: one
    or more)."""
    options = options_of(allowed)
    ok = (
        isinstance(values, list | tuple)
        and len(set(values)) == len(values)
        and all(v in options for v in values)
        and (len(values) > 0 or not non_empty)
    )
    if not ok:
        what = "one or more distinct names" if non_empty else "distinct names"
        raise fail(setting, values, f"a list of {what} from {', '.join(map(str, options))}", owner=owner)
    return tuple(values)


def names(setting: str, values: Iterable[str], what: str, *, owner: str = "Setting") -> tuple[str, ...]:
    """``values`` as a tuple if it is a list (or tuple, not a string) of one or more non-blank strings."""
    ok = (
        isinstance(values, list | tuple)
        and len(values) > 0
        and all(isinstance(v, str) and v.strip() for v in values)
    )
    if not ok:
        raise fail(setting, values, f"a list of one or more {what}", owner=owner)
    return tuple(values)


def pattern(setting: str, value: str, regex: re.Pattern[str], allowed: str, *, owner: str = "Setting") -> str:
    """``value`` if it is a string that ``regex`` matches; ``allowed`` describes such strings for the message."""
    if not isinstance(value, str) or not regex.match(value):
        raise fail(setting, value, allowed, owner=owner)
    return value


def email(setting: str, value: str | None, *, empty_ok: bool = True, owner: str = "Setting") -> str | None:
    """``value`` if it is one e-mail address (or, with ``empty_ok``, empty or None: no address)."""
    if empty_ok and not value:
        return value
    allowed = f"empty or {EMAIL_ALLOWED}" if empty_ok else EMAIL_ALLOWED
    return pattern(setting, value or "", _EMAIL_RE, allowed, owner=owner)


def workload_name(setting: str, value: str, *, owner: str = "Setting") -> str:
    """``value`` if it is a valid workload name (see :data:`WORKLOAD_NAME_MAX_LENGTH`)."""
    return pattern(setting, value, WORKLOAD_NAME_RE, WORKLOAD_NAME_ALLOWED, owner=owner)


# -------------------------------------------------------------------------------------------------- rules
class Rule(Protocol):
    """One bound or choice list: its check and the text that messages and the reference print."""

    @property
    def allowed(self) -> str: ...

    def check(self, setting: str, value: Any, *, owner: str = "Setting") -> Any: ...


@dataclass(frozen=True)
class Range:
    """Numbers from ``lo`` to ``hi`` (``lo_open``/``hi_open``: the bound itself excluded; ``whole``: integers)."""

    lo: float
    hi: float
    lo_open: bool = False
    hi_open: bool = False
    whole: bool = False

    @property
    def allowed(self) -> str:
        return range_text(self.lo, self.hi, lo_open=self.lo_open, hi_open=self.hi_open, whole=self.whole)

    def check(self, setting: str, value: Any, *, owner: str = "Setting") -> Any:
        if self.whole:
            return whole_number(setting, value, int(self.lo), int(self.hi), owner=owner)
        return in_range(setting, value, self.lo, self.hi, lo_open=self.lo_open, hi_open=self.hi_open, owner=owner)


@dataclass(frozen=True)
class Choice:
    """One of ``options`` (a ``Literal[...]`` type or a collection), or with ``many`` a list of distinct ones."""

    options: object
    many: bool = False

    @property
    def allowed(self) -> str:
        listed = ", ".join(map(str, options_of(self.options)))
        return f"a list of distinct names from {listed}" if self.many else listed

    def check(self, setting: str, value: Any, *, owner: str = "Setting") -> Any:
        if self.many:
            return distinct_choices(setting, value, self.options, owner=owner)
        return choice(setting, value, self.options, owner=owner)


@dataclass(frozen=True)
class Pattern:
    """Strings ``regex`` matches, described by ``text``."""

    regex: re.Pattern[str]
    text: str

    @property
    def allowed(self) -> str:
        return self.text

    def check(self, setting: str, value: Any, *, owner: str = "Setting") -> Any:
        return pattern(setting, value, self.regex, self.text, owner=owner)


@dataclass(frozen=True)
class NameList:
    """A list of one or more non-blank strings, described by ``what`` (e.g. ``Cost Explorer service names``)."""

    what: str

    @property
    def allowed(self) -> str:
        return f"a list of one or more {self.what}"

    def check(self, setting: str, value: Any, *, owner: str = "Setting") -> Any:
        return names(setting, value, self.what, owner=owner)


@dataclass(frozen=True)
class Email:
    """Empty (no address) or one e-mail address."""

    @property
    def allowed(self) -> str:
        return f"empty or {EMAIL_ALLOWED}"

    def check(self, setting: str, value: Any, *, owner: str = "Setting") -> Any:
        return email(setting, value, owner=owner)


@dataclass(frozen=True)
class WorkloadName:
    """The workload-name rule (:data:`WORKLOAD_NAME_ALLOWED`)."""

    @property
    def allowed(self) -> str:
        return WORKLOAD_NAME_ALLOWED

    def check(self, setting: str, value: Any, *, owner: str = "Setting") -> Any:
        return workload_name(setting, value, owner=owner)
