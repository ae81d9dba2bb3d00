"""``python -m llm_observability.assess``: the ``llm-observability`` command line."""

import sys

from llm_observability.assess.cli import main

sys.exit(main())
