"""CloudWatch Logs Insights queries over the RAG handler's structured logs.

The field names are the handler's (Powertools Logger JSON): ``message`` is ``ask`` for an answered
question, ``feedback`` for feedback and ``Request failed``/``Request rejected`` for errors. What the
application does not emit as a metric (error classes, prompt length, retrieved passages and their top
score, PII redactions, per-request cost) is read here. The tests run the handler and check every field
a query reads really is in its log lines (:data:`QUERY_FIELDS` lists them by line).

Another application's line is described by a :class:`~llm_observability.workload_facts.LogSchema`:
:func:`saved_queries` gives the full set for the reference line and, for any other schema, the queries
that need only the schema's fields (errors by class, recent errors, requests by model).
"""

from __future__ import annotations

from llm_observability.workload_facts import LogSchema

RECENT_ERRORS = (
    "fields @timestamp, level, status, error_class, stage, aws_error_code, correlation_id\n"
    '| filter level = "ERROR" or level = "WARNING" or status >= 500\n'
    "| sort @timestamp desc\n"
    "| limit 50"
)
SLOWEST_REQUESTS = (
    "fields @timestamp, correlation_id, model_id, latency_ms.end_to_end, latency_ms.stages.Retrieval, "
    "latency_ms.stages.Inference, usage.total_tokens\n"
    '| filter message = "ask"\n'
    "| sort latency_ms.end_to_end desc\n"
    "| limit 20"
)
PROMPT_PROPERTIES = (
    'filter message = "ask"\n'
    "| stats count(*) as requests, avg(usage.total_tokens) as avg_tokens, avg(latency_ms.end_to_end) as avg_ms "
    "by model_id, prompt.template_version, prompt.temperature, prompt.max_tokens"
)
RETRIEVAL = (
    'filter message = "ask"\n'
    "| stats avg(retrieval.count) as passages_avg, avg(retrieval.top_score) as top_score_avg by bin(5m)"
)
PROMPT_SIZE = (
    'filter message = "ask"\n'
    "| stats pct(prompt.length, 50) as prompt_chars_p50, pct(prompt.length, 90) as prompt_chars_p90 by bin(5m)"
)
PII_REDACTIONS = (
    'filter message = "ask" or message = "feedback"\n'
    "| stats sum(pii_redactions) as redactions by bin(5m)"
)
FEEDBACK = (
    'filter message = "feedback"\n'
    "| stats count(*) as answers_scored, avg(score) as avg_score by bin(1h)"
)

# --- Level 2: saved queries an on-call engineer needs ----------------------------------------------
ERRORS_BY_CLASS = (
    'filter message = "Request failed" or message = "Request rejected"\n'
    "| stats count(*) as requests by error_class, status, stage, aws_error_code\n"
    "| sort requests desc"
)
SLOWEST_BY_STAGE = (
    'filter message = "ask"\n'
    "| stats pct(latency_ms.stages.QueryPreprocessing, 90) as preprocess_p90, "
    "pct(latency_ms.stages.Retrieval, 90) as retrieval_p90, pct(latency_ms.stages.PromptAssembly, 90) as prompt_p90, "
    "pct(latency_ms.stages.Inference, 90) as inference_p90, pct(latency_ms.stages.PostProcessing, 90) as postprocess_p90, "
    "max(latency_ms.end_to_end) as slowest_ms by bin(15m)"
)
TOKENS_BY_PROMPT_VERSION = (
    'filter message = "ask"\n'
    "| stats count(*) as requests, sum(usage.input_tokens) as input_tokens, sum(usage.output_tokens) as output_tokens, "
    "avg(usage.total_tokens) as avg_tokens, sum(estimated_cost_usd) as cost_usd by prompt.template_version, model_id"
)
GUARDRAIL_INTERVENTIONS = (
    'filter message = "ask" and stop_reason = "guardrail_intervened"\n'
    "| stats count(*) as interventions by model_id, prompt.template_version, bin(1h)"
)
REDACTION_HITS = (
    'filter message = "ask" and pii_redactions > 0\n'
    "| stats count(*) as requests_with_pii, sum(pii_redactions) as redactions by bin(1h)"
)
SAVED_QUERIES: dict[str, str] = {
    "errors-by-class": ERRORS_BY_CLASS,
    "slowest-requests-by-stage": SLOWEST_BY_STAGE,
    "token-usage-by-prompt-version": TOKENS_BY_PROMPT_VERSION,
    "guardrail-interventions": GUARDRAIL_INTERVENTIONS,
    "pii-redaction-hits": REDACTION_HITS,
    "slowest-requests": SLOWEST_REQUESTS,
    "recent-errors": RECENT_ERRORS,
    "human-feedback": FEEDBACK,  # the runtime's ``feedback`` line (POST /feedback, llmobs.feedback)
}

QUERIES: dict[str, str] = {
    "Recent errors": RECENT_ERRORS,
    "Slowest requests": SLOWEST_REQUESTS,
    "Prompt properties": PROMPT_PROPERTIES,
    "Retrieval": RETRIEVAL,
    "Prompt size": PROMPT_SIZE,
    "PII redactions": PII_REDACTIONS,
    **SAVED_QUERIES,
}

#: Log fields the queries read, by the ``message`` of the log line that carries them.
QUERY_FIELDS: dict[str, tuple[str, ...]] = {
    "ask": (
        "correlation_id", "model_id", "latency_ms.end_to_end", "latency_ms.stages.Retrieval",
        "latency_ms.stages.Inference", "usage.total_tokens", "prompt.template_version",
        "prompt.temperature", "prompt.max_tokens", "latency_ms.stages.QueryPreprocessing",
        "latency_ms.stages.PromptAssembly", "latency_ms.stages.PostProcessing", "usage.input_tokens",
        "usage.output_tokens", "estimated_cost_usd", "stop_reason", "pii_redactions", "retrieval.count",
        "retrieval.top_score", "prompt.length",
    ),
    "Request failed": ("level", "status", "error_class", "stage", "aws_error_code", "correlation_id"),
    "Request rejected": ("level", "status", "error_class", "stage", "correlation_id"),
    "feedback": ("score", "pii_redactions"),
}  # fmt: skip


# --- Queries of any application, built from its log schema -------------------------------------------
def errors_by_class(schema: LogSchema) -> str:
    """Failed requests counted by error class and model."""
    return (
        f"filter ispresent({schema.error_class})\n"
        f"| stats count(*) as requests by {schema.error_class}, {schema.model}\n"
        "| sort requests desc"
    )


def recent_errors(schema: LogSchema) -> str:
    """The latest failed requests with their request id."""
    return (
        f"fields @timestamp, {schema.request_id}, {schema.model}, {schema.error_class}\n"
        f"| filter ispresent({schema.error_class})\n"
        "| sort @timestamp desc\n"
        "| limit 50"
    )


def requests_by_model(schema: LogSchema) -> str:
    """Answered requests per model and hour."""
    return (
        f'filter {schema.marker_field} = "{schema.marker_value}"\n'
        f"| stats count(*) as requests by {schema.model}, bin(1h)"
    )


def saved_queries(schema: LogSchema) -> dict[str, str]:
    """The saved queries (name -> text) for an application logging in ``schema``: :data:`SAVED_QUERIES` for the
    reference line, else the queries that read only the schema's fields."""
    if schema.is_reference:
        return dict(SAVED_QUERIES)
    return {
        "errors-by-class": errors_by_class(schema),
        "recent-errors": recent_errors(schema),
        "requests-by-model": requests_by_model(schema),
    }
