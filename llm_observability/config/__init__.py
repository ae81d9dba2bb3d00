"""Typed, validated settings for the bundled app, and the bounds and choices the constructs share with them.

``settings`` declares each setting once (``ObservabilityConfig``); ``bounds`` and ``choices`` hold the limits and
``Literal`` choices, ``models`` the Bedrock model ids and prices, ``context`` the reading of CDK context and
``fields`` the declaration machinery and the configuration reference.
"""

from __future__ import annotations

from llm_observability.config.bounds import EMBEDDING_DIMENSIONS, LOG_RETENTION_DAYS
from llm_observability.config.choices import (
    EmbeddingDimensions,
    ExistingConfiguration,
    Level,
    LogAnalyticsMode,
    PromptLogging,
    SecurityStandard,
    SingletonMode,
)
from llm_observability.config.fields import ReferenceRow
from llm_observability.config.models import (
    DEFAULT_EMBEDDING_MODEL_ID,
    DEFAULT_MODEL_ID,
    DEFAULT_MODEL_PRICES,
    INFERENCE_PROFILE_PREFIXES,
    PRICE_TABLE_DATE,
    base_model_id,
)
from llm_observability.config.settings import ObservabilityConfig, config_reference_rows

__all__ = [
    "DEFAULT_EMBEDDING_MODEL_ID",
    "DEFAULT_MODEL_ID",
    "DEFAULT_MODEL_PRICES",
    "EMBEDDING_DIMENSIONS",
    "INFERENCE_PROFILE_PREFIXES",
    "LOG_RETENTION_DAYS",
    "PRICE_TABLE_DATE",
    "EmbeddingDimensions",
    "ExistingConfiguration",
    "Level",
    "LogAnalyticsMode",
    "ObservabilityConfig",
    "PromptLogging",
    "ReferenceRow",
    "SecurityStandard",
    "SingletonMode",
    "base_model_id",
    "config_reference_rows",
]
