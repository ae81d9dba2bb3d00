"""The OpenSearch index template of the application's structured log records (mappings and index settings)."""

from __future__ import annotations

from typing import Any

#: Powertools' timestamp ("2024-05-01 12:00:00,123+0000"), ISO 8601, or epoch milliseconds.
TIMESTAMP_FORMAT = "yyyy-MM-dd HH:mm:ss,SSSZ||strict_date_optional_time||epoch_millis"


def _keyword() -> dict[str, Any]:
    return {"type": "keyword", "ignore_above": 1024}


def index_mappings() -> dict[str, Any]:
    """Mappings of the application's structured log fields (Powertools records of ``functions/rag_api``)."""
    integer, long_, float_ = {"type": "integer"}, {"type": "long"}, {"type": "float"}
    text = {"type": "text", "fields": {"keyword": {"type": "keyword", "ignore_above": 256}}}
    return {
        "dynamic": True,
        "date_detection": False,
        "dynamic_templates": [
            {"stage_latencies": {"path_match": "latency_ms.stages.*", "mapping": {"type": "float"}}},
            {"strings_as_keywords": {"match_mapping_type": "string", "mapping": _keyword()}},
        ],
        "properties": {
            "@timestamp": {"type": "date", "format": "strict_date_optional_time||epoch_millis"},
            "timestamp": {"type": "date", "format": TIMESTAMP_FORMAT},  # Powertools' own time stamp
            "time": {"type": "date", "format": TIMESTAMP_FORMAT},  # Lambda's JSON log format
            "level": _keyword(),
            "message": text,
            "location": _keyword(),
            "service": _keyword(),
            "correlation_id": _keyword(),
            "xray_trace_id": _keyword(),
            "function_name": _keyword(),
            "function_request_id": _keyword(),
            "cold_start": {"type": "boolean"},
            "model_id": _keyword(),
            "prompt_version": _keyword(),
            "prompt": {
                "properties": {
                    "template_version": _keyword(),
                    "temperature": float_,
                    "top_p": float_,
                    "top_k": integer,
                    "max_tokens": integer,
                    "length": integer,
                    "stop_sequences": _keyword(),
                }
            },
            "retrieval": {"properties": {"count": integer, "top_score": float_, "cache_hit": {"type": "boolean"}}},
            "usage": {"properties": {"input_tokens": long_, "output_tokens": long_, "total_tokens": long_}},
            "estimated_cost_usd": {"type": "double"},
            "stop_reason": _keyword(),
            "latency_ms": {
                "properties": {"end_to_end": float_, "inference_model": float_, "stages": {"type": "object"}}
            },
            "question_chars": integer,
            "answer_chars": integer,
            "pii_redactions": integer,
            "question": {"type": "text"},
            "answer": {"type": "text"},
            "status": integer,
            "error_class": _keyword(),
            "stage": _keyword(),
            "aws_error_code": _keyword(),
            "reason": text,
            "exception_name": _keyword(),
            "exception": {"type": "text"},
            "truncated": {"type": "boolean"},
            "cloudwatch": {
                "properties": {
                    "log_group": _keyword(),
                    "log_stream": _keyword(),
                    "event_id": _keyword(),
                    "owner": _keyword(),
                }
            },
            "feedback_request_id": _keyword(),
            "score": integer,
            "guardrail": {
                "properties": {
                    "intervened": {"type": "boolean"},
                    "policies": _keyword(),
                    "grounding_score": float_,
                    "relevance_score": float_,
                }
            },
        },
    }


def index_template(index_prefix: str, *, replicas: int | None) -> dict[str, Any]:
    """The composable index template for ``<index_prefix>*``.

    ``replicas`` (a managed domain) also sets shard/replica counts and search/index slow-log thresholds;
    None (OpenSearch Serverless, which manages shards itself and accepts no such settings) sets mappings only.
    """
    template: dict[str, Any] = {"mappings": index_mappings()}
    if replicas is not None:
        template["settings"] = {
            "index.number_of_shards": 1,
            "index.number_of_replicas": replicas,
            "index.search.slowlog.threshold.query.warn": "5s",
            "index.search.slowlog.threshold.query.info": "2s",
            "index.search.slowlog.threshold.fetch.warn": "1s",
            "index.indexing.slowlog.threshold.index.warn": "5s",
            "index.indexing.slowlog.threshold.index.info": "2s",
        }
    return {
        "index_patterns": [f"{index_prefix}*"],
        "priority": 100,
        "template": template,
        "_meta": {"managed_by": "cdk-llm-observability"},
    }
