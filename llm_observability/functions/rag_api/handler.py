"""Lambda entry point of the RAG API (API Gateway REST API, Lambda proxy integration).

Routes (Powertools ``APIGatewayRestResolver``)
    POST /ask       answer a question from the Knowledge Base with a Bedrock model
    POST /feedback  record a 1..5 score for an earlier answer

Requests are routed by the API Gateway resource (``/ask``), so a custom domain's base path does not
matter. Every failure - an unknown route (404), another method (405), a bad request (400), an invalid
configuration (500) or an exception while serving - goes through one exception handler: the status,
``Retry-After`` and client-safe message of ``errors.classify_exception``, a JSON body with only the
message and the request id (never a traceback) and one log line with its ``error_class``.

Metrics are the library's runtime's (``llm_observability_runtime``, from its Lambda layer): the handler runs
``observe``d, so every invocation emits EndToEndLatency and RequestSuccess, or RequestFailure for a 5xx or
429 answer (not for the caller's 4xx), and its EMF lines are flushed once; the runtime times the Retrieve
and Converse calls and counts their tokens per model. Traces are OpenTelemetry (the ADOT layer's tracer provider;
no X-Ray SDK): the invocation's request span (``observe``), one span per /ask stage (telemetry.STAGES, each also
StageLatency{Stage=<stage>}, ``instrumentation.Recorder``) and one span per Bedrock call with the GenAI
attributes; the stage spans carry the cache hit, prompt version, model id and guardrail outcome
(``telemetry.SPAN_*``), a failed request its error class as error.type. The handler's logs are
Powertools JSON lines whose correlation id is the API Gateway request id, each carrying the active
``prompt_version``; the runtime adds one ``bedrock_call`` line per Bedrock call and writes the ``feedback``
line, with the same correlation id.

Tenants: every /ask has a tenant key, the TENANT_HEADER request header (default ``x-tenant-id``) when the request
has it, else the IAM caller (``requestContext.identity.userArn``), else ``anonymous`` (the runtime's ``tenant_of``);
a header value that is no tenant id is a 400 naming the header. Converse gets it as ``requestMetadata``
``{"tenant": ...}`` (Bedrock model invocation logging records it), the ``ask`` and ``bedrock_call`` lines as
``tenant``; a tenant listed in TENANT_PROFILES is served through its own application inference profile (cost
allocation tags) while the function serves MODEL_ID.

Optional (off unless their environment variables are set): a Bedrock Guardrail on Converse
(GUARDRAIL_ID + GUARDRAIL_VERSION), the user-message template from Prompt Management
(PROMPT_PARAMETER_NAME) and the model id from SSM (MODEL_PARAMETER_NAME). The two lookups run in the
PromptAssembly stage, are cached per container (``managed``) and never fail a request.

Test and benchmark seams: ``reset_state()``, ``pipeline.set_clients()``, the module-level ``logger``
(``instrumentation``'s) and ``_ttl_clock`` (the clock of the lookup caches).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any, NamedTuple

import instrumentation
import llm_observability_runtime as llmobs
import managed
import pipeline
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from errors import (
    MESSAGE_METHOD_NOT_ALLOWED,
    MESSAGE_MISCONFIGURED,
    MESSAGE_NOT_FOUND,
    ApiError,
    RequestValidationError,
    aws_error_code,
    classify_exception,
    error_response,
    json_response,
)
from instrumentation import NULL_RECORDER, UNIT_COUNT, Recorder, logger
from llm_observability_runtime import telemetry
from settings import Settings, SettingsError, load_settings
from validation import parse_ask, parse_feedback, parse_json_object

ROUTES = ("/ask", "/feedback")

_now = time.perf_counter
_ttl_clock = time.monotonic  # lookup cache expiry; replaced in tests


def _lookup_clock() -> float:
    return _ttl_clock()


# --- Per-container state ------------------------------------------------------------
class Runtime(NamedTuple):
    """What a container builds once: its settings, retrieval cache and managed-configuration caches."""

    settings: Settings
    cache: pipeline.RetrievalCache
    template: pipeline.PromptTemplate  # the built-in template (PROMPT_TEMPLATE_VERSION)
    guardrail: dict[str, str] | None = None  # Converse guardrailConfig
    prompts: managed.ManagedPrompt | None = None  # PROMPT_PARAMETER_NAME
    models: managed.ManagedModel | None = None  # MODEL_PARAMETER_NAME
    unpriced: set[str] | None = None  # model ids already warned about for a missing price

    @property
    def prompt_version(self) -> str:
        """The prompt version in use now (before this request's lookup, if any)."""
        return self.prompts.active.version if self.prompts is not None else self.template.version


_runtime: Runtime | SettingsError | None = None


def _warn_unpriced(model_id: str) -> None:
    logger.warning(
        "No price for the model in PRICE_TABLE; estimated_cost_usd will be 0", extra={"model_id": model_id}
    )


def _load_runtime() -> Runtime | SettingsError:
    """Parse the environment on the first invocation of a container and keep the result."""
    global _runtime
    if _runtime is None:
        try:
            settings = load_settings(pipeline.PROMPT_TEMPLATES)
        except SettingsError as exc:
            instrumentation.start()  # the 500 answers are counted in this function's namespace
            _runtime = exc
            return exc
        unpriced: set[str] = set()
        if settings.model_price is None:
            _warn_unpriced(settings.model_id)
            unpriced.add(settings.model_id)
        if settings.instrumentation:
            instrumentation.start(settings.prompt_logging, settings.price_table)
        else:
            instrumentation.stop()  # no Bedrock call spans or metrics; NULL_RECORDER makes no stage spans
        for profile_arn in settings.tenant_profiles.values():  # a tenant's profile is reported as the model it copies
            llmobs.alias_model(profile_arn, settings.model_id)
        template = pipeline.PROMPT_TEMPLATES[settings.prompt_template_version]
        _runtime = Runtime(
            settings,
            pipeline.RetrievalCache(settings.cache_ttl_seconds, settings.cache_max_entries),
            template,
            guardrail=(
                pipeline.guardrail_config(settings.guardrail_id, settings.guardrail_version)
                if settings.guardrail_id is not None and settings.guardrail_version is not None
                else None
            ),
            prompts=(
                managed.ManagedPrompt(
                    settings.prompt_parameter_name,
                    settings.prompt_cache_ttl_seconds,
                    template,
                    _lookup_clock,
                    pipeline.bedrock_agent,
                )
                if settings.prompt_parameter_name is not None
                else None
            ),
            models=(
                managed.ManagedModel(
                    settings.model_parameter_name, settings.model_cache_ttl_seconds, settings.model_id, _lookup_clock
                )
                if settings.model_parameter_name is not None
                else None
            ),
            unpriced=unpriced,
        )
    return _runtime


def reset_state() -> None:
    """Forget settings, the retrieval cache and Bedrock clients, and stop instrumenting boto3.

    The next invocation behaves like the first one of a new container.
    """
    global _runtime
    _runtime = None
    pipeline.reset_clients()
    instrumentation.stop()


# --- Routing ------------------------------------------------------------------------------
# debug=False: POWERTOOLS_DEV must not make the resolver print events (request bodies) to the logs.
app = APIGatewayRestResolver(debug=False)


class Call(NamedTuple):
    """One invocation as the routes see it (``app.context["call"]``)."""

    request_id: str
    state: Runtime | SettingsError
    rec: Recorder
    started: float  # the request's start, for the ``ask`` line's end-to-end latency


def _current() -> tuple[Call, Runtime]:
    """This invocation and the container's runtime (``_configured`` has answered 500 if there is none)."""
    call: Call = app.context["call"]
    return call, app.context["runtime"]


def _configured(router: APIGatewayRestResolver, next_middleware: NextMiddleware) -> Response:
    """Before any route (unknown ones included): an invalid configuration is a 500."""
    state = router.context["call"].state
    if isinstance(state, SettingsError):
        logger.error("Invalid function configuration", extra={"configuration_problems": state.problems})
        raise ApiError(500, telemetry.ERROR_INTERNAL, MESSAGE_MISCONFIGURED)
    router.append_context(runtime=state)
    return next_middleware(router)


app.use(middlewares=[_configured])


@app.post("/ask")
def _ask() -> Response:
    """POST /ask: run the RAG pipeline."""
    call, runtime = _current()
    return _answer(app.current_event.raw_event, call.request_id, runtime, call.rec, call.started)


def _resolve_managed(runtime: Runtime, rec: Recorder) -> tuple[pipeline.PromptTemplate, str]:
    """The prompt template and model id for this /ask: from SSM when configured (cached), else built in."""
    template, model_id = runtime.template, runtime.settings.model_id
    if runtime.prompts is None and runtime.models is None:
        return template, model_id
    deadline = _lookup_clock() + managed.LOOKUP_BUDGET_SECONDS
    if runtime.prompts is not None:
        prompts = runtime.prompts
        resolved = prompts.resolve(pipeline.ssm, deadline)
        template = resolved.value
        logger.append_keys(prompt_version=template.version)
        if resolved.failure is not None:
            rec.metric(telemetry.METRIC_PROMPT_LOOKUP_FAILURE, UNIT_COUNT, 1)
            logger.warning(
                "Prompt lookup failed; serving the last good prompt",
                extra={
                    "parameter_name": prompts.parameter_name,
                    "reason": resolved.failure.reason,
                    "aws_error_code": resolved.failure.code,
                    "retry_in_seconds": prompts.ttl_seconds,
                },
            )
        elif resolved.changed:
            logger.info(
                "Active prompt version changed",
                extra={"parameter_name": prompts.parameter_name, "previous_prompt_version": resolved.previous.version},
            )
    if runtime.models is not None:
        models = runtime.models
        resolved_model = models.resolve(pipeline.ssm, deadline)
        model_id = resolved_model.value
        if resolved_model.failure is not None:
            rec.metric(telemetry.METRIC_MODEL_LOOKUP_FAILURE, UNIT_COUNT, 1)
            logger.warning(
                "Model lookup failed; serving the last good model",
                extra={
                    "parameter_name": models.parameter_name,
                    "reason": resolved_model.failure.reason,
                    "aws_error_code": resolved_model.failure.code,
                    "model_id": model_id,
                    "retry_in_seconds": models.ttl_seconds,
                },
            )
        elif resolved_model.changed:
            logger.info(
                "Active model changed",
                extra={
                    "parameter_name": models.parameter_name,
                    "model_id": model_id,
                    "previous_model_id": resolved_model.previous,
                },
            )
        if (
            runtime.unpriced is not None
            and model_id not in runtime.unpriced
            and runtime.settings.price_of(model_id) is None
        ):
            runtime.unpriced.add(model_id)
            _warn_unpriced(model_id)
    return template, model_id


def _tenant(event: dict[str, Any], settings: Settings) -> str:
    """The request's tenant: the TENANT_HEADER header, else the IAM caller, else ``anonymous`` (the runtime's
    ``tenant_of``); a header value that is no tenant id is the caller's mistake (400 naming the header)."""
    try:
        tenant: str = llmobs.tenant_of(event, settings.tenant_header)
    except llmobs.InvalidTenant as exc:
        raise RequestValidationError(str(exc)) from None
    llmobs.tenant(tenant)  # the runtime's bedrock_call lines carry it
    return tenant


def _model_for(tenant: str, model_id: str, settings: Settings) -> str:
    """The id Converse is called with: the tenant's application inference profile (TENANT_PROFILES) while the
    function serves its configured model, else ``model_id`` (a failover model is served as it is)."""
    profile = settings.tenant_profiles.get(tenant)
    return profile if profile is not None and model_id == settings.model_id else model_id


def _answer(event: dict[str, Any], request_id: str, runtime: Runtime, rec: Recorder, started: float) -> Response:
    settings, cache = runtime.settings, runtime.cache

    with rec.stage(telemetry.STAGE_PREPROCESS):
        tenant = _tenant(event, settings)
        request = parse_ask(
            parse_json_object(event),
            default_top_k=settings.retrieval_top_k,
            max_question_chars=settings.max_question_chars,
        )

    with rec.stage(telemetry.STAGE_RETRIEVAL) as span:
        passages = cache.get(request.question, request.top_k) if cache.enabled else None
        cache_hit = passages is not None
        if passages is None:
            passages = pipeline.retrieve(
                pipeline.agent_runtime(), settings.knowledge_base_id, request.question, request.top_k
            )
            cache.put(request.question, request.top_k, passages)
        if cache.enabled:
            rec.cache_lookup(cache_hit)
        span.set_attribute(telemetry.SPAN_CACHE_HIT, cache_hit)

    with rec.stage(telemetry.STAGE_PROMPT_ASSEMBLY) as span:
        template, model_id = _resolve_managed(runtime, rec)
        prompt = template.render(request.question, passages)
        llmobs.prompt_version(prompt.version)  # the runtime's Converse bedrock_call line carries it too
        if runtime.prompts is not None:
            span.set_attribute(telemetry.SPAN_PROMPT_VERSION, prompt.version)

    with rec.stage(telemetry.STAGE_INFERENCE) as span:
        span.set_attribute(telemetry.SPAN_MODEL_ID, model_id)
        response = pipeline.converse(
            pipeline.bedrock_runtime(),
            model_id=_model_for(tenant, model_id, settings),
            prompt=prompt,
            max_tokens=request.max_tokens,
            temperature=request.temperature,
            top_p=request.top_p,
            stop_sequences=request.stop_sequences,
            guardrail=runtime.guardrail,
            request_metadata={telemetry.REQUEST_METADATA_TENANT: tenant},
        )

    with rec.stage(telemetry.STAGE_POSTPROCESS) as span:
        completion = pipeline.parse_completion(response)
        guardrail = pipeline.parse_guardrail(response) if runtime.guardrail is not None else None
        body: dict[str, Any] = {
            "answer": completion.text,
            # A blocked answer keeps the passages to itself: their excerpts could carry what was blocked.
            "sources": [] if guardrail is not None and guardrail.intervened else pipeline.build_sources(passages),
            "request_id": request_id,
            "model_id": model_id,
            "prompt_version": prompt.version,
            "usage": {
                "input_tokens": completion.input_tokens,
                "output_tokens": completion.output_tokens,
                "total_tokens": completion.total_tokens,
            },
        }
        if guardrail is not None:
            body["guardrail"] = {"intervened": guardrail.intervened, "policies": list(guardrail.policies)}
            span.set_attribute(telemetry.SPAN_GUARDRAIL_INTERVENED, guardrail.intervened)

    try:
        rec.ask_succeeded(
            settings,
            request,
            passages,
            cache_hit,
            prompt,
            completion,
            started,
            model_id=model_id,
            guardrail=guardrail,
            per_prompt_version=runtime.prompts is not None,
            tenant=tenant,
        )
    except Exception:  # telemetry must never turn an answer into an error
        logger.exception("Failed to record telemetry for a successful request")
    return json_response(200, body, request_id)


@app.post("/feedback")
def _feedback() -> Response:
    """POST /feedback: record a score (FeedbackScore and the runtime's ``feedback`` log line, its comment logged
    per PROMPT_LOGGING) so it can be joined to the /ask log line by request id."""
    call, _ = _current()
    request_id = call.request_id
    feedback = parse_feedback(parse_json_object(app.current_event.raw_event))
    call.rec.feedback(feedback)
    return json_response(
        202,
        {"status": "recorded", "request_id": request_id, "feedback_request_id": feedback.request_id},
        request_id,
    )


@app.not_found
def _no_route(_: NotFoundError) -> Response:
    """A resource this API does not serve is a 404; another method on one it serves a 405."""
    if app.current_event.path.rstrip("/") in ROUTES:
        raise ApiError(405, telemetry.ERROR_VALIDATION, MESSAGE_METHOD_NOT_ALLOWED, {"Allow": "POST"})
    raise ApiError(404, telemetry.ERROR_VALIDATION, MESSAGE_NOT_FOUND)


@app.exception_handler(Exception)
def _failed(exc: Exception) -> Response:
    """Every failure of a request: its JSON error response, log line and the request span's error.type
    (``observe`` counts a RequestFailure for a server-side class by the response's status: 5xx, or 429)."""
    call: Call = app.context["call"]
    error = classify_exception(exc)
    _log_failure(exc, error, call.rec)
    call.rec.failure(error.error_class)
    return error_response(error, call.request_id)


def _routable(event: Any) -> dict[str, Any]:
    """The event as the resolver routes it: ``path`` is the API Gateway resource (``/ask``), not the request
    path that a custom domain's base path mapping prefixes; an event that is not a proxy event routes nowhere."""
    event = event if isinstance(event, dict) else {}
    path = event.get("resource") or event.get("path")
    method = event.get("httpMethod")
    return {
        **event,
        "path": path if isinstance(path, str) else "",
        "httpMethod": method if isinstance(method, str) else "",
    }


def _request_id(event: dict[str, Any], context: LambdaContext) -> str:
    """The API Gateway request id, else the Lambda request id."""
    request_context = event.get("requestContext")
    if isinstance(request_context, dict):
        request_id = request_context.get("requestId")
        if isinstance(request_id, str) and request_id:
            return request_id
    return getattr(context, "aws_request_id", None) or "unknown"


def _log_failure(exc: Exception, error: ApiError, rec: Recorder) -> None:
    """Log a failed request: rejections at INFO, throttling at WARNING, faults at ERROR with the traceback."""
    details = {
        "status": error.status,
        "error_class": error.error_class,
        "stage": rec.current_stage,
        "aws_error_code": aws_error_code(exc),
    }
    if error.error_class == telemetry.ERROR_VALIDATION:
        logger.info("Request rejected", extra={**details, "reason": error.message})
    elif error.error_class == telemetry.ERROR_THROTTLING:
        logger.warning("Request failed", extra=details)
    elif exc is error:
        logger.error("Request failed", extra=details)
    else:
        logger.exception("Request failed", extra=details)


def _handle(event: Any, context: LambdaContext, state: Runtime | SettingsError, rec: Recorder) -> dict[str, Any]:
    """Resolve the event to its route; every exception becomes a JSON error response (``_failed``)."""
    started = _now()
    event = _routable(event)
    request_id = _request_id(event, context)
    prompt_version = state.prompt_version if isinstance(state, Runtime) else None
    if prompt_version is not None:
        logger.append_keys(prompt_version=prompt_version)  # updated by /ask once its prompt is resolved
    app.append_context(call=Call(request_id, state, rec, started))
    try:
        return app.resolve(event, context)
    finally:
        llmobs.tenant(None)  # /ask names it; it ends with the request, observed or not
        llmobs.prompt_version(None)
        if prompt_version is not None:
            logger.remove_keys(["prompt_version"])


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
def rag_api_handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    """The instrumented handler: correlation id, per-request Recorder (the request span is ``observe``'s)."""
    return _handle(event, context, _load_runtime(), Recorder())


_observed_handler = llmobs.observe(rag_api_handler)


def _handle_event(event: Any, context: LambdaContext) -> dict[str, Any]:
    """The handler proper, observed by the runtime unless INSTRUMENTATION=off, with or without the CodeGuru
    Profiler agent around it."""
    state = _load_runtime()
    if isinstance(state, Runtime) and not state.settings.instrumentation:
        return _handle(event, context, state, NULL_RECORDER)
    response: dict[str, Any] = _observed_handler(event, context)
    return response


def _with_profiler(handler: Callable[[Any, Any], dict[str, Any]]) -> Callable[[Any, Any], dict[str, Any]]:
    """Start the CodeGuru Profiler agent around ``handler`` when a profiling group is configured.

    Level 3 sets ``AWS_CODEGURU_PROFILER_GROUP_NAME`` and adds the agent's layer; the agent reads the
    group (and ``AWS_CODEGURU_PROFILER_TARGET_REGION``) from the environment. If the agent cannot be
    imported or started, the function runs unprofiled and says so once: profiling must never break
    answering questions.
    """
    if not os.getenv(telemetry.ENV_CODEGURU_PROFILING_GROUP):
        return handler
    try:
        from codeguru_profiler_agent import with_lambda_profiler  # the agent's Lambda layer

        return with_lambda_profiler()(handler)
    except Exception as exc:  # ImportError, or an agent that fails to start on this runtime
        logger.warning("CodeGuru Profiler agent not started; running unprofiled", extra={"reason": type(exc).__name__})
        return handler


lambda_handler = _with_profiler(_handle_event)
"""Lambda entry point (``handler.lambda_handler``)."""
