"""Online judge: an LLM grades a deterministic sample of the application's real answers from its logs.

Run on a schedule by EventBridge (the event's content is ignored), every ``WINDOW_MINUTES``:

1. The window is the last whole period (aligned to the epoch) ending at least 5 minutes ago, so the logs of its
   requests have been ingested. One Logs Insights query over ``LOG_GROUP_NAMES`` reads the lines marked as
   answers (``LOG_SCHEMA``'s marker) and the retrieval lines (``retrieval.count > 0``), oldest first, at most
   10,000 rows (a truncated result is logged and judged as far as it goes).
2. Lines are grouped by request (correlation) id. The answer line carries question, answer, model and prompt
   version; its passages are its own (the reference ``ask`` line) or those of the Retrieve line of the same request
   (the runtime's ``bedrock_call`` lines). Canary requests (``canary-`` ids), failed calls and lines without text
   are never judged.
3. A request is sampled when ``sha256(request id)`` as a fraction of 2**64 is below ``SAMPLE_PERCENT``/100: a rerun
   picks the same answers. At most ``MAX_PER_RUN`` of them (the lowest fractions) are judged.
4. This month's judge tokens (``JudgeInputTokens`` + ``JudgeOutputTokens``, GetMetricData Sum from the 1st, 00:00
   UTC) plus each call's ceiling (an input estimate + 300 output tokens) must stay within ``MONTHLY_TOKEN_CAP``;
   the first call that would not fit stops the run with ``JudgeCapReached`` 1. Metrics reach GetMetricData a few
   minutes late, so the cap can be overshot by at most one run's tokens. Unreadable usage judges nothing.
5. Each answer gets one Converse call on ``JUDGE_MODEL_ID`` (temperature 0, 300 output tokens) with the rubric's
   ``record_scores`` tool (``rubric.py``); grades are parsed strictly. Malformed grades, throttling and model errors
   count ``JudgeFailures`` and the run goes on; an error that every call would repeat (access denied, unknown
   model) stops it.

Output: per answering (ModelId, PromptVersion) and for the whole service, EMF blobs timestamped at the answers'
minute with JudgeRelevance, JudgeFaithfulness, JudgeCoherence (0-1), JudgeHarmful (0 or 100) and JudgedAnswers;
one run blob (service) with JudgeInputTokens, JudgeOutputTokens, JudgeFailures and JudgeCapReached. One
``judge_result`` log line per judged answer: ids, model, versions, grades, reason and tokens, never the question or
answer text. A failed query, unreadable usage, a stopping error or a run whose every call failed raises
``JudgeRunFailed`` after the metrics are flushed; a bad configuration raises ``JudgeConfigError``.

Environment: see ``judge_telemetry.ENV_*``. IAM: ``logs:StartQuery`` on the log groups, ``logs:GetQueryResults``,
``logs:StopQuery``, ``cloudwatch:GetMetricData`` and ``bedrock:InvokeModel`` on the judge model.

Test seams: ``set_client(service, client)`` injects a client, ``reset_state()`` simulates a new container and
``utcnow`` is the clock.
"""

from __future__ import annotations

import json
import math
import os
import uuid
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import judge_logs
import judge_telemetry as telemetry
import logs_query
import rubric
from aws_lambda_powertools import Logger
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch import AmazonCloudWatchEMFProvider
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.config import Config
from botocore.exceptions import ClientError, ConnectTimeoutError, ReadTimeoutError
from judge_logs import Answer, Schema

SERVICE_NAME = os.getenv(telemetry.ENV_POWERTOOLS_SERVICE_NAME) or telemetry.DEFAULT_SERVICE_NAME
NAMESPACE = os.getenv(telemetry.ENV_POWERTOOLS_METRICS_NAMESPACE) or telemetry.DEFAULT_NAMESPACE

INGESTION_DELAY = timedelta(minutes=5)
QUERY_TIMEOUT_SECONDS = 240.0
MAX_OUTPUT_TOKENS = 300
CONNECT_TIMEOUT_SECONDS = 5.0
READ_TIMEOUT_SECONDS = 30.0
MAX_ATTEMPTS = 2
DEFAULTS = {"sample_percent": 10.0, "max_per_run": 50, "window_minutes": 15, "monthly_token_cap": 2_000_000}
#: Converse error codes: throttled; timed out; and those every further call of the run would repeat.
THROTTLING_CODES = frozenset({"ThrottlingException", "ServiceQuotaExceededException", "TooManyRequestsException"})
TIMEOUT_CODES = frozenset({"ModelTimeoutException"})
STOP_CODES = frozenset(
    {"AccessDeniedException", "ResourceNotFoundException", "UnrecognizedClientException", "ExpiredTokenException"}
)
#: Geography prefixes of cross-region inference profiles (``us.amazon.nova-lite-v1:0``).
_GEO_PREFIXES = frozenset({"us", "us-gov", "eu", "apac", "jp", "au", "ca", "global"})

logger = Logger(service=SERVICE_NAME)


def utcnow() -> datetime:
    return datetime.now(UTC)


# --- Configuration -----------------------------------------------------------------------------------------------
class JudgeConfigError(Exception):
    """The function's environment is invalid; ``problems`` lists every issue."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("Invalid online judge configuration: " + " ".join(problems))
        self.problems = problems


class JudgeRunFailed(Exception):
    """The run could not judge: its query or usage read failed, or every judge call failed."""


@dataclass(frozen=True)
class JudgeConfig:
    log_group_names: tuple[str, ...]
    schema: Schema
    model_id: str
    rubric: rubric.Rubric
    sample_percent: float = DEFAULTS["sample_percent"]
    max_per_run: int = DEFAULTS["max_per_run"]
    window: timedelta = timedelta(minutes=DEFAULTS["window_minutes"])
    monthly_token_cap: int = DEFAULTS["monthly_token_cap"]
    price: Mapping[str, float] | None = None


def _json(env: Mapping[str, str], name: str, problems: list[str]) -> Any:
    raw = env.get(name, "").strip()
    if not raw:
        problems.append(f"{name} is required and must not be empty.")
        return None
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):
        problems.append(f"{name} is not valid JSON.")
        return None


def _number(env: Mapping[str, str], name: str, default: float, lo: float, hi: float, problems: list[str], *,
            whole: bool = False, lo_open: bool = False) -> Any:  # fmt: skip
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw) if whole else float(raw)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and (lo < value if lo_open else lo <= value) and value <= hi):
        kind = "a whole number" if whole else "a number"
        problems.append(f"{name} must be {kind} {'above' if lo_open else 'from'} {lo:g} to {hi:g}, got {raw!r}.")
        return default
    return value


def load_config(environ: Mapping[str, str] | None = None) -> JudgeConfig:
    """Read and validate the environment; raise JudgeConfigError listing every problem."""
    env = os.environ if environ is None else environ
    problems: list[str] = []
    names = _json(env, telemetry.ENV_LOG_GROUP_NAMES, problems)
    if names is not None and (
        not isinstance(names, list)
        or not 1 <= len(names) <= logs_query.MAX_LOG_GROUPS
        or not all(isinstance(n, str) and n for n in names)
    ):
        problems.append(f"{telemetry.ENV_LOG_GROUP_NAMES} must be a JSON list of 1 to 50 log group names.")
    schema_problems: list[str] = []
    schema = judge_logs.parse_schema(_json(env, telemetry.ENV_LOG_SCHEMA, schema_problems), schema_problems)
    problems += schema_problems
    model_id = env.get(telemetry.ENV_JUDGE_MODEL_ID, "").strip()
    if not model_id:
        problems.append(f"{telemetry.ENV_JUDGE_MODEL_ID} is required and must not be empty.")
    sample = _number(env, telemetry.ENV_SAMPLE_PERCENT, DEFAULTS["sample_percent"], 0, 100, problems, lo_open=True)
    max_per_run = _number(env, telemetry.ENV_MAX_PER_RUN, DEFAULTS["max_per_run"], 1, 500, problems, whole=True)
    minutes = _number(env, telemetry.ENV_WINDOW_MINUTES, DEFAULTS["window_minutes"], 5, 60, problems, whole=True)
    cap = _number(env, telemetry.ENV_MONTHLY_TOKEN_CAP, DEFAULTS["monthly_token_cap"], 1, 10**12, problems, whole=True)
    price: Mapping[str, float] | None = None
    raw_price = env.get(telemetry.ENV_JUDGE_PRICE, "").strip() or "{}"
    try:
        parsed = json.loads(raw_price)
    except ValueError:
        parsed = None
    if parsed == {}:
        price = None
    elif (
        isinstance(parsed, dict)
        and set(parsed) == {"input_per_1k", "output_per_1k"}
        and all(isinstance(v, int | float) and not isinstance(v, bool) and v >= 0 for v in parsed.values())
    ):
        price = {k: float(v) for k, v in parsed.items()}
    else:
        problems.append(f'{telemetry.ENV_JUDGE_PRICE} must be {{}} or {{"input_per_1k": n, "output_per_1k": n}}.')
    judged: rubric.Rubric | None = None
    try:
        raw_rubric = env.get(telemetry.ENV_JUDGE_RUBRIC, "").strip()
        judged = rubric.Rubric.from_json(raw_rubric) if raw_rubric else rubric.Rubric.load()
        if schema is not None and schema.passages is None:
            judged = judged.for_answer(has_passages=False)
            if not any(c.kind != rubric.TEXT for c in judged.criteria):
                problems.append("The rubric grades only criteria that need passages, and LOG_SCHEMA has none.")
    except (rubric.RubricError, OSError) as exc:
        problems.append(f"{telemetry.ENV_JUDGE_RUBRIC}: {exc}")
    if problems or schema is None or judged is None:
        raise JudgeConfigError(problems)
    return JudgeConfig(
        log_group_names=tuple(names), schema=schema, model_id=model_id, rubric=judged, sample_percent=float(sample),
        max_per_run=int(max_per_run), window=timedelta(minutes=int(minutes)), monthly_token_cap=int(cap), price=price,
    )  # fmt: skip


# --- Per-container state --------------------------------------------------------------------------------------------
_config: JudgeConfig | None = None
_clients: dict[str, Any] = {}
SERVICES = ("logs", "cloudwatch", "bedrock-runtime")


def client_config(service: str) -> Config:
    """botocore configuration: one retry (standard mode), read timeouts bounding one call."""
    return Config(
        connect_timeout=CONNECT_TIMEOUT_SECONDS,
        read_timeout=READ_TIMEOUT_SECONDS,
        retries={"mode": "standard", "total_max_attempts": MAX_ATTEMPTS if service == "bedrock-runtime" else 3},
    )


def set_client(service: str, client: Any) -> None:
    """Use ``client`` for ``service`` (``logs``, ``cloudwatch``, ``bedrock-runtime``); None makes a new one on use."""
    if service not in SERVICES:
        raise ValueError(f"service must be one of {SERVICES}, not {service!r}")
    if client is None:
        _clients.pop(service, None)
    else:
        _clients[service] = client


def reset_state() -> None:
    """Forget the configuration and the clients, as in a new container."""
    global _config
    _config = None
    _clients.clear()


def get_client(service: str) -> Any:
    """The container's client of ``service`` (standard boto3 configuration: region, endpoint URLs, credentials)."""
    if service not in _clients:
        _clients[service] = boto3.client(service, config=client_config(service))
    return _clients[service]


def get_config() -> JudgeConfig:
    global _config
    if _config is None:
        _config = load_config()
    return _config


# --- The monthly token cap -----------------------------------------------------------------------------------------
def month_start(now: datetime) -> datetime:
    return now.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def tokens_used(client: Any, now: datetime) -> int:
    """The judge's input + output tokens of this calendar month (UTC), from its own metrics (daily Sums)."""
    start = month_start(now)
    end = max(now, start + timedelta(minutes=1))
    queries = [
        {
            "Id": f"m{index}",
            "MetricStat": {
                "Metric": {
                    "Namespace": NAMESPACE,
                    "MetricName": name,
                    "Dimensions": [{"Name": telemetry.DIM_SERVICE, "Value": SERVICE_NAME}],
                },
                "Period": 86_400,
                "Stat": "Sum",
            },
            "ReturnData": True,
        }  # fmt: skip
        for index, name in enumerate((telemetry.METRIC_INPUT_TOKENS, telemetry.METRIC_OUTPUT_TOKENS))
    ]
    total, token = 0.0, None
    for _ in range(20):  # 2 series x 31 days fit one page; a few more pages at most
        params: dict[str, Any] = {"MetricDataQueries": queries, "StartTime": start, "EndTime": end}
        if token:
            params["NextToken"] = token
        response = client.get_metric_data(**params)
        for result in response.get("MetricDataResults", []):
            total += sum(v for v in result.get("Values", []) if isinstance(v, int | float) and math.isfinite(v))
        token = response.get("NextToken")
        if not token:
            break
    return int(total)


# --- One judgement ------------------------------------------------------------------------------------------------
class JudgeFailed(Exception):
    """An answer got no valid grades; ``reason`` is one of ``telemetry.FAILURE_REASONS``."""

    def __init__(self, reason: str, detail: str, *, tokens: tuple[int, int] = (0, 0), stop: bool = False,
                 **fields: Any) -> None:  # fmt: skip
        super().__init__(detail)
        self.reason, self.detail, self.tokens, self.stop, self.fields = reason, detail, tokens, stop, fields


@dataclass(frozen=True)
class Verdict:
    answer: Answer
    grades: dict[str, Any]
    input_tokens: int
    output_tokens: int


def specific_tool_choice(model_id: str) -> bool:
    """Does the model's family accept ``toolChoice={"tool": ...}`` (Anthropic Claude 3 and later, Amazon Nova)?"""
    base = model_id.rsplit("/", 1)[-1]
    head, _, rest = base.partition(".")
    if head in _GEO_PREFIXES and rest:
        base = rest
    if base.startswith("amazon.nova"):
        return True
    return base.startswith("anthropic.claude") and not base.startswith(
        ("anthropic.claude-v", "anthropic.claude-instant")
    )


def build_request(config: JudgeConfig, answer: Answer) -> tuple[dict[str, Any], rubric.Rubric, int]:
    """The Converse request for ``answer``, the criteria it asks for, and its token ceiling."""
    asked = config.rubric.for_answer(bool(answer.passages))
    system, user = asked.system_text(), rubric.user_text(answer.question, answer.answer, answer.passages)
    tools = asked.tool_config(specific_tool_choice(config.model_id))
    request = {
        "modelId": config.model_id,
        "system": [{"text": system}],
        "messages": [{"role": "user", "content": [{"text": user}]}],
        "inferenceConfig": {"maxTokens": MAX_OUTPUT_TOKENS, "temperature": 0},
        "toolConfig": tools,
    }
    return request, asked, rubric.estimate_tokens(system, user, json.dumps(tools)) + MAX_OUTPUT_TOKENS


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def judge(client: Any, request: Mapping[str, Any], asked: rubric.Rubric, answer: Answer) -> Verdict:
    """One Converse call and its strictly parsed grades; JudgeFailed for anything else."""
    try:
        response = client.converse(**request)
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        reason = (telemetry.FAILURE_THROTTLED if code in THROTTLING_CODES
                  else telemetry.FAILURE_TIMEOUT if code in TIMEOUT_CODES else telemetry.FAILURE_MODEL_ERROR)  # fmt: skip
        raise JudgeFailed(reason, "Converse failed", stop=code in STOP_CODES, aws_error_code=code) from exc
    except (ReadTimeoutError, ConnectTimeoutError) as exc:
        raise JudgeFailed(telemetry.FAILURE_TIMEOUT, "Converse timed out", error=type(exc).__name__) from exc
    except Exception as exc:  # BotoCoreError and the unexpected: one answer, never the run
        raise JudgeFailed(telemetry.FAILURE_MODEL_ERROR, "Converse failed", error=type(exc).__name__) from exc
    usage = response.get("usage") if isinstance(response, Mapping) else None
    usage = usage if isinstance(usage, Mapping) else {}
    tokens = (_count(usage.get("inputTokens")), _count(usage.get("outputTokens")))
    try:
        grades = rubric.read_response(asked, response)
    except rubric.MalformedOutput as exc:
        raise JudgeFailed(telemetry.FAILURE_MALFORMED_OUTPUT, str(exc), tokens=tokens) from exc
    except Exception as exc:  # noqa: BLE001 - a hostile response costs its answer
        raise JudgeFailed(telemetry.FAILURE_MALFORMED_OUTPUT, type(exc).__name__, tokens=tokens) from exc
    return Verdict(answer, grades, *tokens)


# --- One run ------------------------------------------------------------------------------------------------------
@dataclass
class Run:
    run_id: str
    window: tuple[datetime, datetime]
    verdicts: list[Verdict] = field(default_factory=list)
    failures: Counter[str] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)
    answers: int = 0
    sampled: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cap_reached: bool = False
    tokens_before: int | None = None
    truncated: bool = False
    error: str | None = None

    @property
    def failed(self) -> bool:
        return self.error is not None or (sum(self.failures.values()) > 0 and not self.verdicts)

    def summary(self, price: Mapping[str, float] | None = None) -> dict[str, Any]:
        versions: dict[str, dict[str, Any]] = {}
        for verdict in self.verdicts:
            key = f"{verdict.answer.model_id}|{verdict.answer.prompt_version}"
            versions.setdefault(key, {"answers": 0, **{n: [] for n in telemetry.CRITERION_METRICS}})
            versions[key]["answers"] += 1
            for name in telemetry.CRITERION_METRICS:
                if name in verdict.grades:
                    versions[key][name].append(metric_value(name, verdict.grades[name]))
        for entry in versions.values():
            for name in telemetry.CRITERION_METRICS:
                values = entry.pop(name)
                if values:
                    entry[name] = sum(values) / len(values)
        return {
            "run_id": self.run_id,
            "window": [self.window[0].isoformat(), self.window[1].isoformat()],
            "answers": self.answers, "sampled": self.sampled, "judged": len(self.verdicts),
            "failures": sum(self.failures.values()), "failures_by_reason": dict(self.failures),
            "skipped": dict(self.skipped), "truncated": self.truncated, "cap_reached": self.cap_reached,
            "tokens": {"input": self.input_tokens, "output": self.output_tokens, "month_before_run": self.tokens_before},
            "estimated_cost_usd": cost(price, self.input_tokens, self.output_tokens),
            "error": self.error, "by_version": versions,
        }  # fmt: skip


def cost(price: Mapping[str, float] | None, input_tokens: int, output_tokens: int) -> float | None:
    if price is None:
        return None
    return round(input_tokens / 1000 * price["input_per_1k"] + output_tokens / 1000 * price["output_per_1k"], 8)


def metric_value(name: str, grade: Any) -> float:
    """A grade as its metric's value: a 1-5 score as 0-1, a boolean as 0 or 100 (percent)."""
    return (100.0 if grade else 0.0) if isinstance(grade, bool) else rubric.normalized(grade)


def run_judge(config: JudgeConfig, run_id: str, now: datetime, remaining_ms: Callable[[], int] | None = None) -> Run:
    """One run over the window before ``now``; never raises for AWS errors (``Run.error`` says what failed)."""
    window = logs_query.windows(now - INGESTION_DELAY, config.window, 1)[0]
    run = Run(run_id, window)
    try:
        _execute(run, config, now, remaining_ms)
    except Exception as exc:  # noqa: BLE001 - a bug must still let the metrics flush
        run.error = type(exc).__name__
        logger.exception("Judge run failed unexpectedly")
    return run


def _execute(run: Run, config: JudgeConfig, now: datetime, remaining_ms: Callable[[], int] | None) -> None:
    try:
        result = logs_query.run_query(get_client("logs"), config.log_group_names, judge_logs.build_query(config.schema),
                                      *run.window, timeout_s=QUERY_TIMEOUT_SECONDS)  # fmt: skip
    except logs_query.QueryFailed as exc:
        run.error = "QueryFailed"
        logger.error("Judge query failed", extra={"status": exc.status, "query_id": exc.query_id})
        return
    except ClientError as exc:
        run.error = "QueryFailed"
        logger.error("Judge query failed", extra={"aws_error_code": exc.response.get("Error", {}).get("Code", "")})
        return
    if result.truncated:
        logger.warning("Judge query truncated: the window had more lines than one query returns",
                       extra={"matched": result.matched, "returned": len(result.rows)})  # fmt: skip
    run.truncated = result.truncated
    answers, run.skipped = judge_logs.collect_answers(result.rows, config.schema, run.window[0])
    chosen, over = judge_logs.choose(answers, config.sample_percent, config.max_per_run)
    run.answers, run.sampled = len(answers), len(chosen) + over
    if over:
        run.skipped["over_max_per_run"] = over
    if not chosen:
        return
    try:
        used = run.tokens_before = tokens_used(get_client("cloudwatch"), now)
    except Exception as exc:  # noqa: BLE001 - without the month's usage the cap cannot hold: judge nothing
        run.error = "UsageUnknown"
        code = exc.response.get("Error", {}).get("Code", "") if isinstance(exc, ClientError) else type(exc).__name__
        logger.error("Judge token usage unreadable: nothing judged", extra={"error": code})
        return
    budget_ms = (CONNECT_TIMEOUT_SECONDS + READ_TIMEOUT_SECONDS) * MAX_ATTEMPTS * 1000 + 1000
    bedrock = get_client("bedrock-runtime")
    for index, answer in enumerate(chosen):
        if index and remaining_ms is not None and remaining_ms() < budget_ms:
            run.skipped["out_of_time"] = len(chosen) - index
            logger.warning("Judge run stopped early: not enough time left", extra={"skipped": len(chosen) - index})
            break
        request, asked, ceiling = build_request(config, answer)
        if used + ceiling > config.monthly_token_cap:
            run.cap_reached = True
            run.skipped["cap_reached"] = len(chosen) - index
            logger.warning("Judge monthly token cap reached", extra={
                "used": used, "cap": config.monthly_token_cap, "call_ceiling": ceiling, "unjudged": len(chosen) - index,
            })  # fmt: skip
            break
        try:
            verdict = judge(bedrock, request, asked, answer)
        except JudgeFailed as exc:
            run.failures[exc.reason] += 1
            run.input_tokens += exc.tokens[0]
            run.output_tokens += exc.tokens[1]
            used += sum(exc.tokens)
            logger.warning("Judge call failed", extra={"request_id": answer.request_id, "reason": exc.reason,
                                                      "detail": exc.detail, **exc.fields})  # fmt: skip
            if exc.stop:
                run.error = "ModelUnavailable"
                run.skipped["stopped"] = len(chosen) - index - 1
                break
            continue
        run.verdicts.append(verdict)
        run.input_tokens += verdict.input_tokens
        run.output_tokens += verdict.output_tokens
        used += verdict.input_tokens + verdict.output_tokens
        log_verdict(config, verdict)


def log_verdict(config: JudgeConfig, verdict: Verdict) -> None:
    """The ``judge_result`` line: ids, versions, grades, reason and tokens; never the question or answer."""
    scores = {k: v for k, v in verdict.grades.items() if k in telemetry.CRITERION_METRICS}
    logger.info(
        telemetry.LOG_MESSAGE_JUDGE,
        extra={
            "request_id": verdict.answer.request_id, "answer_time": verdict.answer.timestamp.isoformat(),
            "model_id": verdict.answer.model_id, "prompt_version": verdict.answer.prompt_version,
            "judge_model_id": config.model_id, "rubric_version": config.rubric.version, "scores": scores,
            "reason": verdict.grades.get("reason"), "passages": len(verdict.answer.passages),
            "tokens": {"input": verdict.input_tokens, "output": verdict.output_tokens},
            "estimated_cost_usd": cost(config.price, verdict.input_tokens, verdict.output_tokens),
        },
    )  # fmt: skip


# --- Metrics --------------------------------------------------------------------------------------------------------
def _blob(dimensions: Mapping[str, str], timestamp: datetime, run_id: str) -> AmazonCloudWatchEMFProvider:
    blob = AmazonCloudWatchEMFProvider(namespace=NAMESPACE, service=SERVICE_NAME)
    blob.set_default_dimensions(**dimensions)
    blob.set_timestamp(int(timestamp.timestamp() * 1000))
    blob.add_metadata(key="run_id", value=run_id)
    return blob


def _add_verdicts(blob: AmazonCloudWatchEMFProvider, verdicts: list[Verdict]) -> None:
    for verdict in verdicts:
        for name, metric in telemetry.CRITERION_METRICS.items():
            if name in verdict.grades:
                unit = MetricUnit.Percent if metric == telemetry.METRIC_HARMFUL else MetricUnit.NoUnit
                blob.add_metric(name=metric, unit=unit, value=metric_value(name, verdict.grades[name]))
    blob.add_metric(name=telemetry.METRIC_JUDGED_ANSWERS, unit=MetricUnit.Count, value=len(verdicts))


def publish(run: Run, now: datetime) -> None:
    """Print the run's EMF blobs: the grades per answering (ModelId, PromptVersion) and for the service, one blob per
    answer minute (timestamped there), then the run blob (tokens, failures, cap) timestamped ``now``."""
    by_minute: dict[datetime, list[Verdict]] = {}
    for verdict in run.verdicts:
        by_minute.setdefault(verdict.answer.timestamp.replace(second=0, microsecond=0), []).append(verdict)
    for minute, verdicts in by_minute.items():
        versions: dict[tuple[str, str], list[Verdict]] = {}
        for verdict in verdicts:
            versions.setdefault((verdict.answer.model_id, verdict.answer.prompt_version), []).append(verdict)
        for (model_id, prompt_version), group in versions.items():
            blob = _blob({telemetry.DIM_SERVICE: SERVICE_NAME, telemetry.DIM_MODEL_ID: model_id,
                          telemetry.DIM_PROMPT_VERSION: prompt_version}, minute, run.run_id)  # fmt: skip
            _add_verdicts(blob, group)
            blob.flush_metrics()
        blob = _blob({telemetry.DIM_SERVICE: SERVICE_NAME}, minute, run.run_id)
        _add_verdicts(blob, verdicts)
        blob.flush_metrics()
    blob = _blob({telemetry.DIM_SERVICE: SERVICE_NAME}, now, run.run_id)
    blob.add_metric(name=telemetry.METRIC_INPUT_TOKENS, unit=MetricUnit.Count, value=run.input_tokens)
    blob.add_metric(name=telemetry.METRIC_OUTPUT_TOKENS, unit=MetricUnit.Count, value=run.output_tokens)
    blob.add_metric(name=telemetry.METRIC_FAILURES, unit=MetricUnit.Count, value=sum(run.failures.values()))
    blob.add_metric(name=telemetry.METRIC_CAP_REACHED, unit=MetricUnit.Count, value=1 if run.cap_reached else 0)
    blob.flush_metrics()


# --- Entry point ----------------------------------------------------------------------------------------------------
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    """Lambda entry point (``handler.lambda_handler``): one judge run; returns its summary."""
    try:
        config = get_config()
    except JudgeConfigError as exc:
        logger.error("Invalid online judge configuration", extra={"configuration_problems": exc.problems})
        raise
    run_id = getattr(context, "aws_request_id", None) or str(uuid.uuid4())
    logger.set_correlation_id(run_id)
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    now = utcnow()
    run = run_judge(config, run_id, now, remaining if callable(remaining) else None)
    publish(run, now)
    summary = run.summary(config.price)
    if run.failed:
        logger.error("Judge run failed", extra={"summary": summary})
        raise JudgeRunFailed(
            f"The online judge run {run_id} failed ({run.error or 'every judge call failed'}): "
            "see the 'Judge query failed', 'Judge token usage unreadable' or 'Judge call failed' log records."
        )
    logger.info("Judge run", extra={"summary": summary})
    return summary
