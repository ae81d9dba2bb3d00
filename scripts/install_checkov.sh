#!/usr/bin/env bash
# Install checkov into its own virtual environment, .tools/checkov (it pins boto3 and packaging versions that
# conflict with the project's). tests/test_checkov.py runs .tools/checkov/bin/checkov over the synthesized
# templates. Idempotent: does nothing when the pinned version is there.
set -euo pipefail
cd "$(dirname "$0")/.."

VERSION="3.3.30"
VENV=".tools/checkov"

if [ -x "${VENV}/bin/checkov" ] && [ "$("${VENV}/bin/checkov" --version 2>/dev/null)" = "${VERSION}" ]; then
  exit 0
fi
rm -rf "${VENV}"
python3 -m venv "${VENV}"
"${VENV}/bin/pip" install --quiet --disable-pip-version-check "checkov==${VERSION}"
"${VENV}/bin/checkov" --version
