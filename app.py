#!/usr/bin/env python3
"""The bundled CDK app: `cdk synth -c level=N` builds the stacks of levels 1..N (default 1)."""

import sys

from llm_observability.errors import ConfigError
from llm_observability.stacks import build_app


def main() -> int:
    try:
        app = build_app()
    except ConfigError as error:
        print(f"Configuration error: {error}", file=sys.stderr)
        return 2
    app.synth()
    return 0


if __name__ == "__main__":
    sys.exit(main())
