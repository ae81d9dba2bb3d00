"""Fake AWS clients for the runbook tests: dict-backed services with boto3's snake_case methods and its errors.

Each fake keeps what it was asked (``puts``, ``published``, ``calls``) so a test can assert what a runbook did.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from botocore.exceptions import ClientError


def client_error(code: str, operation: str, message: str = "") -> ClientError:
    """The error boto3 raises when ``operation`` fails with ``code``."""
    return ClientError({"Error": {"Code": code, "Message": message}}, operation)


class FakeSsm:
    """Parameter Store: String parameters in a dict."""

    def __init__(self, values: dict[str, str]) -> None:
        self.values = dict(values)
        self.versions = dict.fromkeys(values, 1)
        self.puts: list[dict[str, Any]] = []

    def get_parameter(self, *, Name: str, WithDecryption: bool = False) -> dict[str, Any]:
        if Name not in self.values:
            raise client_error("ParameterNotFound", "GetParameter")
        return {
            "Parameter": {"Name": Name, "Type": "String", "Value": self.values[Name], "Version": self.versions[Name]}
        }

    def put_parameter(self, *, Name: str, Value: str, Type: str = "String", Overwrite: bool = False) -> dict[str, Any]:
        if Name in self.values and not Overwrite:
            raise client_error("ParameterAlreadyExists", "PutParameter")
        self.puts.append({"Name": Name, "Value": Value, "Type": Type, "Overwrite": Overwrite})
        self.values[Name] = Value
        self.versions[Name] = self.versions.get(Name, 0) + 1
        return {"Version": self.versions[Name], "Tier": "Standard"}


class FakeSns:
    """Records what is published."""

    def __init__(self) -> None:
        self.published: list[dict[str, str]] = []

    def publish(self, *, TopicArn: str, Message: str, Subject: str | None = None) -> dict[str, str]:
        self.published.append({"TopicArn": TopicArn, "Subject": Subject or "", "Message": Message})
        return {"MessageId": f"message-{len(self.published)}"}


class FakeCloudWatch:
    """PutMetricData: every datum put, with its namespace."""

    def __init__(self) -> None:
        self.data: list[dict[str, Any]] = []

    def put_metric_data(self, *, Namespace: str, MetricData: list[dict[str, Any]]) -> dict[str, Any]:
        self.data.extend({"Namespace": Namespace, **datum} for datum in MetricData)
        return {}

    def values(self, metric_name: str) -> list[float]:
        """The values put for ``metric_name``, in order."""
        return [d["Value"] for d in self.data if d["MetricName"] == metric_name]


class FakePromptManagement:
    """bedrock-agent GetPrompt over a set of existing prompt versions."""

    def __init__(self, prompt: str, versions: set[int]) -> None:
        self.prompt = prompt
        self.existing = set(versions)
        self.calls: list[dict[str, str]] = []

    def get_prompt(self, *, promptIdentifier: str, promptVersion: str | None = None) -> dict[str, Any]:
        self.calls.append({"promptIdentifier": promptIdentifier, "promptVersion": promptVersion or "DRAFT"})
        if promptIdentifier != self.prompt or promptVersion is None or int(promptVersion) not in self.existing:
            raise client_error("ResourceNotFoundException", "GetPrompt", "The prompt version does not exist.")
        prompt_id = self.prompt.rsplit("/", 1)[-1]
        return {"id": prompt_id, "arn": f"{self.prompt}:{promptVersion}", "version": promptVersion, "name": "rag"}


class FakeApiGateway:
    """Stage-wide throttling (method settings ``*/*``) of REST API stages."""

    _PATH = re.compile(r"^/(?P<resource>[^/]+)/(?P<method>[^/]+)/throttling/(?P<limit>rateLimit|burstLimit)$")

    def __init__(self, stages: dict[tuple[str, str], tuple[float, int]]) -> None:
        self.stages = {
            key: {
                "stageName": key[1],
                "methodSettings": {"*/*": {"throttlingRateLimit": rate, "throttlingBurstLimit": burst}},
            }
            for key, (rate, burst) in stages.items()
        }

    def throttling(self, rest_api_id: str, stage: str) -> tuple[float, int]:
        settings = self.stages[(rest_api_id, stage)]["methodSettings"]["*/*"]
        return settings["throttlingRateLimit"], settings["throttlingBurstLimit"]

    def update_stage(self, *, restApiId: str, stageName: str, patchOperations: list[dict[str, str]]) -> dict[str, Any]:
        if (restApiId, stageName) not in self.stages:
            raise client_error("NotFoundException", "UpdateStage", "Invalid stage identifier specified")
        stage = self.stages[(restApiId, stageName)]
        for operation in patchOperations:
            match = self._PATH.fullmatch(operation["path"])
            if operation["op"] != "replace" or match is None:
                raise client_error("BadRequestException", "UpdateStage", f"Invalid patch path {operation['path']}")
            key = f"{match['resource'].replace('~1', '/')}/{match['method']}"
            settings = stage["methodSettings"].setdefault(key, {})
            if match["limit"] == "rateLimit":
                settings["throttlingRateLimit"] = float(operation["value"])
            else:
                settings["throttlingBurstLimit"] = int(operation["value"])
        return copy.deepcopy(stage)
