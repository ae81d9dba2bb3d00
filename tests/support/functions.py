"""A minimal Python function for construct tests: ``inline_function(stack, id, **options)``."""

from __future__ import annotations

from typing import Any


def inline_function(stack: Any, id: str, *, log_group: bool = False, **options: Any) -> Any:
    """A Python 3.13 (unless ``runtime=``) function with inline code; ``log_group`` gives it a log group of its own
    (one month). Other ``options`` go to ``lambda_.Function``."""
    from aws_cdk import aws_lambda as lambda_
    from aws_cdk import aws_logs as logs

    if log_group:
        options["log_group"] = logs.LogGroup(stack, f"{id}Logs", retention=logs.RetentionDays.ONE_MONTH)
    return lambda_.Function(
        stack,
        id,
        runtime=options.pop("runtime", lambda_.Runtime.PYTHON_3_13),
        handler="index.handler",
        code=lambda_.Code.from_inline("def handler(event, context):\n    return {}\n"),
        **options,
    )
