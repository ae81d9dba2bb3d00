"""The cost lines of the organization-scale resources: Contributor Insights rules (fixed per rule, usage per matched
log event), OAM sinks and links and Bedrock application inference profiles (no charge of their own, listed so the
estimate says what they cost). Composite alarms are priced with the other alarms in :mod:`.cost`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from llm_observability.assess.capabilities.organization import (
    INFERENCE_PROFILE,
    INSIGHT_RULE,
    OAM_LINK,
    OAM_SINK,
    OAM_TYPES,
    shared_types,
)
from llm_observability.assess.intrinsics import literal
from llm_observability.assess.prices import assumed, price_entry

if TYPE_CHECKING:
    from llm_observability.assess.cost import _Estimator


def organization_costs(e: _Estimator) -> None:
    """Add the fixed and usage lines of Contributor Insights, OAM and application inference profiles to ``e``."""
    rules = e.inv.of_type(INSIGHT_RULE)
    billed = [r for r in rules if literal(r.properties.get("RuleState")) != "DISABLED"]
    if billed:
        p = price_entry("cloudwatch.contributor_insights_rule")
        disabled = f"; {len(rules) - len(billed)} DISABLED rule(s) not billed" if len(billed) < len(rules) else ""
        e.add("contributor-insights-rules", "fixed", "Contributor Insights rules", len(billed), "rule(s)",
              "cloudwatch.contributor_insights_rule", p["usd"],
              f"{len(billed)} rule(s) x ${p['usd']:.2f} a month, whatever the number of tenants{disabled}.", billed,
              free=p["free_per_account"])  # fmt: skip
        if e.requests > 0:
            per_request = assumed("insight_rule_events_per_request")
            events = e.requests * per_request * len(billed) / 1e6
            p = price_entry("cloudwatch.contributor_insights_events")
            e.add("contributor-insights-events", "usage", "Contributor Insights matched log events", events,
                  "million events", "cloudwatch.contributor_insights_events", p["usd"],
                  f"{e.requests:,} requests x {per_request} matched log event(s) per request x {len(billed)} rule(s) "
                  f"(each rule reads every invocation or request log line).", billed, free=p["free_per_account"])  # fmt: skip
    oam = e.inv.of_type(OAM_SINK, OAM_LINK)
    if oam:
        traces = any("AWS::XRay::Trace" in shared_types(r) for r in oam if r.type == OAM_LINK)
        shared = sorted({OAM_TYPES.get(t, t) for r in oam if r.type == OAM_LINK for t in shared_types(r)})
        e.add("oam", "fixed", "CloudWatch cross-account observability (OAM sinks and links)", len(oam),
              "sink/link(s)", "cloudwatch.cross_account_observability", 0.0,
              price_entry("cloudwatch.cross_account_observability")["note"]
              + (f"; these links share {', '.join(shared)}" if shared else "")
              + ("; traces: only copies beyond the first are billed" if traces else "") + ".", oam)  # fmt: skip
    profiles = e.inv.of_type(INFERENCE_PROFILE)
    if profiles:
        e.add("application-inference-profiles", "fixed", "Bedrock application inference profiles", len(profiles),
              "profile(s)", "bedrock.application_inference_profile", 0.0,
              price_entry("bedrock.application_inference_profile")["note"] + ".", profiles)  # fmt: skip
