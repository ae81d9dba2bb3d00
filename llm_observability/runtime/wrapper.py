"""Zero-code entry point: the handler the exec wrapper (``/opt/llmobs-instrument``) points ``_HANDLER`` at.

Importing it instruments boto3 from the environment (``instrument()``), imports the user's own handler
named by ``LLMOBS_ORIGINAL_HANDLER`` (``module.function`` or ``path/module.function``, as Lambda's
``_HANDLER``) and exposes it, observed, as ``handler``. The user's import errors surface at init as they
would without the wrapper; an instrumentation problem only logs.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable
from typing import Any

from . import telemetry as t
from .api import instrument, observe


def load_handler(spec: str) -> Callable[..., Any]:
    """The function ``spec`` names, imported the way the Lambda runtime imports ``_HANDLER``.

    :raises ImportError: ``spec`` is not ``module.function``, or the module or function does not exist.
    """
    module_name, dot, function_name = spec.rpartition(".")
    if not dot or not module_name or not function_name:
        raise ImportError(f"{t.ENV_RUNTIME_ORIGINAL_HANDLER} is {spec!r}: allowed is 'module.function'.")
    module = importlib.import_module(module_name.replace("/", "."))
    function = getattr(module, function_name, None)
    if not callable(function):
        raise ImportError(f"Handler '{function_name}' missing on module '{module_name}'.")
    return function


def _instrument_from_environment() -> None:
    try:
        instrument()
    except Exception as exc:  # the function must run even if instrumentation cannot start
        sys.stderr.write(f"llm_observability_runtime: instrumentation not started: {type(exc).__name__}\n")


_original = os.environ.get(t.ENV_RUNTIME_ORIGINAL_HANDLER)
if not _original:
    raise ImportError(
        f"{t.ENV_RUNTIME_ORIGINAL_HANDLER} is not set: start the function through {t.EXEC_WRAPPER_PATH} "
        f"(AWS_LAMBDA_EXEC_WRAPPER), which sets it from _HANDLER."
    )
_instrument_from_environment()
handler = observe(load_handler(_original))
"""The user's handler, observed: the Lambda entry point of zero-code use."""
