"""One instrumented Bedrock call: what it was asked, what it answered, and the metrics and log line it emits.

``Call`` is created before the request is sent. ``succeeded(response)`` reads the response and, for
responses the user consumes later (ConverseStream and InvokeModelWithResponseStream events, the InvokeModel
body), puts a watching wrapper in their place; ``failed(exc)`` records the error. ``finish`` emits, once:

- StageLatency{service, Stage} (unless the call runs inside the user's ``stage()`` of the same name);
- on success of a model invocation: InputTokens and OutputTokens{service, ModelId};
- when no ``observe``d invocation counts requests: RequestSuccess, or RequestFailure{service} for a
  server-side error class (``telemetry.FAILURE_ERROR_CLASSES``);
- one ``bedrock_call`` log line with what is no metric: model, tokens, estimated cost, latencies, error class,
  prompt properties and length, the prompt version (``prompt_version()``), the retrieved passages (count, top score
  and ``retrieval.passages``: ids and scores, and excerpts per the prompt-logging mode), stop reason, PII redactions
  and - per the prompt-logging mode - the question and answer.

Every method is called through ``recorder.guard`` by the hook, and the callbacks given to the wrappers report
their own failures: a failure here never reaches the user.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from . import _tracing, genai
from . import telemetry as t
from .api import current_prompt_version
from .classify import error_class, error_code
from .extract import (
    HEADER_INPUT_TOKENS,
    HEADER_LATENCY,
    HEADER_OUTPUT_TOKENS,
    INVOCATION_METRICS,
    MAX_TEXT_CHARS,
    Completion,
    Prompt,
    clip,
    converse_completion,
    converse_prompt,
    count,
    dig,
    header,
    invoke_completion,
    invoke_prompt,
    invoke_stream_delta,
    load_json,
    loggable_passages,
    number,
    rag_model,
    rag_references,
    request_id,
    response_headers,
    retrieval_passages,
    retrieval_scores,
)
from .recorder import UNIT_COUNT, UNIT_MS, Recorder, current_stage, guard
from .streams import InstrumentedEventStream, TeeBody
from .tenancy import METADATA_KEY, current_tenant

_now = time.perf_counter
_INVOCATION_METRICS_BYTES = INVOCATION_METRICS.encode()
#: ``retrieval.passages``: the passages are a key of the line's ``retrieval`` object.
_RETRIEVAL_FIELD, _PASSAGES_KEY = t.LOG_FIELD_PASSAGES.split(".")


@dataclass(frozen=True)
class Operation:
    """A Bedrock operation the runtime instruments."""

    name: str
    stage: str
    kind: str  # converse | invoke | retrieve | rag
    streamed: bool = False

    @property
    def inference(self) -> bool:
        """True for bedrock-runtime model invocations."""
        return self.kind in ("converse", "invoke")


OPERATIONS: dict[tuple[str, str], Operation] = {
    ("bedrock-runtime", "Converse"): Operation("Converse", t.STAGE_INFERENCE, "converse"),
    ("bedrock-runtime", "ConverseStream"): Operation("ConverseStream", t.STAGE_INFERENCE, "converse", True),
    ("bedrock-runtime", "InvokeModel"): Operation("InvokeModel", t.STAGE_INFERENCE, "invoke"),
    ("bedrock-runtime", "InvokeModelWithResponseStream"): Operation(
        "InvokeModelWithResponseStream", t.STAGE_INFERENCE, "invoke", True
    ),
    ("bedrock-agent-runtime", "Retrieve"): Operation("Retrieve", t.STAGE_RETRIEVAL, "retrieve"),
    ("bedrock-agent-runtime", "RetrieveAndGenerate"): Operation("RetrieveAndGenerate", t.STAGE_RETRIEVAL, "rag"),
}


#: Model ids a call names -> the model its metrics, price and log line report (``api.alias_model``): an application
#: inference profile (per tenant) stands for the model it copies, so per-model metrics and alarms still see it.
MODEL_ALIASES: dict[str, str] = {}

#: Where an operation takes ``requestMetadata``: the Converse body (a map), InvokeModel's header (a JSON string).
_METADATA_HEADER_KINDS = ("invoke",)


def with_tenant(op: Operation, client: Any, params: dict[str, Any], tenant: str | None) -> dict[str, Any]:
    """``params`` with ``requestMetadata={"tenant": tenant}`` added when a tenant is set, the operation is a model
    invocation and the call has no ``requestMetadata`` of its own (a copy; the user's dict is left as it is).

    InvokeModel takes it as the ``X-Amzn-Bedrock-Request-Metadata`` header (a JSON string), which only newer
    botocore versions know: it is added only when the client's service model has the member, so an older SDK in a
    Lambda runtime is never sent a parameter it would reject.
    """
    if tenant is None or not op.inference or "requestMetadata" in params:
        return params
    if op.kind in _METADATA_HEADER_KINDS:
        members = client.meta.service_model.operation_model(op.name).input_shape.members
        if "requestMetadata" not in members:
            return params
        return {**params, "requestMetadata": json.dumps({METADATA_KEY: tenant}, separators=(",", ":"))}
    return {**params, "requestMetadata": {METADATA_KEY: tenant}}


class Call:
    """The instrumentation of one Bedrock call."""

    def __init__(self, rec: Recorder, op: Operation, params: dict[str, Any]) -> None:
        self.rec = rec
        self.op = op
        self.params = params
        self.started = _now()
        self.ids = rec.ids()
        self.tenant = current_tenant.get()
        self.prompt_version = current_prompt_version.get()
        self.timed_by_stage = current_stage.get() == op.stage
        self.elapsed_ms: float | None = None
        self.first_event_ms: float | None = None
        self.completion = Completion()
        self.error: BaseException | None = None
        self.incomplete = False
        self.bedrock_request_id: str | None = None
        self.retrieved: int | None = None
        self.top_score: float | None = None
        self.passages: list[dict[str, Any]] | None = None  # retrieval_passages: ids, scores, excerpt windows
        self._parts: list[str] = []
        self._chars = 0
        self._wants_text = rec.settings.prompt_logging != t.PROMPT_LOGGING_NONE
        self._done = False
        self._prompt: Prompt | None = None
        self.scope: _tracing.Scope | None = None  # the call's span (``hook`` starts it, ``finish`` ends it)
        config = params.get("retrieveAndGenerateConfiguration")
        invoked = params.get("modelId") if op.inference else rag_model(params) if op.kind == "rag" else None
        #: the id the call named (an application inference profile ARN) when ``alias_model`` reports it as a model
        self.invoked_model_id: str | None = invoked if isinstance(invoked, str) and invoked in MODEL_ALIASES else None
        self.model_id: str | None = MODEL_ALIASES[invoked] if self.invoked_model_id else invoked
        self.knowledge_base_id = params.get("knowledgeBaseId") or dig(
            config, "knowledgeBaseConfiguration", "knowledgeBaseId"
        )
        self.operation = genai.operation_name(op.kind, self.model_id, params)

    @property
    def prompt(self) -> Prompt:
        """What the request tells about its prompt (read once, for the span and the log line)."""
        if self._prompt is None:
            kind, params = self.op.kind, self.params
            if kind == "converse":
                self._prompt = converse_prompt(params)
            elif kind == "invoke":
                self._prompt = invoke_prompt(params.get("body"))
            else:
                question = dig(params, "retrievalQuery", "text") if kind == "retrieve" else dig(params, "input", "text")
                self._prompt = Prompt(question=question if isinstance(question, str) else None)
        return self._prompt

    # --- span ---------------------------------------------------------------------------------------------
    @property
    def span_name(self) -> str:
        """The span name of the GenAI conventions: ``{operation} {model}`` (``{operation} {knowledge base}``)."""
        return genai.span_name(self.operation, self.model_id or self.knowledge_base_id, self.op.name)

    def span_attributes(self) -> dict[str, genai.AttributeValue]:
        """The attributes known before the call; the request's messages too under full prompt logging."""
        attributes = genai.request_attributes(
            operation=self.operation,
            rpc_method=self.op.name,
            model_id=self.model_id,
            knowledge_base_id=self.knowledge_base_id,
            prompt=self.prompt if self.op.inference else None,
        )
        if self.prompt_version is not None:
            attributes[t.SPAN_PROMPT_VERSION] = self.prompt_version
        if self.rec.settings.prompt_logging == t.PROMPT_LOGGING_FULL:
            messages = genai.input_messages(self.op.kind, self.params)
            if messages is not None:
                attributes[t.SPAN_GEN_AI_INPUT_MESSAGES] = messages
        return attributes

    def start_span(self) -> None:
        """Start the call's span (or enrich the botocore instrumentation's), current until the call returns."""
        self.scope = _tracing.start_call(self.span_name, self.span_attributes(), self.op.name)

    def _end_span(self) -> None:
        scope, self.scope = self.scope, None
        if scope is None:
            return
        completion, error = self.completion, self.error
        attributes = genai.outcome_attributes(
            input_tokens=completion.input_tokens,
            output_tokens=completion.output_tokens,
            stop_reason=completion.stop_reason,
            request_id=self.bedrock_request_id,
            passages=self.retrieved,
            top_score=self.top_score,
        )
        if self.rec.settings.prompt_logging == t.PROMPT_LOGGING_FULL and error is None:
            messages = genai.output_messages(completion.text, completion.stop_reason)
            if messages is not None:
                attributes[t.SPAN_GEN_AI_OUTPUT_MESSAGES] = messages
        error_type = (error_code(error) or type(error).__name__) if error is not None else None
        _tracing.end_call(scope, attributes, error_type, error)
        if scope.metrics:
            metric_attributes: dict[str, genai.AttributeValue] = {
                t.SPAN_GEN_AI_OPERATION: self.operation,
                t.SPAN_GEN_AI_PROVIDER: t.GEN_AI_PROVIDER_BEDROCK,
                t.SPAN_GEN_AI_SYSTEM: t.GEN_AI_PROVIDER_BEDROCK,
            }
            if isinstance(self.model_id, str) and self.model_id:
                metric_attributes[t.SPAN_GEN_AI_REQUEST_MODEL] = self.model_id
            if error_type is not None:
                metric_attributes[t.SPAN_ERROR_TYPE] = error_type
            tokens = (None, None) if error is not None else (completion.input_tokens, completion.output_tokens)
            _tracing.record_metrics(metric_attributes, (self.elapsed_ms or 0.0) / 1000, *tokens)

    # --- outcome ------------------------------------------------------------------------------------
    def succeeded(self, response: Any) -> None:
        """Read a successful response; wrap what the user consumes later. Finishes the call unless deferred.

        A response that cannot be read still finishes the call (with what was read) before the error is reported.
        """
        self.elapsed_ms = (_now() - self.started) * 1000
        deferred = False
        try:
            deferred = self._read(response)
        finally:
            if not deferred:
                self.finish()

    def _read(self, response: Any) -> bool:
        """Read ``response``; True when a wrapper now waits for the user to consume it."""
        if not isinstance(response, dict):
            return False
        self.bedrock_request_id = request_id(response)
        kind = self.op.kind
        if self.op.streamed:
            key = "stream" if kind == "converse" else "body"
            original = response.get(key)
            if original is None:
                return False
            on_event = self._converse_event if kind == "converse" else self._invoke_chunk
            response[key] = InstrumentedEventStream(original, self._guarded(on_event), self._guarded(self._stream_end))
            self.rec.defer(self)
            return True
        if kind == "converse":
            self.completion = converse_completion(response)
        elif kind == "invoke":
            headers = response_headers(response)
            self.completion.input_tokens = count(header(headers, HEADER_INPUT_TOKENS))
            self.completion.output_tokens = count(header(headers, HEADER_OUTPUT_TOKENS))
            self.completion.latency_ms = number(count(header(headers, HEADER_LATENCY)))
            body = response.get("body")
            if hasattr(body, "_raw_stream") and hasattr(body, "_content_length"):
                response["body"] = TeeBody(body, self._guarded(self._body_read))
                self.rec.defer(self)
                return True
        elif kind == "retrieve":
            self.retrieved, self.top_score = retrieval_scores(response)
            self.passages = retrieval_passages(response, self._wants_text)
        elif kind == "rag":
            self.completion.text = clip(dig(response, "output", "text"))
            self.retrieved = rag_references(response)
            self.passages = retrieval_passages(response, self._wants_text)
        return False

    def failed(self, exc: BaseException) -> None:
        """Record the exception the call raised."""
        self.elapsed_ms = (_now() - self.started) * 1000
        self.error = exc
        self.bedrock_request_id = request_id(getattr(exc, "response", None))
        self.finish()

    def _guarded(self, fn: Any) -> Any:
        """``fn`` for a wrapper to call as the user consumes the response: its failures are reported, not raised."""
        rec, where = self.rec, f"{self.op.name}.{fn.__name__}"

        def guarded(*args: Any) -> None:
            try:
                fn(*args)
            except Exception as exc:
                rec.error(where, exc)

        return guarded

    # --- consumed later ----------------------------------------------------------------------------
    def _keep_text(self, text: Any) -> None:
        if self._wants_text and isinstance(text, str) and text and self._chars < MAX_TEXT_CHARS:
            self._parts.append(text)
            self._chars += len(text)

    def _first_event(self) -> None:
        if self.first_event_ms is None:
            self.first_event_ms = (_now() - self.started) * 1000

    def _converse_event(self, event: Any) -> None:
        if self.first_event_ms is None:
            self.first_event_ms = (_now() - self.started) * 1000
        if not isinstance(event, dict):
            return
        delta = event.get("contentBlockDelta")
        if delta is not None:  # the most frequent event: kept short
            if self._wants_text:
                self._keep_text(dig(delta, "delta", "text"))
        elif "messageStop" in event:
            self.completion.stop_reason = dig(event, "messageStop", "stopReason")
        elif "metadata" in event:
            self.completion.input_tokens = count(dig(event, "metadata", "usage", "inputTokens"))
            self.completion.output_tokens = count(dig(event, "metadata", "usage", "outputTokens"))
            self.completion.latency_ms = number(dig(event, "metadata", "metrics", "latencyMs"))

    def _invoke_chunk(self, event: Any) -> None:
        self._first_event()
        data = dig(event, "chunk", "bytes")
        if not isinstance(data, (bytes, bytearray)):
            return
        wants_text = self._wants_text
        wants_stop = wants_text or self.scope is not None  # the span's finish reason
        if not wants_stop and _INVOCATION_METRICS_BYTES not in data:
            return
        document = load_json(data)
        if wants_stop:
            text, stop = invoke_stream_delta(document)
            if wants_text:
                self._keep_text(text)
            if stop is not None:
                self.completion.stop_reason = stop
        metrics = dig(document, INVOCATION_METRICS)
        if isinstance(metrics, dict):
            self.completion.input_tokens = count(metrics.get("inputTokenCount"))
            self.completion.output_tokens = count(metrics.get("outputTokenCount"))
            self.completion.latency_ms = number(metrics.get("invocationLatency"))

    def _stream_end(self, error: BaseException | None, incomplete: bool) -> None:
        self.elapsed_ms = (_now() - self.started) * 1000
        self.error = error
        self.completion.text = clip("".join(self._parts)) if self._parts else None
        self.finish(incomplete=incomplete)

    def _body_read(self, data: bytes | None, error: BaseException | None) -> None:
        if data is not None and (self._wants_text or self.scope is not None):
            read, completion = invoke_completion(load_json(data)), self.completion
            completion.text = clip(read.text) if self._wants_text else None
            completion.stop_reason = read.stop_reason
            if completion.input_tokens is None:  # no header: the body's own count, where the family has one
                completion.input_tokens = read.input_tokens
            if completion.output_tokens is None:
                completion.output_tokens = read.output_tokens
        if error is not None:
            self.error = error
        self.finish()

    # --- output -------------------------------------------------------------------------------------
    def finish(self, *, incomplete: bool = False) -> None:
        """Emit the call's metrics and log line (once), then flush unless an invocation batches them."""
        if self._done:
            return
        self._done = True
        self.incomplete = incomplete and self.error is None
        if self.elapsed_ms is None:
            self.elapsed_ms = (_now() - self.started) * 1000
        rec = self.rec
        rec.settle(self)
        try:
            cost = self._metrics()
            self._log(self.prompt, cost)
        finally:
            if self.scope is not None:
                guard(rec, "call.span_end", self._end_span)
        if rec.invocation is None:
            rec.flush_metrics()

    def _metrics(self) -> float | None:
        """Emit the metrics; return the estimated cost for the log line (None without a price or tokens)."""
        rec, op, completion = self.rec, self.op, self.completion
        if not self.timed_by_stage:
            rec.metric(t.METRIC_STAGE_LATENCY, UNIT_MS, self.elapsed_ms or 0.0, t.DIM_STAGE, op.stage)
        if self.error is not None:
            if rec.invocation is None:
                rec.count_outcome(error_class(self.error))
            return None
        cost = None
        if op.inference and isinstance(self.model_id, str) and self.model_id:
            model = self.model_id
            tokens_in, tokens_out = completion.input_tokens, completion.output_tokens
            if tokens_in is not None:
                rec.metric(t.METRIC_INPUT_TOKENS, UNIT_COUNT, tokens_in, t.DIM_MODEL_ID, model)
            if tokens_out is not None:
                rec.metric(t.METRIC_OUTPUT_TOKENS, UNIT_COUNT, tokens_out, t.DIM_MODEL_ID, model)
            if tokens_in is not None and tokens_out is not None:
                price = rec.settings.price_of(model)
                if price is not None:
                    cost = price.cost(tokens_in, tokens_out)
        if rec.invocation is None and not self.incomplete:
            rec.count_outcome(None)
        return cost

    def _log(self, prompt: Prompt, cost: float | None) -> None:
        rec, op, completion, error = self.rec, self.op, self.completion, self.error
        texts, redactions = rec.loggable_texts(question=clip(prompt.question), answer=completion.text)
        klass = error_class(error) if error is not None else None
        fields: dict[str, Any] = {
            t.LOG_FIELD_OPERATION: op.name,
            "stage": op.stage,
            "streamed": op.streamed,
            t.LOG_FIELD_MODEL: self.model_id if isinstance(self.model_id, str) else None,
            t.LOG_FIELD_OUTCOME: (
                t.LOG_OUTCOME_FAILURE if error is not None else "incomplete" if self.incomplete else "success"
            ),
            t.LOG_FIELD_ERROR_CLASS: klass,
            "aws_error_code": error_code(error) if error is not None else None,
            "bedrock_request_id": self.bedrock_request_id,
            "latency_ms": {
                "call": round(self.elapsed_ms or 0.0, 3),
                "inference_model": completion.latency_ms,
                "first_event": round(self.first_event_ms, 3) if self.first_event_ms is not None else None,
            },
        }
        if isinstance(self.knowledge_base_id, str):
            fields["knowledge_base_id"] = self.knowledge_base_id
        if self.tenant is not None:
            fields[t.LOG_FIELD_TENANT] = self.tenant
        if self.prompt_version is not None:
            fields[t.LOG_FIELD_PROMPT_VERSION] = self.prompt_version
        if self.invoked_model_id is not None:
            fields["invoked_model_id"] = self.invoked_model_id
        if op.inference:
            total = (
                completion.input_tokens + completion.output_tokens
                if completion.input_tokens is not None and completion.output_tokens is not None
                else None
            )
            fields["usage"] = {
                "input_tokens": completion.input_tokens,
                "output_tokens": completion.output_tokens,
                "total_tokens": total,
            }
            fields["estimated_cost_usd"] = cost
            fields["stop_reason"] = completion.stop_reason if isinstance(completion.stop_reason, str) else None
            fields["prompt"] = {
                "length": prompt.chars,
                "max_tokens": prompt.max_tokens,
                "temperature": prompt.temperature,
                "top_p": prompt.top_p,
            }
        if self.retrieved is not None:
            retrieval: dict[str, Any] = {"count": self.retrieved, "top_score": self.top_score}
            if self.passages is not None:
                retrieval[_PASSAGES_KEY], found = loggable_passages(self.passages, rec.settings.prompt_logging)
                redactions += found
            fields[_RETRIEVAL_FIELD] = retrieval
        fields["question_chars"] = len(prompt.question) if prompt.question is not None else None
        fields["answer_chars"] = len(completion.text) if completion.text is not None else None
        fields["prompt_logging"] = rec.settings.prompt_logging
        fields["pii_redactions"] = redactions
        fields.update(texts)
        level = "INFO" if klass is None else "WARNING" if klass in (t.ERROR_THROTTLING, t.ERROR_VALIDATION) else "ERROR"
        rec.log(level, t.LOG_MESSAGE_CALL, fields, ids=self.ids)
