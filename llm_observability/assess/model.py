"""The maturity model as data: the capabilities of each level, what counts as evidence, what to add.

The rows follow the README's "What Level N provisions" sections (and the seed's Level 1/2/3 tables):
each row names the construct of this library that provides it, so a scorecard's next steps point at
code. The evidence rules themselves are in :mod:`llm_observability.assess.scorecard`; ``rule`` here is
their one-line description (shown by ``--format json`` and in the README table).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

LEVEL_NAMES: dict[int, str] = {0: "none", 1: "Foundation", 2: "Proactive", 3: "AIOps"}
STACK_OF_LEVEL: dict[int, str] = {1: "FoundationStack", 2: "ProactiveStack", 3: "AiOpsStack"}


class Status(str, Enum):
    """How much of a capability the templates show."""

    PRESENT = "present"
    PARTIAL = "partial"
    MISSING = "missing"

    @property
    def rank(self) -> int:
        return {"missing": 0, "partial": 1, "present": 2}[self.value]


@dataclass(frozen=True)
class Capability:
    """One row of the scorecard."""

    id: str
    level: int
    title: str
    provided_by: str  # this library's construct(s)
    next_step: str  # what to add, naming the construct
    rule: str  # the evidence rule, one line


CAPABILITIES: tuple[Capability, ...] = (
    # ---------------------------------------------------------------- Level 1: Foundation
    Capability(
        "tracing", 1, "Distributed tracing (AWS X-Ray)",
        "RagReferenceApp",
        "Turn on X-Ray end to end: Lambda tracing=Tracing.ACTIVE on the functions behind the API and "
        "tracing_enabled=True on the API Gateway stage (RagReferenceApp does both).",
        "Request-path Lambda functions (API integration targets; all app functions if there is no API) have "
        "TracingConfig.Mode Active and every API Gateway stage TracingEnabled true; partial if only some, or only "
        "the API or only the functions, are traced.",
    ),
    Capability(
        "structured-logs", 1, "Structured logs with retention and encryption",
        "RagReferenceApp (Powertools Logger, KMS-encrypted log groups with retention)",
        "Give every log group RetentionInDays and a KMS key, give each function its own log group, and log JSON "
        "(Powertools Logger or LoggingConfig.LogFormat=JSON); RagReferenceApp shows the pattern.",
        "Every AWS::Logs::LogGroup has RetentionInDays and KmsKeyId, every app function logs to a declared log "
        "group, and logs are structured (Powertools or LogFormat JSON); partial otherwise.",
    ),
    Capability(
        "llm-metrics", 1, "LLM and application metrics",
        "BedrockMetrics + the RAG function's EMF metrics (functions/rag_api/telemetry.py)",
        "Emit application LLM metrics as EMF (latency per stage, tokens, success rate) and watch them together "
        "with AWS/Bedrock metrics: BedrockMetrics gives typed accessors for both.",
        "Alarms or dashboards use AWS/Bedrock metrics and application metrics (the POWERTOOLS_METRICS_NAMESPACE "
        "of a function, a metric filter's namespace or another custom namespace); partial if only one of them.",
    ),
    Capability(
        "dashboards", 1, "Dashboards of LLM metrics",
        "LlmDashboard",
        "Add LlmDashboard(stack, 'Dashboard', workload=workload, alarms=...): Bedrock, application, API and "
        "Lambda metrics plus Logs Insights widgets on one page.",
        "An AWS::CloudWatch::Dashboard whose body shows AWS/Bedrock or the application's metric namespace; "
        "partial if dashboards show neither.",
    ),
    Capability(
        "alarms", 1, "Alarms with actions",
        "LlmAlarms",
        "Add LlmAlarms(stack, 'Alarms', workload=workload): Bedrock latency/errors/throttles, success rate, "
        "Lambda and API alarms, each with ALARM and OK actions to the alert topic.",
        "AWS::CloudWatch::Alarm resources with non-empty AlarmActions (alarms that feed a composite alarm with "
        "actions count as covered); partial if some alarms have no action.",
    ),
    Capability(
        "notifications", 1, "Encrypted alarm notifications (SNS)",
        "AlertTopic",
        "Send alarms to an AlertTopic (SNS, KMS-encrypted, TLS only) and subscribe on-call (alarm_email).",
        "Alarm actions publish to an SNS topic; topics in the templates have KmsMasterKeyId; partial if a topic "
        "is unencrypted.",
    ),
    Capability(
        "invocation-logging", 1, "Bedrock model invocation logging",
        "InvocationLogging",
        "Add InvocationLogging(stack, 'InvocationLogging') once per account and region (a custom resource: "
        "CloudFormation has no type for it).",
        "Custom::BedrockInvocationLogging, or a custom resource that sets a Bedrock loggingConfig "
        "(PutModelInvocationLoggingConfiguration); partial if a loggingConfig of unrecognized shape.",
    ),
    Capability(
        "cost-visibility", 1, "Cost visibility (token-cost metric, cost-allocation tags)",
        "BedrockMetrics.estimated_cost on LlmDashboard + cost-allocation tags",
        "Chart the token-cost metric (EstimatedCostUSD, LlmDashboard) and tag every resource for cost "
        "allocation (Tags.of(app).add('Project', ...)).",
        "A cost metric (a metric name containing 'Cost', or AWS/Billing) on a dashboard or alarm, and a tag key "
        "shared by all tagged resources (or stack tags); partial if only one of them.",
    ),
    # ---------------------------------------------------------------- Level 2: Proactive
    Capability(
        "metric-anomaly-detection", 2, "Metric anomaly detection",
        "AnomalyAlarms",
        "Add AnomalyAlarms(stack, 'Anomalies', workload=workload): anomaly-band alarms on Bedrock latency, "
        "tokens, volume, cost and error rate.",
        "An alarm whose metrics contain ANOMALY_DETECTION_BAND; partial if it has no action, or if only an "
        "AWS::CloudWatch::AnomalyDetector without alarm exists.",
    ),
    Capability(
        "log-intelligence", 2, "Log anomaly detection and saved queries",
        "LogIntelligence",
        "Add LogIntelligence(stack, 'LogIntelligence', workload=workload): a log anomaly detector, saved Logs "
        "Insights queries and prompt-injection / refusal metric filters.",
        "AWS::Logs::LogAnomalyDetector and AWS::Logs::QueryDefinition; partial if only one of them (or only "
        "metric filters).",
    ),
    Capability(
        "compliance", 2, "Security and compliance (Security Hub, Config rules, CloudTrail)",
        "ComplianceBaseline",
        "Add ComplianceBaseline(stack, 'Compliance', workload=workload): Security Hub with standards, AWS Config "
        "managed rules, a multi-region CloudTrail trail.",
        "AWS::SecurityHub::Hub or ::Standard, AWS::Config::ConfigRule (or a conformance pack) and an "
        "AWS::CloudTrail::Trail that is logging; partial if some of the three.",
    ),
    Capability(
        "cost-control", 2, "Cost control (Budgets with forecast, Cost Anomaly Detection)",
        "CostGuard",
        "Add CostGuard(stack, 'CostGuard', ...): a Bedrock budget with ACTUAL and FORECASTED notifications and "
        "Cost Anomaly Detection, both to the alert topic.",
        "An AWS::Budgets::Budget with a FORECASTED notification and AWS::CE::AnomalySubscription (or monitor); "
        "partial if only one, or a budget without forecast.",
    ),
    Capability(
        "incident-management", 2, "Incident management (OpsCenter OpsItems from alarms)",
        "ProactiveStack (open_ops_items)",
        "Make high-severity alarms open OpsCenter OpsItems (ProactiveStack does it with open_ops_items; "
        "cloudwatch_actions.SsmAction in your own app).",
        "An alarm action ARN containing ':opsitem:' (or an SSM Incident Manager response plan).",
    ),
    Capability(
        "guardrail", 2, "Output safety (Bedrock Guardrail)",
        "LlmGuardrail",
        "Add LlmGuardrail (guardrail=true in the bundled app): contextual grounding, content filters, prompt "
        "attacks and PII, wired into the function through GUARDRAIL_ID / GUARDRAIL_VERSION.",
        "An AWS::Bedrock::Guardrail that a function (environment) or agent uses, or a function configured with a "
        "guardrail id; partial if a guardrail nothing uses.",
    ),
    Capability(
        "prompt-management", 2, "Prompt versioning (Bedrock Prompt Management)",
        "ManagedPrompt",
        "Keep the prompt in ManagedPrompt (prompt_management=true): Bedrock Prompt Management with immutable "
        "versions and an active-version parameter.",
        "AWS::Bedrock::Prompt with an AWS::Bedrock::PromptVersion; partial if a prompt without versions.",
    ),
    Capability(
        "quality-evaluation", 2, "Output quality and drift (scheduled evaluation, quality alarms)",
        "QualityCanary",
        "Add QualityCanary: a scheduled golden-set run (ROUGE-L, BLEU, token F1) with quality-drop, drift and "
        "refusal alarms.",
        "A scheduled evaluation (EventBridge schedule -> Lambda, EventBridge Scheduler or a Synthetics canary) and "
        "an alarm on an output-quality metric (quality, ROUGE, BLEU, F1, grounding, refusal ...); partial if one.",
    ),
    # ---------------------------------------------------------------- Level 3: AIOps
    Capability(
        "devops-guru", 3, "ML operational insights (Amazon DevOps Guru)",
        "DevOpsGuruCoverage (AiOpsStack)",
        "Add DevOpsGuruCoverage(stack, 'DevOpsGuru', stack_names=..., topic=...) (AiOpsStack): resource "
        "collection over the stacks plus a notification channel to the alert topic.",
        "AWS::DevOpsGuru::ResourceCollection and AWS::DevOpsGuru::NotificationChannel; partial if only one.",
    ),
    Capability(
        "codeguru-profiler", 3, "Runtime profiling (Amazon CodeGuru Profiler)",
        "CodeGuruProfiling (AiOpsStack)",
        "Add CodeGuruProfiling(stack, 'Profiler', function=..., name=...) (AiOpsStack): a profiling group and "
        "the agent wired into the function.",
        "An AWS::CodeGuruProfiler::ProfilingGroup that a function sends profiles to (AWS_CODEGURU_PROFILER_* "
        "environment naming or referencing it); partial if no function is wired.",
    ),
    Capability(
        "self-healing", 3, "Self-healing runbooks (SSM Automation started from alarms)",
        "RemediationRunbooks (AiOpsStack)",
        "Add RemediationRunbooks (AiOpsStack): SSM Automation documents (model failover, prompt rollback, "
        "throttle) started by EventBridge rules on alarm state changes.",
        "An AWS::SSM::Document of DocumentType Automation and an AWS::Events::Rule on CloudWatch alarm state "
        "changes whose target ARN contains ':automation-definition/'; partial if documents are not triggered, "
        "or rules do not react to alarms.",
    ),
    Capability(
        "prometheus", 3, "Amazon Managed Service for Prometheus (rules, alert manager)",
        "AiOpsStack (Prometheus workspace)",
        "Deploy AiOpsStack's Prometheus export: an AMP workspace with recording and alerting rules "
        "(AWS::APS::RuleGroupsNamespace) and an alert manager definition.",
        "AWS::APS::Workspace with an AlertManagerDefinition and an AWS::APS::RuleGroupsNamespace; partial if a "
        "workspace lacks rules or alert manager.",
    ),
    Capability(
        "opensearch-log-analytics", 3, "OpenSearch log analytics (subscription filter -> Firehose -> OpenSearch)",
        "AiOpsStack (OpenSearch log analytics)",
        "Deploy AiOpsStack's log analytics: a CloudWatch Logs subscription filter to a Firehose delivery stream "
        "that writes to an OpenSearch domain or serverless collection.",
        "An AWS::OpenSearchService::Domain or AWS::OpenSearchServerless::Collection, an "
        "AWS::KinesisFirehose::DeliveryStream with an OpenSearch destination and an AWS::Logs::SubscriptionFilter "
        "to the stream; partial if only part of the path.",
    ),
)  # fmt: skip

BY_ID: dict[str, Capability] = {c.id: c for c in CAPABILITIES}
MAX_LEVEL = max(c.level for c in CAPABILITIES)


def capabilities_of(level: int) -> list[Capability]:
    return [c for c in CAPABILITIES if c.level == level]
