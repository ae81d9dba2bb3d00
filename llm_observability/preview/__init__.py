"""Pictures of CloudWatch dashboards before deploy: each dashboard body of an assembly drawn on CloudWatch's
24-column grid as SVG (and PNG), with an index page (``llm-observability preview ASSEMBLY --out DIR``).

- :mod:`~llm_observability.preview.body`: the dashboards of a template, their intrinsics and widgets;
- :mod:`~llm_observability.preview.svg`: one dashboard as SVG; :mod:`~llm_observability.preview.png`: SVG to PNG;
- :mod:`~llm_observability.preview.command`: :func:`run`, the command's work (files written atomically).

Plain Python over the templates (no aws-cdk import), like :mod:`llm_observability.assess`.
"""

from __future__ import annotations

from llm_observability.preview.body import Dashboard, PreviewError, Widget, dashboards
from llm_observability.preview.command import Preview, previews, run
from llm_observability.preview.png import png_available, to_png
from llm_observability.preview.svg import render_svg

__all__ = [
    "Dashboard",
    "Preview",
    "PreviewError",
    "Widget",
    "dashboards",
    "png_available",
    "previews",
    "render_svg",
    "run",
    "to_png",
]
