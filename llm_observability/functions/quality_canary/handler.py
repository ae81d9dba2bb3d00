"""Quality canary: asks the RAG API a golden set of questions and publishes answer-quality metrics.

Run on a schedule by EventBridge (the event's content is ignored).  Each golden
question goes through the target function's real handler path: a synchronous
Lambda Invoke of ``TARGET_FUNCTION_NAME`` with an API Gateway REST proxy event
made from the request contract (``REQUEST_CONTRACT``, see ``canary_contract``;
without it ``POST /ask`` of the reference RAG API) whose
``requestContext.requestId`` is ``canary-<run id>-<question id>`` (the run id
is this invocation's Lambda request id), so the target's logs of canary
traffic carry that correlation id.  The answer, found at the contract's
answer path of the JSON response body, is scored against the reference answer
with ``scoring.rouge_l``, ``scoring.bleu`` and ``scoring.token_f1``.

Metrics (CloudWatch EMF, namespace ``POWERTOOLS_METRICS_NAMESPACE``)
    One blob per (ModelId, PromptVersion) pair the answers reported, dimensions
    {service, ModelId, PromptVersion}: QualityRougeL, QualityBleu,
    QualityTokenF1, AnswerLength and RefusalRate (0 or 100) with one value per
    scored question, so the CloudWatch Average is the run's average, and
    CanaryQuestions, the number of scored questions.  One blob with dimension
    {service}: CanaryFailures, the number of questions without a scorable
    answer (0 included, so the metric also shows that the canary runs).

Failures of one question (Invoke throttled, timed out or failing in any other
way, FunctionError, non-200 status, an answer that cannot be parsed or scored)
are logged with a reason from ``canary_telemetry.FAILURE_REASONS`` and do not
stop the run: an unexpected exception costs its question, never the metrics.  The handler
returns and logs a summary; when every question failed it raises
``CanaryRunFailed`` after the metrics are flushed, so the function's Errors
metric fires.  A bad configuration or golden set raises ``CanaryConfigError``.

Environment: see ``canary_telemetry.ENV_*``.  IAM: ``lambda:InvokeFunction`` on
the target function.

Test seams: ``set_client()`` injects a Lambda client, ``reset_state()``
simulates a new container.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import os
import re
import uuid
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import canary_contract
import canary_telemetry as telemetry
import scoring
from aws_lambda_powertools import Logger
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch import AmazonCloudWatchEMFProvider
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.config import Config
from botocore.exceptions import ClientError, ConnectTimeoutError, ReadTimeoutError

SERVICE_NAME = os.getenv(telemetry.ENV_POWERTOOLS_SERVICE_NAME) or telemetry.DEFAULT_SERVICE_NAME
NAMESPACE = os.getenv(telemetry.ENV_POWERTOOLS_METRICS_NAMESPACE) or telemetry.DEFAULT_NAMESPACE

DEFAULT_GOLDEN_SET_PATH = Path(__file__).resolve().with_name("golden_set.json")
CONNECT_TIMEOUT_SECONDS = 5.0
DEFAULT_READ_TIMEOUT_SECONDS = 30.0
MAX_READ_TIMEOUT_SECONDS = 900.0
MAX_ATTEMPTS = 2
USER_AGENT = canary_contract.USER_AGENT
#: Lambda Invoke error codes that mean "throttled".
THROTTLING_CODES = frozenset({"TooManyRequestsException", "ThrottlingException"})

_QUESTION_ID = re.compile(r"[A-Za-z0-9-]{1,64}")  # keeps the request id valid for the RAG API's /feedback
_MAX_LABEL_CHARS = 256  # a ModelId / PromptVersion dimension value
_MAX_LOGGED_CHARS = 500

logger = Logger(service=SERVICE_NAME)


# --- Configuration -----------------------------------------------------------------------
class CanaryConfigError(Exception):
    """The function's environment or golden set is invalid; ``problems`` lists every issue."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("Invalid quality canary configuration: " + " ".join(problems))
        self.problems = problems


class CanaryRunFailed(Exception):
    """Every question of a run failed."""


@dataclass(frozen=True, slots=True)
class GoldenQuestion:
    """A question and the reference answer its answer is scored against."""

    id: str
    question: str
    reference: str


@dataclass(frozen=True, slots=True)
class CanaryConfig:
    """Validated configuration: the target function and the questions of each run."""

    target_function: str
    questions: tuple[GoldenQuestion, ...]
    read_timeout: float = DEFAULT_READ_TIMEOUT_SECONDS
    contract: canary_contract.Contract = canary_contract.REFERENCE


def load_golden_set(path: Path) -> tuple[GoldenQuestion, ...]:
    """Read ``{"questions": [{"id", "question", "reference"}, ...]}``; raise CanaryConfigError listing all problems."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise CanaryConfigError([f"Golden set {path} cannot be read: {exc.strerror or exc}."]) from None
    except ValueError as exc:
        raise CanaryConfigError([f"Golden set {path} is not valid JSON: {exc}."]) from None
    items = document.get("questions") if isinstance(document, dict) else None
    if not isinstance(items, list) or not items:
        raise CanaryConfigError([f"Golden set {path} must be a JSON object with a non-empty 'questions' list."])

    problems: list[str] = []
    questions: list[GoldenQuestion] = []
    seen: set[str] = set()
    for index, item in enumerate(items):
        where = f"Golden set {path} questions[{index}]"
        if not isinstance(item, dict):
            problems.append(f"{where} must be an object.")
            continue
        fields = {name: item.get(name) for name in ("id", "question", "reference")}
        missing = [name for name, value in fields.items() if not isinstance(value, str) or not value.strip()]
        if missing:
            problems.append(f"{where} needs non-empty strings {', '.join(repr(name) for name in missing)}.")
            continue
        question_id = fields["id"]
        if not _QUESTION_ID.fullmatch(question_id):
            problems.append(f"{where} id {question_id!r} must be 1 to 64 letters, digits or hyphens.")
        elif question_id in seen:
            problems.append(f"{where} id {question_id!r} is used more than once.")
        seen.add(question_id)
        questions.append(GoldenQuestion(question_id, fields["question"].strip(), fields["reference"]))
    if problems:
        raise CanaryConfigError(problems)
    return tuple(questions)


def load_config(environ: Mapping[str, str] | None = None) -> CanaryConfig:
    """Read and validate the environment and the golden set; raise CanaryConfigError listing every problem."""
    env = os.environ if environ is None else environ
    problems: list[str] = []

    target = env.get(telemetry.ENV_TARGET_FUNCTION_NAME, "").strip()
    if not target:
        problems.append(f"{telemetry.ENV_TARGET_FUNCTION_NAME} is required and must not be empty.")

    max_questions: int | None = None
    raw = env.get(telemetry.ENV_MAX_QUESTIONS, "").strip()
    if raw:
        try:
            max_questions = int(raw)
        except ValueError:
            max_questions = 0
        if max_questions < 1:
            problems.append(f"{telemetry.ENV_MAX_QUESTIONS} must be a positive integer, got {raw!r}.")

    read_timeout = DEFAULT_READ_TIMEOUT_SECONDS
    raw = env.get(telemetry.ENV_PER_QUESTION_TIMEOUT, "").strip()
    if raw:
        try:
            read_timeout = float(raw)
        except ValueError:
            read_timeout = math.nan
        if not 1 <= read_timeout <= MAX_READ_TIMEOUT_SECONDS:
            problems.append(
                f"{telemetry.ENV_PER_QUESTION_TIMEOUT} must be a number of seconds from 1 to "
                f"{MAX_READ_TIMEOUT_SECONDS:g}, got {raw!r}."
            )
            read_timeout = DEFAULT_READ_TIMEOUT_SECONDS

    contract = canary_contract.REFERENCE
    raw = env.get(telemetry.ENV_REQUEST_CONTRACT, "").strip()
    if raw:
        try:
            contract = canary_contract.parse(raw)
        except ValueError as exc:
            problems.append(str(exc))

    path = Path(env.get(telemetry.ENV_GOLDEN_SET_PATH, "").strip() or DEFAULT_GOLDEN_SET_PATH)
    if not path.is_absolute():
        path = DEFAULT_GOLDEN_SET_PATH.parent / path
    try:
        questions = load_golden_set(path)
    except CanaryConfigError as exc:
        problems.extend(exc.problems)
        questions = ()

    if problems:
        raise CanaryConfigError(problems)
    return CanaryConfig(target, questions[:max_questions], read_timeout, contract)


# --- Per-container state ---------------------------------------------------------------
_config: CanaryConfig | None = None
_client: Any = None


def client_config(read_timeout: float = DEFAULT_READ_TIMEOUT_SECONDS) -> Config:
    """botocore configuration of the Lambda client: the read timeout bounds the wait for one answer."""
    return Config(
        connect_timeout=CONNECT_TIMEOUT_SECONDS,
        read_timeout=read_timeout,
        retries={"mode": "standard", "total_max_attempts": MAX_ATTEMPTS},
        user_agent_extra=USER_AGENT,
    )


def set_client(client: Any) -> None:
    """Use ``client`` as the Lambda client (tests); None makes the next run create one."""
    global _client
    _client = client


def reset_state() -> None:
    """Forget the configuration and the client, as in a new container."""
    global _config
    _config = None
    set_client(None)


def get_client(read_timeout: float = DEFAULT_READ_TIMEOUT_SECONDS) -> Any:
    """The container's Lambda client, created on first use with ``client_config(read_timeout)``.

    Region, endpoint (``AWS_ENDPOINT_URL_LAMBDA``) and credentials come from the
    standard boto3 configuration chain.
    """
    if _client is None:
        set_client(boto3.client("lambda", config=client_config(read_timeout)))
    return _client


def get_config() -> CanaryConfig:
    """The container's configuration, read on the first invocation that finds it valid."""
    global _config
    if _config is None:
        _config = load_config()
    return _config


# --- One question ------------------------------------------------------------------------
class QuestionFailed(Exception):
    """A question got no scorable answer; ``reason`` is one of ``telemetry.FAILURE_REASONS``."""

    def __init__(self, reason: str, detail: str, **fields: Any) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail
        self.fields = fields


@dataclass(frozen=True, slots=True)
class Answer:
    """The parts of a 200 response of POST /ask that the canary uses."""

    text: str
    model_id: str
    prompt_version: str
    request_id: str | None


@dataclass(frozen=True, slots=True)
class ScoredAnswer:
    """The scores of one answer."""

    question_id: str
    model_id: str
    prompt_version: str
    rag_request_id: str | None  # the request id the RAG API reported (its logs' correlation id)
    rouge_l: float
    bleu: float
    token_f1: float
    words: int
    refusal: bool


def _excerpt(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text[:_MAX_LOGGED_CHARS]


def _json_object(text: Any, base64_encoded: bool = False) -> dict[str, Any] | None:
    """The JSON object in ``text`` (a proxy body or an Invoke payload), else None."""
    if isinstance(text, (bytes, bytearray)):
        text = text.decode("utf-8", errors="replace")
    if not isinstance(text, str):
        return None
    try:
        if base64_encoded:
            text = base64.b64decode(text, validate=True).decode("utf-8")
        document = json.loads(text)
    except (binascii.Error, ValueError, RecursionError):  # RecursionError: nested too deep
        return None
    return document if isinstance(document, dict) else None


def _label(value: Any) -> bool:
    """A usable dimension value: a non-empty string of at most _MAX_LABEL_CHARS printable characters."""
    return isinstance(value, str) and 0 < len(value.strip()) <= _MAX_LABEL_CHARS and value.isprintable()


def invoke(client: Any, target: str, event: Mapping[str, Any]) -> bytes:
    """Invoke the RAG function synchronously and return its response payload; QuestionFailed on any error."""
    try:
        response = client.invoke(
            FunctionName=target,
            InvocationType="RequestResponse",
            Payload=json.dumps(event, ensure_ascii=False).encode("utf-8"),
        )
        payload: bytes = response["Payload"].read()
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        reason = telemetry.FAILURE_THROTTLED if code in THROTTLING_CODES else telemetry.FAILURE_INVOKE_ERROR
        raise QuestionFailed(reason, "Lambda Invoke failed", aws_error_code=code) from exc
    except (ReadTimeoutError, ConnectTimeoutError) as exc:
        raise QuestionFailed(telemetry.FAILURE_TIMEOUT, "Lambda Invoke timed out", error=type(exc).__name__) from exc
    except Exception as exc:  # BotoCoreError, and the unexpected: a RuntimeError, no Payload, an OSError reading it
        raise QuestionFailed(telemetry.FAILURE_INVOKE_ERROR, "Lambda Invoke failed", error=type(exc).__name__) from exc
    if response.get("FunctionError"):
        error = _json_object(payload) or {}
        raise QuestionFailed(
            telemetry.FAILURE_FUNCTION_ERROR,
            "The RAG function failed",
            function_error=response["FunctionError"],
            error_type=error.get("errorType"),
            error_message=_excerpt(error.get("errorMessage", payload[:_MAX_LOGGED_CHARS].decode(errors="replace"))),
        )
    return payload


def parse_answer(payload: bytes, contract: canary_contract.Contract = canary_contract.REFERENCE) -> Answer:
    """The answer in an API Gateway proxy response payload, where ``contract`` says; QuestionFailed unless it is a
    well-formed 200."""
    response = _json_object(payload)
    status = response.get("statusCode") if response else None
    if response is None or not isinstance(status, int) or isinstance(status, bool):
        raise QuestionFailed(
            telemetry.FAILURE_MALFORMED_RESPONSE,
            "The payload is not an API Gateway proxy response",
            payload_excerpt=_excerpt(payload[:_MAX_LOGGED_CHARS].decode(errors="replace")),
        )
    body = _json_object(response.get("body"), base64_encoded=response.get("isBase64Encoded") is True)
    if status != 200:
        raise QuestionFailed(
            telemetry.FAILURE_HTTP_STATUS,
            "The RAG API answered with an error status",
            status=status,
            error=_excerpt((body or {}).get("error", response.get("body"))),
        )
    if body is None:
        raise QuestionFailed(telemetry.FAILURE_MALFORMED_RESPONSE, "The response body is not a JSON object")
    text = canary_contract.find(body, contract.answer_path)
    model_id = canary_contract.find(body, contract.model_path) if contract.model_path else contract.default_model_id
    prompt_version = (
        canary_contract.find(body, contract.prompt_version_path)
        if contract.prompt_version_path
        else canary_contract.UNVERSIONED
    )
    if not isinstance(text, str) or not _label(model_id) or not _label(prompt_version):
        raise QuestionFailed(
            telemetry.FAILURE_MALFORMED_RESPONSE,
            "The response body lacks the answer, model id or prompt version where the request contract says",
            body_keys=sorted(body)[:20],
        )
    request_id = body.get("request_id")
    return Answer(text, model_id, prompt_version, request_id if isinstance(request_id, str) else None)


def score(item: GoldenQuestion, answer: Answer) -> ScoredAnswer:
    """Score an answer against the question's reference answer."""
    return ScoredAnswer(
        question_id=item.id,
        model_id=answer.model_id,
        prompt_version=answer.prompt_version,
        rag_request_id=answer.request_id,
        rouge_l=scoring.rouge_l(item.reference, answer.text),
        bleu=scoring.bleu(item.reference, answer.text),
        token_f1=scoring.token_f1(item.reference, answer.text),
        words=scoring.word_count(answer.text),
        refusal=scoring.is_refusal(answer.text),
    )


# --- One run -------------------------------------------------------------------------------
@dataclass
class Run:
    """What a run asked and got."""

    run_id: str
    scored: list[ScoredAnswer]
    failures: Counter[str]
    skipped: int = 0

    @property
    def asked(self) -> int:
        return len(self.scored) + sum(self.failures.values())

    def by_version(self) -> dict[tuple[str, str], list[ScoredAnswer]]:
        """Scored answers grouped by (model id, prompt version), in first-seen order."""
        groups: dict[tuple[str, str], list[ScoredAnswer]] = {}
        for answer in self.scored:
            groups.setdefault((answer.model_id, answer.prompt_version), []).append(answer)
        return groups

    def summary(self) -> dict[str, Any]:
        """The run's result: counts and, per ``<model id>|<prompt version>``, the average scores."""
        versions = {}
        for (model_id, prompt_version), answers in self.by_version().items():
            count = len(answers)
            versions[f"{model_id}|{prompt_version}"] = {
                "model_id": model_id,
                "prompt_version": prompt_version,
                "questions": count,
                "rouge_l": sum(a.rouge_l for a in answers) / count,
                "bleu": sum(a.bleu for a in answers) / count,
                "token_f1": sum(a.token_f1 for a in answers) / count,
                "answer_words": sum(a.words for a in answers) / count,
                "refusal_rate": 100.0 * sum(a.refusal for a in answers) / count,
            }
        return {
            "run_id": self.run_id,
            "questions": self.asked,
            "failures": sum(self.failures.values()),
            "failures_by_reason": dict(self.failures),
            "skipped": self.skipped,
            "by_version": versions,
        }


def ask(
    client: Any,
    target: str,
    request_id: str,
    item: GoldenQuestion,
    contract: canary_contract.Contract = canary_contract.REFERENCE,
) -> ScoredAnswer:
    """Ask one golden question as ``contract`` says and score the answer; QuestionFailed if there is no scorable
    answer."""
    payload = invoke(client, target, canary_contract.proxy_event(contract, item.question, request_id))
    try:
        return score(item, parse_answer(payload, contract))
    except QuestionFailed:
        raise
    except Exception as exc:  # a bug or a hostile answer must cost one question, not the run's metrics
        raise QuestionFailed(
            telemetry.FAILURE_MALFORMED_RESPONSE, "The answer could not be scored", error=type(exc).__name__
        ) from exc


def run_canary(
    config: CanaryConfig,
    client: Any,
    run_id: str,
    remaining_ms: Callable[[], int] | None = None,
) -> Run:
    """Ask every configured question in order.

    Before each question after the first, ``remaining_ms`` (the Lambda
    context's clock) must leave room for a worst-case Invoke with its retry;
    otherwise the remaining questions are skipped so the metrics can still be
    flushed before the function times out.
    """
    budget_ms = (CONNECT_TIMEOUT_SECONDS + config.read_timeout) * MAX_ATTEMPTS * 1000 + 1000
    run = Run(run_id, [], Counter())
    for index, item in enumerate(config.questions):
        if index and remaining_ms is not None and remaining_ms() < budget_ms:
            run.skipped = len(config.questions) - index
            logger.warning(
                "Canary run stopped early: not enough time left for another question",
                extra={"skipped": run.skipped, "remaining_ms": remaining_ms()},
            )
            break
        request_id = f"{telemetry.REQUEST_ID_PREFIX}-{run_id}-{item.id}"
        try:
            answer = ask(client, config.target_function, request_id, item, config.contract)
        except QuestionFailed as exc:
            run.failures[exc.reason] += 1
            logger.warning(
                "Canary question failed",
                extra={"question_id": item.id, "request_id": request_id, "reason": exc.reason,
                       "detail": exc.detail, **exc.fields},
            )  # fmt: skip
            continue
        run.scored.append(answer)
        logger.info(
            "Canary question scored",
            extra={
                "question_id": item.id,
                "request_id": request_id,
                "rag_request_id": answer.rag_request_id,
                "model_id": answer.model_id,
                "prompt_version": answer.prompt_version,
                "rouge_l": answer.rouge_l,
                "bleu": answer.bleu,
                "token_f1": answer.token_f1,
                "answer_words": answer.words,
                "refusal": answer.refusal,
            },
        )
    return run


def _add_answers(blob: AmazonCloudWatchEMFProvider, answers: Sequence[Answer]) -> None:
    """One value per scored question of each score metric, so the CloudWatch Average is the run's."""
    for answer in answers:
        blob.add_metric(name=telemetry.METRIC_ROUGE_L, unit=MetricUnit.NoUnit, value=answer.rouge_l)
        blob.add_metric(name=telemetry.METRIC_BLEU, unit=MetricUnit.NoUnit, value=answer.bleu)
        blob.add_metric(name=telemetry.METRIC_TOKEN_F1, unit=MetricUnit.NoUnit, value=answer.token_f1)
        blob.add_metric(name=telemetry.METRIC_ANSWER_LENGTH, unit=MetricUnit.Count, value=answer.words)
        blob.add_metric(name=telemetry.METRIC_REFUSAL_RATE, unit=MetricUnit.Percent, value=100 if answer.refusal else 0)
    blob.add_metric(name=telemetry.METRIC_CANARY_QUESTIONS, unit=MetricUnit.Count, value=len(answers))


def publish(run: Run) -> None:
    """Print the run's EMF blobs: one per (ModelId, PromptVersion) to compare versions, then one with the
    ``service`` dimension only (all answers, and CanaryFailures) that alarms watch whatever the version."""
    by_version = run.by_version()
    for (model_id, prompt_version), answers in by_version.items():
        blob = AmazonCloudWatchEMFProvider(namespace=NAMESPACE, service=SERVICE_NAME)
        blob.set_default_dimensions(
            **{
                telemetry.DIM_SERVICE: SERVICE_NAME,
                telemetry.DIM_MODEL_ID: model_id,
                telemetry.DIM_PROMPT_VERSION: prompt_version,
            }
        )
        blob.add_metadata(key="run_id", value=run.run_id)
        _add_answers(blob, answers)
        blob.flush_metrics()

    blob = AmazonCloudWatchEMFProvider(namespace=NAMESPACE, service=SERVICE_NAME)
    blob.set_default_dimensions(**{telemetry.DIM_SERVICE: SERVICE_NAME})
    blob.add_metadata(key="run_id", value=run.run_id)
    _add_answers(blob, [answer for answers in by_version.values() for answer in answers])
    blob.add_metric(name=telemetry.METRIC_CANARY_FAILURES, unit=MetricUnit.Count, value=sum(run.failures.values()))
    blob.flush_metrics()


# --- Entry point ---------------------------------------------------------------------------
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    """Lambda entry point (``handler.lambda_handler``): one canary run; returns its summary."""
    try:
        config = get_config()
    except CanaryConfigError as exc:
        logger.error("Invalid quality canary configuration", extra={"configuration_problems": exc.problems})
        raise

    run_id = getattr(context, "aws_request_id", None) or str(uuid.uuid4())
    logger.set_correlation_id(run_id)
    remaining_ms = getattr(context, "get_remaining_time_in_millis", None)
    run = run_canary(config, get_client(config.read_timeout), run_id, remaining_ms if callable(remaining_ms) else None)
    publish(run)

    summary = run.summary()
    if run.asked and not run.scored:
        logger.error("Canary run failed: no question got a scorable answer", extra={"summary": summary})
        raise CanaryRunFailed(
            f"All {run.asked} canary questions to {config.target_function} failed "
            f"({', '.join(f'{reason}: {count}' for reason, count in sorted(run.failures.items()))}); "
            "see the 'Canary question failed' log records."
        )
    logger.info("Canary run", extra={"summary": summary})
    return summary
