"""Reading what is assessed: a cloud assembly (``cdk.out``), one template file, or a folder of templates.

Everything here is plain Python (no aws-cdk import), so the command line starts fast and works on
templates written by any tool. Input problems raise :class:`AssessError` with one sentence that names
the file; the command line prints it and exits with status 2. What the rules read from the loaded
stacks is :class:`~llm_observability.assess.inventory.Inventory`.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from llm_observability.assess.intrinsics import intrinsic
from llm_observability.assess.shapes import shape_problem

TEMPLATE_SUFFIXES = (".json", ".yaml", ".yml", ".template")
MAX_TEMPLATE_BYTES = 50 * 1024 * 1024  # CloudFormation's own limit is 1 MB (S3 URL); this only stops accidents


class AssessError(Exception):
    """An input the tool cannot assess (missing, unreadable, malformed, not a template): one sentence."""


# --------------------------------------------------------------------------------------------------
# Parsing
# --------------------------------------------------------------------------------------------------


def _yaml_loader() -> type:
    """A PyYAML SafeLoader that understands CloudFormation's short-form intrinsic tags.

    ``!Ref X`` -> ``{"Ref": "X"}``, ``!GetAtt A.B`` -> ``{"Fn::GetAtt": ["A", "B"]}``,
    ``!Condition C`` -> ``{"Condition": "C"}``, and every other ``!Name v`` -> ``{"Fn::Name": v}``.
    Timestamps stay strings (``AWSTemplateFormatVersion: 2010-09-09`` is a version, not a date).
    """
    import yaml  # optional: only YAML templates need it

    class CfnYamlLoader(yaml.SafeLoader):
        pass

    CfnYamlLoader.yaml_implicit_resolvers = {
        first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }

    def construct_intrinsic(loader: Any, tag_suffix: str, node: Any) -> dict[str, Any]:
        if isinstance(node, yaml.ScalarNode):
            value: Any = loader.construct_scalar(node)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)
        name = tag_suffix
        if name == "Ref":
            return {"Ref": value}
        if name == "Condition":
            return {"Condition": value}
        if name == "GetAtt" and isinstance(value, str):
            resource, _, attribute = value.partition(".")
            return {"Fn::GetAtt": [resource, attribute]}
        return {f"Fn::{name}": value}

    CfnYamlLoader.add_multi_constructor("!", construct_intrinsic)
    return CfnYamlLoader


def parse_template(text: str, source: str) -> dict[str, Any]:
    """Parse template text (JSON, else CloudFormation YAML) into a mapping; ``source`` names it in errors."""
    stripped = text.strip()
    if not stripped:
        raise AssessError(f"{source} is empty: expected a CloudFormation template (JSON or YAML).")
    if stripped.startswith(("{", "[")) or source.endswith(".json"):
        try:
            data = json.loads(text)
        except RecursionError:
            raise AssessError(f"{source} is nested too deeply to read as JSON.") from None
        except ValueError as error:
            raise AssessError(f"{source} is not valid JSON: {error}.") from None
    else:
        try:
            loader = _yaml_loader()
        except ImportError:
            raise AssessError(
                f"{source} looks like YAML, and reading YAML templates needs PyYAML, which is not installed: "
                "run `pip install pyyaml`, or convert the template to JSON (`cfn-flip`)."
            ) from None
        import yaml

        try:
            data = yaml.load(text, Loader=loader)  # a SafeLoader subclass
        except RecursionError:
            raise AssessError(f"{source} is nested too deeply to read as YAML.") from None
        except yaml.YAMLError as error:
            mark = getattr(error, "problem_mark", None)
            where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
            problem = getattr(error, "problem", None) or str(error).splitlines()[0]
            raise AssessError(f"{source} is not valid YAML{where}: {problem}.") from None
    if not isinstance(data, dict):
        raise AssessError(f"{source} is not a CloudFormation template: its top level is not a mapping.")
    return data


def _is_template(data: dict[str, Any]) -> bool:
    return "Resources" in data or "AWSTemplateFormatVersion" in data


def _check_template(data: dict[str, Any], source: str) -> dict[str, Any]:
    """Reject what is not a template, and a property the rules read that has the wrong type
    (:mod:`~llm_observability.assess.shapes`); return ``data`` (Resources may be empty)."""
    resources = data.get("Resources", {})
    if not _is_template(data):
        raise AssessError(f"{source} is not a CloudFormation template: it has no Resources section.")
    if resources is None:
        resources = data["Resources"] = {}
    if not isinstance(resources, dict):
        raise AssessError(f"{source} is not a valid template: Resources is not a mapping.")
    for logical_id, resource in resources.items():
        if not isinstance(resource, dict) or not isinstance(resource.get("Type"), str):
            raise AssessError(f"{source} is not a valid template: resource {logical_id!r} has no Type.")
        kind, properties = resource["Type"], resource.get("Properties")
        if properties is not None and not isinstance(properties, dict):
            raise AssessError(
                f"{source} is not a valid template: resource {logical_id!r} ({kind}) has Properties "
                f"{json.dumps(properties, default=str)[:40]}, expected a mapping."
            )
        problem = shape_problem(kind, properties) if properties and intrinsic(properties) is None else None
        if problem is not None:
            where, value, expected = problem
            raise AssessError(
                f"{source} is not a valid template: property {where} of resource {logical_id!r} ({kind}) is "
                f"{value}, expected {expected}."
            )
    return data


def read_text(path: Path) -> str:
    """The file's text; binary, unreadable and oversized files are input errors."""
    try:
        size = path.stat().st_size
        if size > MAX_TEMPLATE_BYTES:
            raise AssessError(f"{path} is {size:,} bytes: too large to be a CloudFormation template.")
        raw = path.read_bytes()
    except OSError as error:
        raise AssessError(f"{path} cannot be read: {error.strerror or error}.") from None
    if b"\x00" in raw[:8192]:
        raise AssessError(f"{path} is a binary file, not a CloudFormation template.")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise AssessError(f"{path} is not UTF-8 text, so it is not a CloudFormation template.") from None


# --------------------------------------------------------------------------------------------------
# Sources: assembly, template, folder
# --------------------------------------------------------------------------------------------------


@dataclass
class StackTemplate:
    """One stack's template as loaded: its name, the file it came from and the parsed template."""

    name: str  # unique in the source: the stack name, prefixed with its stage where names repeat across stages
    path: Path
    template: dict[str, Any]
    tags: dict[str, str] = field(default_factory=dict)  # stack-level tags from the assembly manifest
    stage: str = ""  # the CDK stage (nested assembly) it belongs to, "" for a stack of the app itself
    stack_name: str = ""  # its CloudFormation stack name, as other stacks' Fn::GetStackOutput name it ("": name)

    @property
    def cloudformation_name(self) -> str:
        return self.stack_name or self.name

    @property
    def resources(self) -> dict[str, dict[str, Any]]:
        return self.template.get("Resources") or {}


@dataclass
class Source:
    """What was assessed: the path, its kind (assembly, template, directory), the stacks and any notes."""

    path: Path
    kind: str
    stacks: list[StackTemplate]
    notes: list[str] = field(default_factory=list)

    def describe(self) -> str:
        count = sum(len(s.resources) for s in self.stacks)
        return f"{self.path} ({self.kind}: {len(self.stacks)} stack(s), {count} resources)"


def load(path: str | Path) -> Source:
    """Load ``path``: a cloud assembly folder, a template file, or a folder of templates."""
    path = Path(path)
    if not path.exists():
        raise AssessError(f"{path} does not exist: give a cdk.out folder, a template file or a folder of templates.")
    if path.is_file():
        template = _check_template(parse_template(read_text(path), str(path)), str(path))
        return Source(path=path, kind="template", stacks=[StackTemplate(_stack_name(path), path, template)])
    if not path.is_dir():
        raise AssessError(f"{path} is neither a file nor a folder.")
    if (path / "manifest.json").is_file():
        source = _load_assembly(path)
        source.stacks = unique_names(source.stacks)
        return source
    return _load_folder(path)


def unique_names(stacks: list[StackTemplate]) -> list[StackTemplate]:
    """``stacks`` with unique names: where a name repeats (the same stacks in each stage of an organization app),
    every stack of a stage is named ``<stage>/<stack name>``; otherwise the names stay as they are."""
    names = [s.name for s in stacks]
    if len(set(names)) == len(names):
        return stacks
    return [
        dataclasses.replace(s, name=f"{s.stage}/{s.name}", stack_name=s.cloudformation_name) if s.stage else s
        for s in stacks
    ]


def _stack_name(path: Path) -> str:
    name = path.name
    for suffix in (".template.json", ".template.yaml", ".template.yml", *TEMPLATE_SUFFIXES):
        if name.endswith(suffix):
            return name[: -len(suffix)] or name
    return name


def _load_folder(path: Path) -> Source:
    stacks: list[StackTemplate] = []
    notes: list[str] = []
    try:
        files = sorted(p for p in path.iterdir() if p.is_file() and p.name.endswith(TEMPLATE_SUFFIXES))
    except OSError as error:
        raise AssessError(f"{path} cannot be listed: {error.strerror or error}.") from None
    for file in files:
        data = parse_template(read_text(file), str(file))
        if not _is_template(data):
            notes.append(f"{file.name} skipped: not a CloudFormation template (no Resources section).")
            continue
        stacks.append(StackTemplate(_stack_name(file), file, _check_template(data, str(file))))
    if not stacks:
        raise AssessError(
            f"{path} has no manifest.json and no CloudFormation templates (*.json, *.yaml, *.yml, *.template)."
        )
    return Source(path=path, kind="directory", stacks=stacks, notes=notes)


def _load_assembly(path: Path, *, depth: int = 0, stage: str = "") -> Source:
    manifest_path = path / "manifest.json"
    try:
        manifest = json.loads(read_text(manifest_path))
    except ValueError as error:
        raise AssessError(f"{manifest_path} is not valid JSON: {error}.") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("artifacts", {}), dict):
        raise AssessError(f"{manifest_path} is not a cloud assembly manifest: no artifacts mapping.")
    stacks: list[StackTemplate] = []
    notes: list[str] = []
    for artifact_id, artifact in (manifest.get("artifacts") or {}).items():
        if not isinstance(artifact, dict):
            continue
        props = artifact.get("properties") if isinstance(artifact.get("properties"), dict) else {}
        kind = artifact.get("type")
        if kind == "aws:cloudformation:stack":
            template_file = props.get("templateFile")
            if not isinstance(template_file, str):
                raise AssessError(f"{manifest_path}: stack artifact {artifact_id!r} names no templateFile.")
            file = path / template_file
            if not file.is_file():
                raise AssessError(f"{manifest_path}: the template of stack {artifact_id!r} ({file}) is missing.")
            template = _check_template(parse_template(read_text(file), str(file)), str(file))
            name = props.get("stackName") or artifact_id
            tags = props.get("tags") if isinstance(props.get("tags"), dict) else {}
            stacks.append(StackTemplate(str(name), file, template, {str(k): str(v) for k, v in tags.items()}, stage))
            stacks.extend(_nested_stacks(path, str(name), template, notes, stage))
        elif kind == "cdk:cloud-assembly":
            directory = props.get("directoryName")
            if isinstance(directory, str) and depth < 10 and (path / directory / "manifest.json").is_file():
                display = props.get("displayName") or artifact.get("displayName")  # the stage's id
                nested = _load_assembly(
                    path / directory, depth=depth + 1, stage=display if isinstance(display, str) else str(artifact_id)
                )
                stacks.extend(nested.stacks)
                notes.extend(nested.notes)
            else:
                notes.append(f"nested assembly {artifact_id!r} not found on disk: not assessed.")
    if not stacks:
        raise AssessError(
            f"{path} is a cloud assembly with no CloudFormation stacks (artifacts of type aws:cloudformation:stack)."
        )
    return Source(path=path, kind="cloud assembly", stacks=stacks, notes=notes)


def _nested_stacks(
    directory: Path, parent: str, template: dict[str, Any], notes: list[str], stage: str = ""
) -> list[StackTemplate]:
    """CDK nested stacks: their templates sit beside the parent's, named in ``aws:asset:path`` metadata."""
    found: list[StackTemplate] = []
    for logical_id, resource in (template.get("Resources") or {}).items():
        if resource.get("Type") != "AWS::CloudFormation::Stack":
            continue
        metadata = resource.get("Metadata")
        asset = metadata.get("aws:asset:path") if isinstance(metadata, dict) else None
        file = directory / asset if isinstance(asset, str) else None
        if file is not None and file.is_file():
            nested = _check_template(parse_template(read_text(file), str(file)), str(file))
            found.append(StackTemplate(f"{parent}/{logical_id}", file, nested, stage=stage))
            found.extend(_nested_stacks(directory, f"{parent}/{logical_id}", nested, notes, stage))
        else:
            notes.append(f"nested stack {parent}/{logical_id}: template not in the assembly, not assessed.")
    return found
