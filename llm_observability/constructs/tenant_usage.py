"""Top tenants by tokens, requests and errors per model: Contributor Insights rules on the workload's logs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

from aws_cdk import Names, Stack
from aws_cdk import aws_cloudwatch as cw
from constructs import Construct

from llm_observability.left_out import leave_out
from llm_observability.runtime import telemetry as t
from llm_observability.validation import choice
from llm_observability.workload import Workload

#: What a rule counts per (tenant, model): input tokens, output tokens, requests or failed requests.
RuleKind = Literal["input_tokens", "output_tokens", "requests", "errors"]
RULE_KINDS: tuple[RuleKind, ...] = ("input_tokens", "output_tokens", "requests", "errors")
RuleState = Literal["ENABLED", "DISABLED"]
#: The rule body schema CloudWatch Contributor Insights reads for log groups.
RULE_SCHEMA = {"Name": "CloudWatchLogRule", "Version": 1}

# --- Bedrock model invocation log records (schemaType ModelInvocationLog) --------------------------------------
INVOCATION_TENANT = f"$.requestMetadata.{t.REQUEST_METADATA_TENANT}"
INVOCATION_MODEL = "$.modelId"
INVOCATION_VALUES: Mapping[RuleKind, str] = {
    "input_tokens": "$.input.inputTokenCount",
    "output_tokens": "$.output.outputTokenCount",
}
INVOCATION_ERROR = "$.errorCode"  # present on a record of a failed invocation

# --- The runtime's bedrock_call lines in the application's log groups ---------------------------------------------
APP_TENANT = f"$.{t.LOG_FIELD_TENANT}"
APP_MODEL = f"$.{t.LOG_FIELD_MODEL}"
APP_VALUES: Mapping[RuleKind, str] = {
    "input_tokens": f"$.{t.LOG_FIELD_INPUT_TOKENS}",
    "output_tokens": f"$.{t.LOG_FIELD_OUTPUT_TOKENS}",
}
#: Model invocations among the bedrock_call lines (Retrieve lines carry the tenant too, but no model).
APP_OPERATIONS = ("Converse", "ConverseStream", "InvokeModel", "InvokeModelWithResponseStream")

#: Monthly fixed price of one Contributor Insights rule, and the price per million matched log events (us-east-1).
PRICE_PER_RULE_MONTH_USD = 0.50
PRICE_PER_MILLION_MATCHED_EVENTS_USD = 0.02


def _body(log_group_names: Sequence[str], keys: Sequence[str], filters: Sequence[Mapping[str, Any]],
          value_of: str | None) -> dict[str, Any]:  # fmt: skip
    """A CloudWatchLogRule body: ``keys`` are the contributors, summed over ``value_of`` or counted without it."""
    contribution: dict[str, Any] = {"Keys": list(keys), "Filters": list(filters)}
    if value_of is not None:
        contribution["ValueOf"] = value_of
    return {
        "Schema": dict(RULE_SCHEMA),
        "LogGroupNames": list(log_group_names),
        "LogFormat": "JSON",
        "Contribution": contribution,
        "AggregateOn": "Sum" if value_of is not None else "Count",
    }


def invocation_rule_body(log_group_name: str, kind: RuleKind) -> dict[str, Any]:
    """The rule of ``kind`` on the model invocation log: per ``requestMetadata.tenant`` and ``modelId``."""
    filters: list[dict[str, Any]] = [{"Match": INVOCATION_TENANT, "IsPresent": True}]
    if kind == "errors":
        filters.append({"Match": INVOCATION_ERROR, "IsPresent": True})
    return _body([log_group_name], [INVOCATION_TENANT, INVOCATION_MODEL], filters, INVOCATION_VALUES.get(kind))


def app_rule_body(log_group_names: Sequence[str], kind: RuleKind) -> dict[str, Any]:
    """The rule of ``kind`` on the runtime's ``bedrock_call`` lines: per ``tenant`` and ``model_id``."""
    filters: list[dict[str, Any]] = [
        {"Match": f"$.{t.LOG_FIELD_MESSAGE}", "In": [t.LOG_MESSAGE_CALL]},
        {"Match": f"$.{t.LOG_FIELD_OPERATION}", "In": list(APP_OPERATIONS)},
        {"Match": APP_TENANT, "IsPresent": True},
    ]
    if kind == "errors":
        filters.append({"Match": f"$.{t.LOG_FIELD_OUTCOME}", "In": [t.LOG_OUTCOME_FAILURE]})
    return _body(log_group_names, [APP_TENANT, APP_MODEL], filters, APP_VALUES.get(kind))


class TenantUsage(Construct):
    """Top tenants (or IAM callers) by input tokens, output tokens, requests and errors, per model.

    CloudWatch Contributor Insights rules (``AWS::CloudWatch::InsightRule``, JSON bodies, schema
    ``CloudWatchLogRule`` 1), each keyed by (tenant, model), so their cost does not grow with the number of tenants:

    - on the Bedrock model invocation log (``workload.invocation_log_group``): the records' ``requestMetadata.tenant``
      and ``modelId``, summing ``input.inputTokenCount`` / ``output.outputTokenCount``, counting records and
      records with an ``errorCode``. The log is the account's: every application that sends
      ``requestMetadata.tenant`` is counted (the reference app and the library's runtime do, for Converse);
    - on the application's log groups (``workload.log_groups``, with a ``log_schema`` and ``telemetry="runtime"``:
      the functions run the library's runtime): its ``bedrock_call`` lines' ``tenant`` and ``model_id``, summing
      ``usage.input_tokens`` / ``usage.output_tokens``, counting model invocations and those with
      ``outcome=failure``. This workload only, and InvokeModel callers included where the SDK cannot send
      request metadata.

    What the workload cannot feed is left out and listed in the stack's left-out warning (naming the field).
    Fixed cost: $0.50 per rule per month (up to 8 rules: $4.00) plus $0.02 per million log events
    matched; a rule made ``DISABLED`` costs nothing. Read the rules in the CloudWatch console (Contributor
    Insights) or with ``GetInsightRuleReport``; they make no metrics of their own.

    :param workload: the observed application.
    :param app_logs: also build the rules on the application's log groups. Default: True.
    :param state: ``ENABLED`` or ``DISABLED``. Default: ``ENABLED``.
    """

    def __init__(
        self, scope: Construct, id: str, *, workload: Workload, app_logs: bool = True, state: RuleState = "ENABLED"
    ) -> None:
        super().__init__(scope, id)
        choice("state", state, RuleState, owner="TenantUsage")
        self.workload = workload
        #: The rules by name suffix (``invocation-input-tokens``, ``app-errors``, ...).
        self.rules: dict[str, cw.CfnInsightRule] = {}
        feature = "Contributor Insights rules: top tenants by tokens, requests and errors per model"
        if workload.invocation_log_group is not None:
            name = workload.invocation_log_group.log_group_name
            for kind in RULE_KINDS:
                self._rule("invocation", kind, invocation_rule_body(name, kind), state)
        else:
            leave_out(
                self, f"{feature}, from the model invocation log", "invocation_log_group",
                "turn on invocation_logging (Level 1) or pass the log group Bedrock model invocation logging writes "
                "to (Workload.with_invocation_log_group)",
            )  # fmt: skip
        if not app_logs:
            return
        feeds = {
            "log_groups": bool(workload.log_groups),
            "log_schema": workload.log_schema is not None,
            "telemetry": workload.telemetry == "runtime",  # the functions write the runtime's bedrock_call lines
        }
        missing = next((field for field, fed in feeds.items() if not fed), None)
        if missing is not None:
            leave_out(self, f"{feature}, from the app's bedrock_call log lines (InvokeModel callers)", missing)
            return
        names = [group.log_group_name for group in workload.log_groups]
        for kind in RULE_KINDS:
            self._rule("app", kind, app_rule_body(names, kind), state)

    def _rule(self, source: str, kind: RuleKind, body: dict[str, Any], state: RuleState) -> None:
        suffix = f"{source}-{kind.replace('_', '-')}"
        prefix = Names.unique_resource_name(self, max_length=100, separator="-")
        self.rules[suffix] = cw.CfnInsightRule(
            self,
            f"{source.capitalize()}{''.join(part.capitalize() for part in kind.split('_'))}",
            rule_name=f"{prefix}-{suffix}",
            rule_state=state,
            rule_body=Stack.of(self).to_json_string(body),
        )

    @property
    def rule_names(self) -> dict[str, str]:
        """The rules' names by suffix (for ``GetInsightRuleReport`` or a dashboard of your own)."""
        return {suffix: rule.attr_rule_name for suffix, rule in self.rules.items()}
