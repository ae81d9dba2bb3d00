"""Shared fixtures: each CDK app is synthesized once per test session (jsii start-up costs seconds)."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

ROOT = Path(__file__).resolve().parent.parent
CDK_CONTEXT: dict[str, Any] = json.loads((ROOT / "cdk.json").read_text())["context"]
_ASSET_HASH = re.compile(r"[0-9a-f]{64}")

#: Environment for boto3 clients in tests: dummy credentials, a fixed region, no config files, no IMDS.
OFFLINE_AWS_ENV: dict[str, str] = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_CONFIG_FILE": "/dev/null",
    "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
    "AWS_EC2_METADATA_DISABLED": "true",
}


@dataclass
class SynthResult:
    """A synthesized app: its stacks' templates by stack name, and its output folder."""

    outdir: Path
    templates: dict[str, dict[str, Any]]
    stacks: dict[str, Any]

    def template(self, level: int = 1) -> dict[str, Any]:
        (name,) = [n for n in self.templates if f"-l{level}-" in n]
        return self.templates[name]

    def resources(self, cfn_type: str, level: int = 1) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.template(level)["Resources"].items() if v["Type"] == cfn_type}


def synth_bundled_app(outdir: Path, **context: Any) -> SynthResult:
    """Build the bundled app with cdk.json's context plus ``context`` and synthesize it (nag included)."""
    from aws_cdk import App, Stack

    from llm_observability.stacks import build_app

    app = App(context={**CDK_CONTEXT, **context}, outdir=str(outdir))
    build_app(app)
    app.synth()  # raises if cdk-nag has an unacknowledged finding
    stacks = {c.stack_name: c for c in app.node.children if isinstance(c, Stack)}
    templates = {
        name: json.loads((outdir / f"{stack.artifact_id}.template.json").read_text()) for name, stack in stacks.items()
    }
    return SynthResult(outdir=outdir, templates=templates, stacks=stacks)


@pytest.fixture(scope="session")
def level1(tmp_path_factory: pytest.TempPathFactory) -> SynthResult:
    """The bundled app at level 1 with cdk.json defaults."""
    return synth_bundled_app(tmp_path_factory.mktemp("level1"))


@pytest.fixture(scope="session")
def level2(tmp_path_factory: pytest.TempPathFactory) -> SynthResult:
    """The bundled app at level 2 with cdk.json defaults."""
    return synth_bundled_app(tmp_path_factory.mktemp("level2"), level=2)


@pytest.fixture(scope="session")
def level3(tmp_path_factory: pytest.TempPathFactory) -> SynthResult:
    """The bundled app at level 3 with cdk.json defaults."""
    return synth_bundled_app(tmp_path_factory.mktemp("level3"), level=3)


@pytest.fixture(scope="session")
def level1_own_kb(tmp_path_factory: pytest.TempPathFactory) -> SynthResult:
    """Level 1 with a brought-in knowledge base and a cross-region inference profile."""
    return synth_bundled_app(
        tmp_path_factory.mktemp("level1-own-kb"),
        knowledge_base_id="KBID123456",
        model_id="us.amazon.nova-pro-v1:0",
        create_api_gateway_cloudwatch_role=False,
        alarm_email="oncall@example.com",
    )


def scrub(template: dict[str, Any]) -> dict[str, Any]:
    """A template with asset hashes replaced, so snapshots change only when the infrastructure does."""
    return json.loads(_ASSET_HASH.sub("<asset-hash>", json.dumps(template)))


@pytest.fixture
def find() -> Callable[..., list[tuple[str, dict[str, Any]]]]:
    """``find(template, type, **props)``: resources of a type whose properties contain ``props``."""

    def _find(template: dict[str, Any], cfn_type: str, **props: Any) -> list[tuple[str, dict[str, Any]]]:
        return [
            (k, v)
            for k, v in template["Resources"].items()
            if v["Type"] == cfn_type and all(v.get("Properties", {}).get(p) == x for p, x in props.items())
        ]

    return _find


def alarm_metric(props: dict[str, Any]) -> dict[str, Any]:
    """Namespace, MetricName, Dimensions and statistic of a single-metric alarm, in either template form."""
    if "Metrics" not in props:
        return {
            "Namespace": props.get("Namespace"), "MetricName": props.get("MetricName"),
            "Dimensions": props.get("Dimensions", []), "Stat": props.get("ExtendedStatistic") or props.get("Statistic"),
            "Period": props.get("Period"),
        }  # fmt: skip
    stats = [q["MetricStat"] for q in props["Metrics"] if "MetricStat" in q]
    if len(stats) != 1 or any("Expression" in q for q in props["Metrics"]):
        return {"Namespace": None, "MetricName": None, "Dimensions": [], "Stat": None, "Period": None}
    (stat,) = stats
    return {**stat["Metric"], "Dimensions": stat["Metric"].get("Dimensions", []), "Stat": stat["Stat"], "Period": stat["Period"]}


@pytest.fixture(scope="session")
def example(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """examples/byo_app synthesized once (nag and the hygiene aspect on)."""
    from aws_cdk import App, Aspects, Validations
    from cdk_nag import AwsSolutionsChecks

    from llm_observability.hygiene import NoRedundantDependsOn
    from tests.support.loader import load_file

    module = load_file("byo_app", ROOT / "examples" / "byo_app" / "app.py", register=False)
    outdir = tmp_path_factory.mktemp("example")
    flags = {k: v for k, v in CDK_CONTEXT.items() if k.startswith("@")}  # the example's own cdk.json flags
    app = App(outdir=str(outdir), context=flags)
    stacks = module.build(app)
    Aspects.of(app).add(NoRedundantDependsOn())
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    app.synth()  # raises on any unacknowledged cdk-nag finding
    templates = {name: json.loads((outdir / f"{s.artifact_id}.template.json").read_text()) for name, s in stacks.items()}
    return {"outdir": outdir, "stacks": stacks, "templates": templates}


#: The user's VPC of the strict-profile tests (three private subnets in three zones).
STRICT_VPC: dict[str, Any] = {
    "vpc_id": "vpc-0123456789abcdef0",
    "vpc_subnet_ids": ["subnet-0123456789abcdef0", "subnet-0123456789abcdef1", "subnet-0123456789abcdef2"],
    "vpc_availability_zones": ["us-east-1a", "us-east-1b", "us-east-1c"],
}


@pytest.fixture(scope="session")
def strict_level3(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The bundled app at level 3 in the strict compliance profile, synthesized once with the Control Tower rules
    (the documented list off) and cdk-nag: in the user's VPC with every interface endpoint, environment-agnostic
    (no account, as the issue's ``cdk synth`` command). ``report`` is the validation report, ``files`` and
    ``templates`` the templates by stack name (paths, parsed)."""
    from scripts.control_tower_report import synth_with_rules

    outdir = tmp_path_factory.mktemp("strict-l3")
    context = {
        **CDK_CONTEXT, **STRICT_VPC, "level": 3, "compliance_profile": "strict", "vpc_endpoints": ["all"],
    }  # fmt: skip
    report = synth_with_rules(outdir, context)
    files = {p.name.removesuffix(".template.json"): p for p in outdir.glob("*.template.json")}
    templates = {name: json.loads(path.read_text()) for name, path in files.items()}
    return {"report": report, "outdir": outdir, "files": files, "templates": templates}

