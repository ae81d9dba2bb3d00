"""ObservabilityConfig: every setting of the bundled app declared once, grouped by concern, validated on creation.

Settings come from ``cdk.json`` context or ``cdk synth -c key=value`` overrides
(``ObservabilityConfig.from_context(app.node)``) or from keyword arguments
(``ObservabilityConfig(level=2, ...)``). Each field declares its default, its rule (bound or choices,
constants of :mod:`~llm_observability.config.bounds`) and its doc text; every bad value stops synth with a
:class:`~llm_observability.errors.ConfigError` whose message is one sentence naming the key and what is allowed.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

from llm_observability.config import bounds as b
from llm_observability.config.choices import (
    ComplianceProfile,
    DriftStatistic,
    EmbeddingDimensions,
    ExistingConfiguration,
    Level,
    LogAnalyticsMode,
    OrganizationServices,
    PromptLogging,
    SecurityStandard,
    SingletonMode,
)
from llm_observability.config.context import coerce, reject_unknown_keys, settings_in_context
from llm_observability.config.fields import Custom, ReferenceRow, check_type, declared, reference_rows, setting
from llm_observability.config.models import (
    DEFAULT_EMBEDDING_MODEL_ID,
    DEFAULT_FALLBACK_MODEL_ID,
    DEFAULT_MODEL_ID,
    MODEL_ID_RE,
    ModelId,
    base_model_id,
    is_token,
)
from llm_observability.config.organization import (
    MONITORING_ALLOWED,
    TARGETS_ALLOWED,
    Monitoring,
    Target,
    monitoring_regions,
    parse_monitoring,
    parse_targets,
)
from llm_observability.config.rules import (
    ALARM_ARN_RE,
    AVAILABILITY_ZONE_RE,
    AVAILABILITY_ZONES_ALLOWED,
    LAYER_VERSION_ARN_RE,
    OUTCOME_TARGETS_RULE,
    PRICES_RULE,
    SUBNET_ID_RE,
    SUBNET_IDS_ALLOWED,
    TAGS_RULE,
    TENANT_HEADER_RE,
    TENANT_IDS_ALLOWED,
    THRESHOLDS_RULE,
    TRANSACTION_SEARCH_INDEXING_PERCENT,
    VPC_ENDPOINTS_ALLOWED,
    VPC_ID_ALLOWED,
    VPC_ID_RE,
    check_endpoints,
    check_monitoring,
    check_targets,
    check_tenant_ids,
    id_list,
)
from llm_observability.errors import ConfigError
from llm_observability.runtime import telemetry
from llm_observability.thresholds import AlarmThresholds
from llm_observability.validation import Choice, Email, Pattern, WorkloadName, fail

if TYPE_CHECKING:
    from constructs import Node

_app = partial(setting, "app")
_level1 = partial(setting, "level1")
_level2 = partial(setting, "level2")
_level3 = partial(setting, "level3")
_organization = partial(setting, "organization")


@dataclass(frozen=True, kw_only=True)
class ObservabilityConfig:
    """All settings of the bundled app.  Every field is a context key of the same name."""

    # --- the app: what is observed, and names, tags and retention of everything the stacks create ---------------
    level: Level = _app(1, Choice(Level), "Maturity level to synthesize: stacks 1..level are built.")
    workload_name: str = _app(
        "rag-demo", WorkloadName(),
        "Short name of the observed application, used in resource and stack names and as the `service` dimension.",
    )  # fmt: skip
    model_id: str = _app(
        DEFAULT_MODEL_ID,
        ModelId("a Bedrock model id such as amazon.nova-lite-v1:0, an inference-profile id or an ARN"),
        "Bedrock model id, inference-profile id (e.g. `us.amazon.nova-lite-v1:0`) or ARN used for answers.",
    )
    embedding_model_id: str = _app(
        DEFAULT_EMBEDDING_MODEL_ID,
        Pattern(MODEL_ID_RE, "a Bedrock embedding model id such as amazon.titan-embed-text-v2:0"),
        "Bedrock embedding model of the knowledge base the stack creates.",
    )
    embedding_dimensions: EmbeddingDimensions = _app(
        1024, Choice(EmbeddingDimensions), "Vector size of the embedding model and the S3 Vectors index."
    )
    knowledge_base_id: str = _app(
        "", b.KNOWLEDGE_BASE_ID,
        "Id of your own Bedrock knowledge base; when set, none is created and IAM is scoped to it.",
    )  # fmt: skip
    retrieval_top_k: int = _app(4, b.RETRIEVAL_TOP_K, "Default number of passages retrieved per question.")
    prompt_logging: PromptLogging = _app(
        telemetry.PROMPT_LOGGING_REDACTED, Choice(PromptLogging),
        "How prompt and answer text is logged: in `full`, `redacted` (PII removed) or `none`.",
    )
    api_throttle_rate_limit: int = _app(
        10, b.API_RATE_LIMIT, "API Gateway stage steady-state request limit, requests per second."
    )
    api_throttle_burst_limit: int = _app(
        20, b.API_BURST_LIMIT, "API Gateway stage burst limit, requests (at least `api_throttle_rate_limit`)."
    )
    lambda_memory_mb: int = _app(512, b.LAMBDA_MEMORY_MB, "Memory of the RAG Lambda function in MB.")
    log_retention_days: int = _app(
        30, b.LOG_RETENTION, "Retention of every log group the stacks create, in days (a CloudWatch Logs value)."
    )
    metric_namespace: str = _app(
        telemetry.DEFAULT_NAMESPACE, b.METRIC_NAMESPACE, "CloudWatch namespace of the application's EMF metrics."
    )
    model_prices: Mapping[str, Mapping[str, float]] = _app(
        {}, PRICES_RULE,
        "Price table for the estimated-cost metric: `{model id: {input_per_1k, output_per_1k}}` in USD; "
        "merged over the built-in table.",
    )  # fmt: skip
    powertools_layer_version: str = _app(
        b.POWERTOOLS_VERSION, b.POWERTOOLS_LAYER_VERSION,
        "Powertools for AWS Lambda (Python) layer version (pinned to the tested release; `latest` resolves at deploy).",
    )
    adot_layer_arn: str = _app(
        "", Pattern(re.compile(f"^(?:{LAYER_VERSION_ARN_RE.pattern[1:-1]})?$"),
                    "empty (the ADOT layer of the stack's region) or a Lambda layer version ARN such as "
                    "arn:aws:lambda:us-east-1:615299751070:layer:AWSOpenTelemetryDistroPython:29"),
        "AWS Distro for OpenTelemetry (ADOT) Python layer of the RAG function; empty takes AWS's layer for the "
        "stack's region from the library's table.",
    )  # fmt: skip
    create_api_gateway_cloudwatch_role: bool = _app(
        True, None,
        "Create the account-wide API Gateway CloudWatch Logs role (retained on delete); "
        "`false` adopts the one the account already has.",
    )  # fmt: skip
    tags: Mapping[str, str] = _app({}, TAGS_RULE, "Extra cost-allocation tags put on every resource (`{key: value}`).")
    compliance_profile: ComplianceProfile = _app(
        "standard", Choice(ComplianceProfile),
        "`standard`, or `strict`: the library's keys, log groups (a year at least) and audit buckets meet the AWS "
        "Control Tower proactive controls (`llm_observability.compliance_profile`); switching replaces the buckets.",
    )  # fmt: skip

    # --- Level 1: invocation logging and the static alarms -------------------------------------------------------
    invocation_logging: bool = _level1(True, None, "Turn on Bedrock model invocation logging in the bundled app.")
    invocation_logging_existing: ExistingConfiguration = _level1(
        "keep", Choice(ExistingConfiguration),
        "What invocation logging does with a configuration the account already has: `keep` it (adopt) or `replace` it.",
    )  # fmt: skip
    invocation_logging_s3: bool = _level1(
        False, None, "Also deliver Bedrock invocation logs to a new, retained S3 bucket."
    )
    invocation_logging_text: bool = _level1(
        False, None,
        "Deliver prompt and answer text in Bedrock invocation logs: verbatim, for every application of the account "
        "(the app's `prompt_logging` redaction does not apply); the log group and S3 copy then get a dedicated KMS key.",
    )  # fmt: skip
    transaction_search: bool = _level1(
        True, None,
        "Turn on CloudWatch Transaction Search for the account and region (spans searchable in `aws/spans`).",
    )  # fmt: skip
    transaction_search_existing: SingletonMode = _level1(
        "create", Choice(SingletonMode),
        "`create` Transaction Search (fails where it is already on), or `adopt` the account's (nothing created).",
    )  # fmt: skip
    transaction_search_indexing_percentage: float = _level1(
        1.0, TRANSACTION_SEARCH_INDEXING_PERCENT,
        "Percentage of spans Transaction Search indexes as X-Ray trace summaries (1 is free; `create` only).",
    )  # fmt: skip
    alarm_email: str = _level1("", Email(), "E-mail address subscribed to the alert topic (optional).")
    alarm_thresholds: Mapping[str, float] = _level1(
        {}, THRESHOLDS_RULE, "Overrides of the Level 1 alarm thresholds, e.g. `{\"bedrock_latency_p90_ms\": 5000}`."
    )

    # --- Level 2: anomaly bands, cost, quality, guardrail, prompts, compliance ----------------------------------
    health_alarm: bool = _level1(
        True, None,
        "One composite 'health' alarm per workload over its high-severity alarms pages (alert topic, OpsItem); the "
        "member alarms notify the low-urgency topic instead. Its actions are suppressed while a Level 3 runbook heals.",
    )  # fmt: skip
    low_urgency_email: str = _level1(
        "", Email(), "E-mail address subscribed to the low-urgency topic (member and low-severity alarms; optional)."
    )
    health_suppressor_alarm_arn: str = _level1(
        "", Pattern(re.compile(f"^(?:{ALARM_ARN_RE.pattern[1:-1]})?$"), "empty or a CloudWatch alarm ARN"),
        "An alarm of yours (e.g. deployment in progress) that also suppresses the health alarm's actions.",
    )  # fmt: skip
    tenant_header: str = _level1(
        "x-tenant-id", Pattern(TENANT_HEADER_RE, "a lowercase HTTP header name (letters, digits, -), 1-64 characters"),
        "Request header naming the tenant (else the IAM caller is the tenant); passed to Bedrock as requestMetadata.",
    )  # fmt: skip
    tenant_inference_profiles: tuple[str, ...] = _level1(
        (), Custom(f"empty or {TENANT_IDS_ALLOWED}", check_tenant_ids),
        "Tenants that get a Bedrock application inference profile of their own (cost-allocation tag `Tenant`).",
    )  # fmt: skip
    lambda_insights: bool = _level1(
        False, None,
        "Lambda Insights on the workload's functions: CPU, memory and network per invocation (8 metrics per function "
        "and about 1 KB of logs per invocation are billed).",
    )  # fmt: skip
    lambda_insights_log_group: SingletonMode = _level1(
        "create", Choice(SingletonMode),
        "`create` the account's `/aws/lambda-insights` log group (retention, KMS), or `adopt` the existing one.",
    )  # fmt: skip
    anomaly_band_width: float = _level2(
        2.0, b.ANOMALY_BAND_WIDTH, "Width of the anomaly-detection bands in standard deviations."
    )
    monthly_budget_usd: float = _level2(
        100.0, b.BUDGET_USD, "Monthly AWS Budgets limit for Amazon Bedrock spend, in US dollars."
    )
    budget_warning_percent: float = _level2(
        80.0, b.WARNING_PERCENT, "Early budget warning on actual spend, in percent of the limit."
    )
    budget_services: tuple[str, ...] = _level2(
        (b.BEDROCK_SERVICE,), b.BUDGET_SERVICES,
        "Cost Explorer service names the budget counts (add Marketplace model names such as "
        "`Claude 3.5 Sonnet (Amazon Bedrock Edition)`).",
    )  # fmt: skip
    cost_anomaly_threshold_usd: float = _level2(
        10.0, b.ANOMALY_THRESHOLD_USD, "Smallest total impact of a cost anomaly that is notified, in US dollars."
    )
    cost_anomaly_monitor_arn: str = _level2(
        "", b.ANOMALY_MONITOR_ARN,
        "ARN of the account's existing AWS-services anomaly monitor to adopt; empty creates one.",
    )  # fmt: skip
    guardrail: bool = _level2(
        True, None, "Give the reference app a Bedrock Guardrail (grounding, relevance, content, PII)."
    )
    prompt_management: bool = _level2(
        True, None, "Keep the RAG prompt in Bedrock Prompt Management with versions and an active-version pointer."
    )
    quality_canary_minutes: int = _level2(
        60, b.QUALITY_CANARY_MINUTES, "Minutes between quality-canary runs over the golden set."
    )
    quality_rouge_l_floor: float = _level2(
        0.2, b.ROUGE_L_FLOOR, "Alarm when the golden set's average ROUGE-L falls below this."
    )
    tenant_insights: bool = _level2(
        True, None,
        "Contributor Insights rules: top tenants by tokens, requests and errors per model (fixed cost per rule).",
    )  # fmt: skip
    online_judge_sample_percent: float = _level2(
        10.0, b.JUDGE_SAMPLE_PERCENT,
        "Percent of real answers an LLM judge scores for relevance, faithfulness, coherence and harm (0: no judge).",
    )  # fmt: skip
    online_judge_minutes: int = _level2(15, b.JUDGE_MINUTES, "Minutes between online-judge runs over the logs.")
    judge_model_id: str = _level2(
        DEFAULT_MODEL_ID, ModelId("a Bedrock model id, inference-profile id or ARN"),
        "Bedrock model of the online judge (priced from `model_prices` or the built-in table).",
    )  # fmt: skip
    judge_monthly_token_cap: int = _level2(
        2_000_000, b.JUDGE_MONTHLY_TOKEN_CAP, "Judge tokens per calendar month; judging stops at the cap."
    )
    judge_max_per_run: int = _level2(50, b.JUDGE_MAX_PER_RUN, "Most answers judged per run.")
    feedback_join_minutes: int = _level2(
        60, b.FEEDBACK_JOIN_MINUTES, "Minutes between runs joining feedback to the model and prompt version it rates."
    )
    feedback_lookback_hours: int = _level2(
        24, b.FEEDBACK_LOOKBACK_HOURS, "How far back the rated answer is looked up by request id, in hours."
    )
    feedback_negative_ceiling_percent: float = _level2(
        30.0, b.NEGATIVE_CEILING_PERCENT, "Alarm above this share of ratings of 1 or 2 (out of 5), in percent."
    )
    feedback_review_set: bool = _level2(
        False, None, "Keep each rated answer (redacted text, sources) in an encrypted S3 review set (golden propose)."
    )
    feedback_review_days: int = _level2(30, b.REVIEW_DAYS, "Days a review-set object is kept.")
    drift_baseline_days: int = _level2(
        7, b.DRIFT_BASELINE_DAYS, "Trailing days yesterday's answer distributions are compared with."
    )
    drift_statistic: DriftStatistic = _level2(
        "psi", Choice(DriftStatistic),
        "Drift statistic the alarm reads: `psi` (population stability index) or `ks` (Kolmogorov-Smirnov).",
    )  # fmt: skip
    drift_psi_threshold: float = _level2(0.25, b.DRIFT_PSI_THRESHOLD, "Alarm above this PSI (with `psi`).")
    drift_ks_threshold: float = _level2(0.2, b.DRIFT_KS_THRESHOLD, "Alarm above this KS distance (with `ks`).")
    drift_min_samples: int = _level2(
        50, b.DRIFT_MIN_SAMPLES, "Fewest values on each side for a signal to be compared."
    )
    prompt_diversity: bool = _level2(
        True, None, "Daily distinct-question count and near-duplicate share of the questions (needs question text)."
    )
    near_duplicate_jaccard: float = _level2(
        0.8, b.NEAR_DUPLICATE_JACCARD, "Jaccard similarity of word 3-shingles from which two questions are near-duplicates."
    )
    outcome_targets: Mapping[str, Mapping[str, float]] = _level2(
        {}, OUTCOME_TARGETS_RULE,
        "Time-to-detect and time-to-resolve targets per severity, e.g. `{\"high\": {\"resolve_minutes\": 30}}`; "
        "empty takes the level's (Level 2: high resolved in 30 minutes, Level 3: 5).",
    )  # fmt: skip
    security_hub: SingletonMode = _level2(
        "create", Choice(SingletonMode), "`create` the account's Security Hub hub, or `adopt` the one already enabled."
    )
    security_standards: tuple[SecurityStandard, ...] = _level2(
        ("fsbp",), Choice(SecurityStandard, many=True),
        "Security Hub standards to enable: `fsbp` (AWS Foundational Security Best Practices), `cis`, `nist`.",
    )  # fmt: skip
    config_recorder: SingletonMode = _level2(
        "create", Choice(SingletonMode),
        "`create` an AWS Config recorder (this workload's resource types), or `adopt` the account's.",
    )  # fmt: skip
    cloudtrail: bool = _level2(
        True, None, "Create a multi-region CloudTrail trail (turn off where an organization trail exists)."
    )

    # --- Level 3: self-healing, DevOps Guru, profiling, Prometheus, log analytics -------------------------------
    fallback_model_id: str = _level3(
        DEFAULT_FALLBACK_MODEL_ID,
        ModelId("a Bedrock model id, inference-profile id or ARN other than 'model_id'"),
        "Model the failover runbook switches to while the primary is throttled or failing.",
    )
    throttled_rate_limit: int = _level3(
        2, b.API_RATE_LIMIT,
        "API stage rate limit (requests/s) while a cost or traffic anomaly lasts (below the normal one).",
    )  # fmt: skip
    throttled_burst_limit: int = _level3(
        5, b.API_BURST_LIMIT, "API stage burst limit while a cost or traffic anomaly lasts (at most the normal one)."
    )
    devops_guru_coverage: SingletonMode = _level3(
        "create", Choice(SingletonMode),
        "`create` DevOps Guru's stack coverage (the account's singleton) or `adopt` the account's.",
    )  # fmt: skip
    codeguru_profiler: bool = _level3(True, None, "Profile the RAG function with CodeGuru Profiler.")
    prometheus_export: bool = _level3(
        True, None, "Export the LLM metrics to Amazon Managed Service for Prometheus with SLO rules and alerts."
    )
    slo_objective_percent: float = _level3(
        99.0, b.SLO_OBJECTIVE_PERCENT, "Availability objective of the Prometheus burn-rate alerts, in percent."
    )
    log_analytics: LogAnalyticsMode = _level3(
        "domain", Choice(LogAnalyticsMode),
        "Stream the app's logs to OpenSearch: `domain` (small managed domain), `serverless` or `off`.",
    )  # fmt: skip
    vpc_id: str = _level3(
        "", Pattern(re.compile(f"^(?:{VPC_ID_RE.pattern[1:-1]})?$"), f"empty (no VPC) or {VPC_ID_ALLOWED}"),
        "Your VPC (with `vpc_subnet_ids`, `vpc_availability_zones`) for the OpenSearch log analytics and, in the strict "
        "profile, every function of the library; empty keeps a public, IAM-only endpoint (standard profile only).",
    )  # fmt: skip
    vpc_subnet_ids: tuple[str, ...] = _level3(
        (), id_list(SUBNET_ID_RE, SUBNET_IDS_ALLOWED),
        "Private subnets of `vpc_id` (with a route to S3) for the OpenSearch store, Firehose, the custom resources and, "
        "in the strict profile, every function.",
    )  # fmt: skip
    vpc_availability_zones: tuple[str, ...] = _level3(
        (), id_list(AVAILABILITY_ZONE_RE, AVAILABILITY_ZONES_ALLOWED),
        "Availability Zone of each of `vpc_subnet_ids`, in the same order.",
    )  # fmt: skip
    vpc_endpoints: tuple[str, ...] = _level3(
        (), Custom(VPC_ENDPOINTS_ALLOWED, check_endpoints),
        "Strict profile: interface endpoints (private DNS) created in `vpc_id` for the functions, `[\"all\"]` for "
        "every one; empty when the VPC already reaches AWS APIs (its own endpoints or NAT). Each costs per hour per AZ.",
    )  # fmt: skip
    targets: tuple[Mapping[str, Any], ...] = _organization(
        (), Custom(f"empty or {TARGETS_ALLOWED}", check_targets),
        "Deploy to these environments, one CDK stage each at its own `level` (then `level` is not used).",
    )  # fmt: skip
    monitoring: Mapping[str, Any] = _organization(
        {}, Custom(f"empty or {MONITORING_ALLOWED}", check_monitoring),
        "The monitoring account (with `targets`): OAM sinks, estate dashboards and cross-account alarms per region.",
    )  # fmt: skip
    share_logs: bool = _organization(
        False, None,
        "OAM links also share the targets' log groups with the monitoring account (they hold questions and answers).",
    )  # fmt: skip
    organization_services: OrganizationServices = _organization(
        "per_account", Choice(OrganizationServices),
        "`per_account`: each target creates its account singletons; `delegated_admin`: they exist (a delegated "
        "administrator), targets adopt them and the monitoring account aggregates Config and Security Hub.",
    )  # fmt: skip

    # ------------------------------------------------------------------ build
    @classmethod
    def keys(cls) -> tuple[str, ...]:
        """Every setting name (= context key)."""
        return tuple(item.name for item in declared(cls))

    @classmethod
    def from_context(cls, node: Node) -> ObservabilityConfig:
        """Read settings from CDK context (cdk.json and ``-c key=value``), validating each one."""
        return cls.from_mapping(settings_in_context(node.get_all_context(), cls.keys()))

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> ObservabilityConfig:
        """Build from a mapping of raw values (strings from ``-c`` are converted)."""
        reject_unknown_keys(values, cls.keys(), strict=True)
        shapes = {item.name: item.shape for item in declared(cls)}
        return cls(**{k: coerce(k, shapes[k], v) for k, v in values.items()})

    def __post_init__(self) -> None:
        for item in declared(type(self)):
            value = getattr(self, item.name)
            check_type(item.name, item.shape, value)
            if item.spec.rule is not None:
                value = item.spec.rule.check(item.name, value)
            object.__setattr__(self, item.name, tuple(value) if item.shape == "list" else value)
        self._check_pairs()

    def _check_pairs(self) -> None:
        """The rules that relate two settings."""
        if self.api_throttle_burst_limit < self.api_throttle_rate_limit:
            raise fail(
                "api_throttle_burst_limit", self.api_throttle_burst_limit,
                f"a value at least 'api_throttle_rate_limit' ({self.api_throttle_rate_limit})",
            )  # fmt: skip
        if self.fallback_model_id == self.model_id:
            raise fail("fallback_model_id", self.fallback_model_id, "a model other than 'model_id'")
        rate, burst = self.api_throttle_rate_limit, self.api_throttle_burst_limit
        if self.throttled_rate_limit >= rate or self.throttled_burst_limit > burst:
            raise fail(
                "throttled_rate_limit", self.throttled_rate_limit,
                f"a limit below 'api_throttle_rate_limit' ({rate}), with 'throttled_burst_limit' at most "
                f"'api_throttle_burst_limit' ({burst})",
            )  # fmt: skip
        self._check_vpc()
        if self.monitoring and not self.targets:
            raise fail("monitoring", dict(self.monitoring), "empty unless 'targets' lists the accounts it monitors")

    def _check_vpc(self) -> None:
        """vpc_id, vpc_subnet_ids and vpc_availability_zones: all three (one zone per subnet) or none."""
        given = {"vpc_id": self.vpc_id, "vpc_subnet_ids": self.vpc_subnet_ids,
                 "vpc_availability_zones": self.vpc_availability_zones}  # fmt: skip
        missing = [name for name, value in given.items() if not value]
        if missing and len(missing) < len(given):
            present = [name for name in given if name not in missing]
            raise fail(missing[0], given[missing[0]], f"a value as well, since {' and '.join(present)} "
                       f"{'is' if len(present) == 1 else 'are'} set (the VPC settings go all three or none)")
        if len(self.vpc_availability_zones) != len(self.vpc_subnet_ids):
            raise fail("vpc_availability_zones", self.vpc_availability_zones,
                       f"one zone per subnet of 'vpc_subnet_ids' ({len(self.vpc_subnet_ids)})")  # fmt: skip

    # ------------------------------------------------------------- derived
    @property
    def brings_own_knowledge_base(self) -> bool:
        """True when ``knowledge_base_id`` names an existing knowledge base."""
        return bool(self.knowledge_base_id)

    @property
    def target_list(self) -> tuple[Target, ...]:
        """``targets`` parsed (empty: the single-environment app)."""
        return parse_targets("targets", self.targets)

    @property
    def monitoring_account(self) -> Monitoring | None:
        """``monitoring`` parsed, its regions defaulting to the targets' regions; None without one."""
        parsed = parse_monitoring("monitoring", dict(self.monitoring))
        if parsed is None or parsed.regions:
            return parsed
        return dataclasses.replace(parsed, regions=monitoring_regions(parsed, self.target_list))

    @property
    def thresholds(self) -> AlarmThresholds:
        """The Level 1 alarm thresholds: defaults with ``alarm_thresholds`` applied."""
        return AlarmThresholds.from_overrides(self.alarm_thresholds)

    @property
    def models_in_use(self) -> tuple[str, ...]:
        """The model and, at Level 3, the fallback model the failover runbook may switch to."""
        return (self.model_id, self.fallback_model_id) if self.level >= 3 else (self.model_id,)

    def price_table_json(self) -> str:
        """Prices of :attr:`models_in_use` as compact JSON for the Lambda environment, keyed by model id.

        An inference-profile id is priced as the foundation model behind it; a model id given as a token (a
        ``CfnParameter``'s value) by the ``model_prices`` entry keyed by that same token (the JSON then holds the
        token, which CloudFormation resolves).

        :raises ConfigError: a model in use given as a token without such an entry: the function's price table is
            written at synth, when the token's model is not known yet.
        """
        table = {}
        for setting, model_id in zip(("model_id", "fallback_model_id"), self.models_in_use, strict=False):
            if is_token(model_id) and model_id not in self.model_prices:
                raise ConfigError(
                    f"Setting 'model_prices' has no price for '{setting}', a token whose model is known only at deploy "
                    "time: allowed is an entry keyed by that same token, e.g. model_prices={param.value_as_string: "
                    '{"input_per_1k": 0.00006, "output_per_1k": 0.00024}}.'
                )
            price = self.model_prices.get(model_id) or self.model_prices.get(base_model_id(model_id))
            if price:
                table[model_id] = dict(price)
        return json.dumps(table, separators=(",", ":"), sort_keys=True)


def config_reference_rows() -> tuple[ReferenceRow, ...]:
    """The configuration reference: (key, type, default, allowed, doc, concern) per setting, in declaration order."""
    return reference_rows(ObservabilityConfig)
