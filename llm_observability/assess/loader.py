"""Reading what is assessed: a cloud assembly (``cdk.out``), one template file, or a folder of templates.

Everything here is plain Python (no aws-cdk import), so the command line starts fast and works on
templates written by any tool. Input problems raise :class:`AssessError` with one sentence that names
the file; the command line prints it and exits with status 2.

The second half is :class:`Inventory`, a read-only index of the resources of all loaded stacks with
the intrinsic-function helpers the evidence rules need:

- :meth:`Inventory.refs` / :meth:`Inventory.targets` follow ``Ref``, ``Fn::GetAtt``, ``Fn::Sub``
  variables and cross-stack ``Fn::GetStackOutput`` / ``Fn::ImportValue`` to the resources they name;
- :func:`render` turns a value into text with ``${...}`` placeholders for what cannot be resolved
  (``Fn::Join`` of ARN pieces becomes ``arn:${AWS::Partition}:ssm:...:opsitem:2``);
- :func:`alternatives` expands ``Fn::If`` into the values a property may take, so a rule can ask
  whether something holds *in every case* (the conservative reading of an unresolved template).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

TEMPLATE_SUFFIXES = (".json", ".yaml", ".yml", ".template")
MAX_TEMPLATE_BYTES = 50 * 1024 * 1024  # CloudFormation's own limit is 1 MB (S3 URL); this only stops accidents


class AssessError(Exception):
    """An input the tool cannot assess (missing, unreadable, malformed, not a template): one sentence."""


# --------------------------------------------------------------------------------------------------
# Parsing
# --------------------------------------------------------------------------------------------------


class _Unset:
    """``AWS::NoValue``: the property is absent in that branch."""

    def __repr__(self) -> str:
        return "NoValue"


NO_VALUE = _Unset()


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
    """Reject what is not a template; return ``data`` (Resources may be empty)."""
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

    name: str
    path: Path
    template: dict[str, Any]
    tags: dict[str, str] = field(default_factory=dict)  # stack-level tags from the assembly manifest

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
        return _load_assembly(path)
    return _load_folder(path)


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


def _load_assembly(path: Path, *, depth: int = 0) -> Source:
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
        props = artifact.get("properties") or {}
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
            stacks.append(StackTemplate(str(name), file, template, {str(k): str(v) for k, v in tags.items()}))
            stacks.extend(_nested_stacks(path, str(name), template, notes))
        elif kind == "cdk:cloud-assembly":
            directory = props.get("directoryName")
            if isinstance(directory, str) and depth < 10 and (path / directory / "manifest.json").is_file():
                nested = _load_assembly(path / directory, depth=depth + 1)
                stacks.extend(nested.stacks)
                notes.extend(nested.notes)
            else:
                notes.append(f"nested assembly {artifact_id!r} not found on disk: not assessed.")
    if not stacks:
        raise AssessError(
            f"{path} is a cloud assembly with no CloudFormation stacks (artifacts of type aws:cloudformation:stack)."
        )
    return Source(path=path, kind="cloud assembly", stacks=stacks, notes=notes)


def _nested_stacks(directory: Path, parent: str, template: dict[str, Any], notes: list[str]) -> list[StackTemplate]:
    """CDK nested stacks: their templates sit beside the parent's, named in ``aws:asset:path`` metadata."""
    found: list[StackTemplate] = []
    for logical_id, resource in (template.get("Resources") or {}).items():
        if resource.get("Type") != "AWS::CloudFormation::Stack":
            continue
        asset = (resource.get("Metadata") or {}).get("aws:asset:path")
        file = directory / asset if isinstance(asset, str) else None
        if file is not None and file.is_file():
            nested = _check_template(parse_template(read_text(file), str(file)), str(file))
            found.append(StackTemplate(f"{parent}/{logical_id}", file, nested))
            found.extend(_nested_stacks(directory, f"{parent}/{logical_id}", nested, notes))
        else:
            notes.append(f"nested stack {parent}/{logical_id}: template not in the assembly, not assessed.")
    return found


# --------------------------------------------------------------------------------------------------
# Intrinsic functions
# --------------------------------------------------------------------------------------------------

_SUB_VARIABLE = re.compile(r"\$\{(?!!)([^}]+)\}")
PSEUDO_PARAMETERS = frozenset(
    {"AWS::AccountId", "AWS::NotificationARNs", "AWS::NoValue", "AWS::Partition", "AWS::Region", "AWS::StackId",
     "AWS::StackName", "AWS::URLSuffix"}
)  # fmt: skip


def intrinsic(value: Any) -> tuple[str, Any] | None:
    """``(name, argument)`` when ``value`` is one intrinsic function call such as ``{"Ref": "X"}``."""
    if isinstance(value, dict) and len(value) == 1:
        ((key, argument),) = value.items()
        if key == "Ref" or key.startswith("Fn::") or key == "Condition":
            return key, argument
    return None


def is_no_value(value: Any) -> bool:
    return value is NO_VALUE or value is None or value == {"Ref": "AWS::NoValue"}


def render(value: Any) -> str:
    """Text of a value with ``${...}`` placeholders for what a template cannot tell before deployment."""
    call = intrinsic(value)
    if call is None:
        if isinstance(value, str):
            return value
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int | float):
            return str(value)
        if isinstance(value, list):
            return ",".join(render(v) for v in value)
        if isinstance(value, dict):
            return json.dumps({k: render(v) for k, v in value.items()})
        return ""
    name, argument = call
    if name == "Ref":
        return f"${{{argument}}}" if isinstance(argument, str) else "${?}"
    if name == "Fn::GetAtt":
        parts = argument.split(".", 1) if isinstance(argument, str) else argument
        if isinstance(parts, list) and all(isinstance(p, str) for p in parts):
            return "${" + ".".join(parts) + "}"
        return "${?}"
    if name == "Fn::Join" and isinstance(argument, list) and len(argument) == 2 and isinstance(argument[1], list):
        delimiter = argument[0] if isinstance(argument[0], str) else ""
        return delimiter.join(render(v) for v in argument[1])
    if name == "Fn::Sub":
        template = argument[0] if isinstance(argument, list) and argument else argument
        return template if isinstance(template, str) else "${?}"
    if name == "Fn::If" and isinstance(argument, list) and len(argument) == 3:
        return f"${{If:{render(argument[1])}|{render(argument[2])}}}"
    if name == "Fn::ImportValue":
        return f"${{Import:{render(argument)}}}"
    return f"${{{name}}}"


def strings(value: Any) -> Iterator[str]:
    """Every string inside a value (keys included), intrinsic arguments too."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)


def alternatives(value: Any, *path: str | int) -> list[Any]:
    """The values found at ``path`` inside ``value`` in each ``Fn::If`` branch (``NO_VALUE`` where absent).

    ``alternatives(props, "TracingConfig", "Mode")`` of
    ``{"TracingConfig": {"Fn::If": ["Prod", {"Mode": "Active"}, {"Ref": "AWS::NoValue"}]}}`` is
    ``["Active", NO_VALUE]``: the rule can then require *every* alternative to be acceptable.
    """
    results: list[Any] = []
    stack: list[tuple[Any, tuple[str | int, ...]]] = [(value, path)]
    while stack and len(results) < 64:
        current, rest = stack.pop()
        call = intrinsic(current)
        if call is not None and call[0] == "Fn::If" and isinstance(call[1], list) and len(call[1]) == 3:
            stack.append((call[1][2], rest))
            stack.append((call[1][1], rest))
            continue
        if is_no_value(current):
            results.append(NO_VALUE)
            continue
        if not rest:
            results.append(current)
            continue
        key, remaining = rest[0], rest[1:]
        if (isinstance(key, int) and isinstance(current, list) and -len(current) <= key < len(current)) or (
            isinstance(key, str) and isinstance(current, dict) and call is None and key in current
        ):
            stack.append((current[key], remaining))
        elif call is not None:
            results.append(current)  # an unresolved intrinsic stands where a mapping was expected
        else:
            results.append(NO_VALUE)
    return results


def surely(value: Any, *path: str | int, test: Any) -> bool:
    """True when ``test`` holds for every alternative value at ``path`` (see :func:`alternatives`)."""
    options = alternatives(value, *path)
    return bool(options) and all(test(option) for option in options)


def possibly(value: Any, *path: str | int, test: Any) -> bool:
    """True when ``test`` holds for at least one alternative value at ``path``."""
    return any(test(option) for option in alternatives(value, *path))


def is_set(option: Any) -> bool:
    return not is_no_value(option) and option != "" and option != []


def as_bool(option: Any) -> bool:
    return option is True or (isinstance(option, str) and option.lower() == "true")


def literal(option: Any) -> str | None:
    """The string (or number as string) a value surely is, else None."""
    if isinstance(option, str):
        return option
    if isinstance(option, bool):
        return "true" if option else "false"
    if isinstance(option, int | float):
        return str(option)
    return None


# --------------------------------------------------------------------------------------------------
# Inventory
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Resource:
    """A resource of one stack (equal and hashed by stack and logical id)."""

    stack: str
    logical_id: str
    type: str
    properties: dict[str, Any]
    condition: str | None
    metadata: dict[str, Any]

    @property
    def key(self) -> tuple[str, str]:
        return (self.stack, self.logical_id)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Resource) and other.key == self.key

    def __hash__(self) -> int:
        return hash(self.key)

    @property
    def path(self) -> str:
        path = self.metadata.get("aws:cdk:path") if isinstance(self.metadata, dict) else None
        return path if isinstance(path, str) else f"{self.stack}/{self.logical_id}"


@dataclass
class Inventory:
    """The resources of all loaded stacks, indexed, with reference resolution across stacks."""

    stacks: list[StackTemplate]
    include_conditional: bool = True
    resources: list[Resource] = field(init=False)
    _by_key: dict[tuple[str, str], Resource] = field(init=False)
    _templates: dict[str, dict[str, Any]] = field(init=False)
    _exports: dict[str, tuple[str, Any]] = field(init=False)
    _refs_cache: dict[tuple[str, str], set[tuple[str, str]]] = field(init=False)

    def __post_init__(self) -> None:
        self.resources = []
        self._refs_cache = {}
        self._templates = {s.name: s.template for s in self.stacks}
        self._exports = {}
        for stack in self.stacks:
            for logical_id, raw in stack.resources.items():
                props = raw.get("Properties")
                condition = raw.get("Condition") if isinstance(raw.get("Condition"), str) else None
                if condition is not None and not self.include_conditional:
                    continue
                metadata = raw.get("Metadata") if isinstance(raw.get("Metadata"), dict) else {}
                self.resources.append(
                    Resource(stack.name, str(logical_id), raw["Type"], props if isinstance(props, dict) else {},
                             condition, metadata)
                )  # fmt: skip
            outputs = stack.template.get("Outputs")
            for output in outputs.values() if isinstance(outputs, dict) else ():
                if isinstance(output, dict) and isinstance(output.get("Export"), dict):
                    name = output["Export"].get("Name")
                    if isinstance(name, str):
                        self._exports[name] = (stack.name, output.get("Value"))
        self._by_key = {r.key: r for r in self.resources}

    def without_conditional(self) -> Inventory:
        return Inventory(self.stacks, include_conditional=False)

    # ---- lookups ----
    def of_type(self, *types: str) -> list[Resource]:
        return [r for r in self.resources if r.type in types]

    def get(self, stack: str, logical_id: str) -> Resource | None:
        return self._by_key.get((stack, logical_id))

    def stack_tags(self) -> dict[str, dict[str, str]]:
        return {s.name: s.tags for s in self.stacks if s.tags}

    # ---- references ----
    def refs(self, stack: str, value: Any, *, _depth: int = 0) -> set[tuple[str, str]]:
        """Resources (stack, logical id) that ``value`` references, following cross-stack outputs."""
        found: set[tuple[str, str]] = set()
        if _depth > 8:
            return found
        call = intrinsic(value)
        if call is not None:
            name, argument = call
            if name == "Ref" and isinstance(argument, str):
                found |= self._local(stack, argument)
                return found
            if name == "Fn::GetAtt":
                target = (
                    argument.split(".", 1)[0]
                    if isinstance(argument, str)
                    else (argument[0] if isinstance(argument, list) and argument else None)
                )
                if isinstance(target, str):
                    found |= self._local(stack, target)
                return found
            if name == "Fn::Sub":
                template = argument[0] if isinstance(argument, list) and argument else argument
                variables = (
                    argument[1]
                    if isinstance(argument, list) and len(argument) > 1 and isinstance(argument[1], dict)
                    else {}
                )
                if isinstance(template, str):
                    for variable in _SUB_VARIABLE.findall(template):
                        target = variable.split(".", 1)[0]
                        if target in variables:
                            found |= self.refs(stack, variables[target], _depth=_depth + 1)
                        else:
                            found |= self._local(stack, target)
                for item in variables.values():
                    found |= self.refs(stack, item, _depth=_depth + 1)
                return found
            if name == "Fn::GetStackOutput" and isinstance(argument, dict):
                other, output = argument.get("StackName"), argument.get("OutputName")
                template = self._templates.get(other) if isinstance(other, str) else None
                outputs = template.get("Outputs") if isinstance(template, dict) else None
                if isinstance(outputs, dict) and isinstance(output, str) and isinstance(outputs.get(output), dict):
                    found |= self.refs(str(other), outputs[output].get("Value"), _depth=_depth + 1)
                return found
            if name == "Fn::ImportValue":
                export = argument if isinstance(argument, str) else None
                if export is None:
                    rendered = render(argument)
                    export = rendered if "${" not in rendered else None
                if export is not None and export in self._exports:
                    other, exported = self._exports[export]
                    found |= self.refs(other, exported, _depth=_depth + 1)
                return found
            # any other function: look inside its arguments
            return self.refs(stack, argument, _depth=_depth + 1)
        if isinstance(value, dict):
            for item in value.values():
                found |= self.refs(stack, item, _depth=_depth + 1)
        elif isinstance(value, list):
            for item in value:
                found |= self.refs(stack, item, _depth=_depth + 1)
        return found

    def targets(self, stack: str, value: Any, *types: str) -> list[Resource]:
        """Referenced resources of the given types."""
        hits = [self._by_key[k] for k in sorted(self.refs(stack, value)) if k in self._by_key]
        return [r for r in hits if not types or r.type in types]

    def _local(self, stack: str, name: str) -> set[tuple[str, str]]:
        return {(stack, name)} if (stack, name) in self._by_key else set()

    def resource_refs(self, resource: Resource) -> set[tuple[str, str]]:
        """Everything ``resource``'s properties reference (cached)."""
        if resource.key not in self._refs_cache:
            self._refs_cache[resource.key] = self.refs(resource.stack, resource.properties)
        return self._refs_cache[resource.key]

    def referrers(self, target: Resource, *types: str) -> list[Resource]:
        """Resources (of the given types) whose properties reference ``target``."""
        return [
            r for r in self.resources
            if (not types or r.type in types) and r is not target and target.key in self.resource_refs(r)
        ]  # fmt: skip


def join_names(items: Iterable[str], limit: int = 6) -> str:
    """``a, b, c and 4 more``."""
    items = list(items)
    if len(items) <= limit:
        return ", ".join(items)
    return f"{', '.join(items[:limit])} and {len(items) - limit} more"
