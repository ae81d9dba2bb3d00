"""Level 3 log analytics: subscription filters -> Amazon Data Firehose -> an OpenSearch domain or collection.

``LogAnalytics(scope, id, workload=..., destination=OpenSearchServerlessDestination(readers=[...]))``:
the construct (``construct``) builds the shared pipeline; each destination class (``domain``,
``serverless``) creates its own store through ``bind`` (the contract in ``destination``); the index
template body lives in ``index_template``.
"""

from __future__ import annotations

from llm_observability.constructs.log_analytics.construct import (
    DEFAULT_FILTER_PATTERN,
    LOG_METRICS_NAMESPACE,
    TEMPLATE_RESOURCE_TYPE,
    LogAnalytics,
)
from llm_observability.constructs.log_analytics.destination import (
    INDEX_ROTATIONS,
    DestinationBindOptions,
    DestinationConfig,
    IndexRotation,
    OpenSearchDelivery,
    OpenSearchDestination,
)
from llm_observability.constructs.log_analytics.domain import DomainCapacity, OpenSearchDomainDestination
from llm_observability.constructs.log_analytics.index_template import TIMESTAMP_FORMAT, index_mappings, index_template
from llm_observability.constructs.log_analytics.network import VpcPlacement
from llm_observability.constructs.log_analytics.serverless import OpenSearchServerlessDestination

__all__ = [
    "DEFAULT_FILTER_PATTERN",
    "INDEX_ROTATIONS",
    "LOG_METRICS_NAMESPACE",
    "TEMPLATE_RESOURCE_TYPE",
    "TIMESTAMP_FORMAT",
    "DestinationBindOptions",
    "DestinationConfig",
    "DomainCapacity",
    "IndexRotation",
    "LogAnalytics",
    "OpenSearchDelivery",
    "OpenSearchDestination",
    "OpenSearchDomainDestination",
    "OpenSearchServerlessDestination",
    "VpcPlacement",
    "index_mappings",
    "index_template",
]
