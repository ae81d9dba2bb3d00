"""CloudWatch Logs Insights queries from a scheduled function: start, poll, collect, and build safe filters.

One source file, copied into the asset of each function that reads the application's logs (the function
builder's ``shared=("logs_query",)``), where the handler imports it as a sibling: ``import logs_query``.

Why Logs Insights (and not FilterLogEvents): it projects and filters fields server-side across every stream
and log group of the query, and is billed per GB scanned ($0.005), so a function reading an hour of request
logs pays for that hour once. FilterLogEvents returns whole events 1 MB or 10,000 at a time per page and
leaves the parsing and paging across streams to the caller.

Limits this module keeps to (https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_StartQuery.html):

- at most 50 log groups per query (:data:`MAX_LOG_GROUPS`);
- a query string of at most 10,000 characters (:data:`MAX_QUERY_CHARS`; :func:`in_list` keeps ``in [...]``
  filters under it);
- at most 10,000 result rows (:data:`MAX_ROWS`): older runtime boto3 releases reject a larger ``limit`` and
  cannot page GetQueryResults, so a query that matched more is reported ``truncated`` and callers narrow the
  window instead;
- queries time out after 60 minutes server-side; this module stops polling (and calls StopQuery) after
  ``timeout_s`` seconds, well inside a Lambda timeout.

Up to 30 queries run concurrently per account and region (dashboards included): callers run one at a time.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

MAX_LOG_GROUPS = 50
MAX_QUERY_CHARS = 10_000
MAX_ROWS = 10_000
#: Statuses after which a query will not change any more, other than ``Complete``.
FAILED_STATUSES = frozenset({"Failed", "Cancelled", "Timeout", "Unknown"})
#: Seconds between GetQueryResults polls: first, then doubled up to the last.
FIRST_POLL_S = 0.5
MAX_POLL_S = 5.0


class QueryFailed(RuntimeError):
    """A Logs Insights query ended other than ``Complete`` (or was stopped at the deadline)."""

    def __init__(self, status: str, query_id: str | None = None) -> None:
        super().__init__(f"Logs Insights query {query_id or '?'} ended with status {status}")
        self.status = status
        self.query_id = query_id


@dataclass(frozen=True)
class QueryResult:
    """The rows of a completed query, as ``{field: value}`` dicts, and whether the row limit cut it short."""

    rows: list[dict[str, str]]
    matched: int
    truncated: bool


def run_query(
    client: Any,
    log_group_names: Sequence[str],
    query: str,
    start: datetime,
    end: datetime,
    *,
    limit: int = MAX_ROWS,
    sleep: Callable[[float], None] = time.sleep,
    timeout_s: float = 600.0,
    clock: Callable[[], float] = time.monotonic,
) -> QueryResult:
    """Run one Logs Insights query over ``[start, end)`` and return its rows.

    ``client`` is a boto3 ``logs`` client. Raises :class:`QueryFailed` when the query fails, is cancelled,
    times out, or is still running after ``timeout_s`` (it is then stopped, so it stops billing); raises
    ``ValueError`` for arguments the API would reject. AWS errors (throttling, access denied) propagate as
    botocore ``ClientError``: the caller decides whether a run can go on without this query.
    """
    if not log_group_names:
        raise ValueError("A Logs Insights query needs at least one log group.")
    if len(log_group_names) > MAX_LOG_GROUPS:
        raise ValueError(
            f"A Logs Insights query reads at most {MAX_LOG_GROUPS} log groups, not {len(log_group_names)}."
        )
    if len(query) > MAX_QUERY_CHARS:
        raise ValueError(f"A Logs Insights query string is at most {MAX_QUERY_CHARS} characters, not {len(query)}.")
    if not 1 <= limit <= MAX_ROWS:
        raise ValueError(f"The row limit is 1 to {MAX_ROWS}, not {limit}.")
    if end <= start:
        raise ValueError("The query window ends before it starts.")
    started = client.start_query(
        logGroupNames=list(log_group_names),
        startTime=int(start.timestamp()),
        # endTime is inclusive, in whole seconds: stop one second short of the next window.
        endTime=max(int(start.timestamp()), int(end.timestamp()) - 1),
        queryString=query,
        limit=limit,
    )
    query_id = started["queryId"]
    deadline = clock() + timeout_s
    wait = FIRST_POLL_S
    while True:
        response = client.get_query_results(queryId=query_id)
        status = response.get("status", "Unknown")
        if status == "Complete":
            rows = [_row(fields) for fields in response.get("results", [])]
            matched = int(float((response.get("statistics") or {}).get("recordsMatched", len(rows))))
            return QueryResult(rows=rows, matched=matched, truncated=matched > len(rows))
        if status in FAILED_STATUSES:
            raise QueryFailed(status, query_id)
        if clock() + wait > deadline:
            try:
                client.stop_query(queryId=query_id)
            except Exception:  # noqa: BLE001 - the query may have finished meanwhile; the deadline is the error
                pass
            raise QueryFailed("DeadlineExceeded", query_id)
        sleep(wait)
        wait = min(wait * 2, MAX_POLL_S)


def _row(fields: Iterable[dict[str, Any]]) -> dict[str, str]:
    return {f["field"]: f.get("value", "") for f in fields if isinstance(f, dict) and "field" in f}


def messages(rows: Iterable[dict[str, str]]) -> Iterator[dict[str, Any]]:
    """The JSON object in each row's ``@message``; rows without one, or with a line that is not a JSON object, are skipped."""
    for row in rows:
        text = row.get("@message")
        if not text:
            continue
        try:
            parsed = json.loads(text)
        except (ValueError, RecursionError):  # not JSON, or nested deeper than the parser's recursion limit
            continue
        if isinstance(parsed, dict):
            yield parsed


def field(record: dict[str, Any], path: str | None) -> Any:
    """The value at a dotted ``path`` of a parsed log line (``"usage.input_tokens"``), or ``None``.

    A key that itself contains the dots (Powertools flattens nothing, but some loggers do) is found too.
    """
    if not path:
        return None
    if path in record:
        return record[path]
    value: Any = record
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def windows(end: datetime, period: timedelta, count: int = 1) -> list[tuple[datetime, datetime]]:
    """``count`` consecutive windows of ``period``, the last ending at ``end`` floored to a whole period (UTC).

    Aligned to the epoch, so a scheduled run and its retry read the same windows. Oldest first.
    """
    if period <= timedelta(0) or count < 1:
        raise ValueError("A window needs a positive period and a count of at least 1.")
    seconds = int(period.total_seconds())
    epoch = int(end.astimezone(UTC).timestamp())
    last_end = epoch - epoch % seconds
    return [
        (
            datetime.fromtimestamp(last_end - (count - i) * seconds, UTC),
            datetime.fromtimestamp(last_end - (count - i - 1) * seconds, UTC),
        )
        for i in range(count)
    ]


def quote(value: str) -> str:
    """``value`` as a Logs Insights string literal (double quotes, backslash escapes)."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def in_list(field_name: str, values: Iterable[str], max_chars: int = 9_000) -> list[str]:
    """``filter <field> in [...]`` clauses covering ``values``, each at most ``max_chars`` characters.

    One query per clause keeps every query string under StartQuery's 10,000 characters (the rest of the
    query gets the remainder). Duplicates are dropped, order kept. A single value longer than the budget
    raises ``ValueError``: no clause could hold it.
    """
    head = f"filter {field_name} in ["
    clauses: list[str] = []
    current: list[str] = []
    size = len(head) + 1
    for value in dict.fromkeys(values):
        literal = quote(value)
        extra = len(literal) + (2 if current else 0)
        if len(head) + 1 + len(literal) > max_chars:
            raise ValueError(f"A value of {len(value)} characters does not fit a {max_chars}-character filter.")
        if size + extra > max_chars:
            clauses.append(head + ", ".join(current) + "]")
            current, size = [], len(head) + 1
            extra = len(literal)
        current.append(literal)
        size += extra
    if current:
        clauses.append(head + ", ".join(current) + "]")
    return clauses
