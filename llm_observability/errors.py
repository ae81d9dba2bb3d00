"""Exceptions raised by the library."""

from __future__ import annotations


class ConfigError(ValueError):
    """A setting is invalid.

    The message is one sentence that names the setting and what is allowed, so
    ``cdk synth`` can print it as is (no stack trace) and exit non-zero.
    """
