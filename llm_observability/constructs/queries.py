"""CloudWatch Logs Insights queries over the RAG handler's structured logs.

The field names are the handler's (Powertools Logger JSON): ``message`` is ``ask`` for an answered
question, ``feedback`` for feedback and ``Request failed``/``Request rejected`` for errors. The tests
run the handler and check every field listed in :data:`QUERY_FIELDS` really is in its log lines.
"""

from __future__ import annotations

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
FEEDBACK = (
    'filter message = "feedback"\n'
    "| stats count(*) as answers_scored, avg(score) as avg_score by bin(1h)"
)

QUERIES: dict[str, str] = {
    "Recent errors": RECENT_ERRORS,
    "Slowest requests": SLOWEST_REQUESTS,
    "Prompt properties": PROMPT_PROPERTIES,
    "Human feedback": FEEDBACK,
}

#: Log fields the queries read, by the ``message`` of the log line that carries them.
QUERY_FIELDS: dict[str, tuple[str, ...]] = {
    "ask": (
        "correlation_id", "model_id", "latency_ms.end_to_end", "latency_ms.stages.Retrieval",
        "latency_ms.stages.Inference", "usage.total_tokens", "prompt.template_version",
        "prompt.temperature", "prompt.max_tokens",
    ),
    "Request failed": ("level", "status", "error_class", "stage", "aws_error_code", "correlation_id"),
    "feedback": ("score",),
}  # fmt: skip
