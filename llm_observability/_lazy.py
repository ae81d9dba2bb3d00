"""PEP 562 lazy exports: a package names its public API without importing every module up front.

Importing one construct (or the assess CLI) then loads only the aws-cdk-lib modules it uses, which
keeps ``cdk synth`` of a low level and the command-line tools fast.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from importlib import import_module
from typing import Any


def lazy_exports(package: str, namespace: dict[str, Any], exports: Mapping[str, str]) -> tuple[
    Callable[[str], Any], Callable[[], list[str]]
]:  # fmt: skip
    """``__getattr__`` and ``__dir__`` for ``package`` that import ``exports[name]`` (a module) on first use."""

    def __getattr__(name: str) -> Any:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(import_module(module), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted({*namespace, *exports})

    return __getattr__, __dir__
