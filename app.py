#!/usr/bin/env python3
"""The bundled CDK app: `cdk synth -c level=N` builds the stacks of levels 1..N (default 1).

cdk.json runs this file with ``python3``. When that interpreter lacks the project's dependencies and the
project's virtual environment (``.venv``, made by ``make setup``) exists, the app restarts itself in it, so
``npx cdk synth``, ``cdk ls``, ``cdk diff`` and ``cdk deploy`` work right after set-up without activating
anything. Without one, it says in one sentence what to run and exits with code 3 (no traceback).
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
#: The distributions the app imports, by import name.
REQUIRED = ("aws_cdk", "constructs", "cdk_nag")
#: Exit code when no interpreter with the dependencies can be found (2 is a configuration error).
EXIT_NO_DEPENDENCIES = 3


def _venv_python() -> Path | None:
    for candidate in (VENV / "bin" / "python", VENV / "Scripts" / "python.exe"):
        if candidate.exists():
            return candidate
    return None


def _missing() -> list[str]:
    return [name for name in REQUIRED if importlib.util.find_spec(name) is None]


def ensure_dependencies() -> None:
    """Return when this interpreter can run the app; else re-run it in ``.venv`` or exit with one sentence."""
    missing = _missing()
    if not missing:
        return
    venv_python = _venv_python()
    in_venv = Path(sys.prefix).resolve() == VENV.resolve()
    if venv_python is not None and not in_venv:
        os.execv(str(venv_python), [str(venv_python), str(Path(__file__).resolve()), *sys.argv[1:]])
    where = f"the virtual environment {VENV} lacks" if in_venv else f"{sys.executable} has no"
    print(
        f"The CDK app cannot start because {where} {', '.join(missing)}: run `make setup` in {ROOT} "
        f"(or `source .venv/bin/activate` after it) and try again.",
        file=sys.stderr,
    )
    sys.exit(EXIT_NO_DEPENDENCIES)


def main() -> int:
    ensure_dependencies()
    from llm_observability.errors import ConfigError
    from llm_observability.stacks import build_app

    try:
        app = build_app()
    except ConfigError as error:
        print(f"Configuration error: {error}", file=sys.stderr)
        return 2
    app.synth()
    return 0


if __name__ == "__main__":
    sys.exit(main())
