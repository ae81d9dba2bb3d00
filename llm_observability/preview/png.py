"""Rasterizing a preview SVG to PNG with resvg (the ``resvg-py`` binding), when it is installed.

Why resvg: it is a maintained SVG renderer (Rust; the resvg test suite is the reference for static-SVG conformance)
whose Python wheel carries the renderer itself, so it needs no system library (CairoSVG needs libcairo at run
time) and no browser (a Chromium screenshot would make a 300 MB browser a dependency of a CLI command). Its output
is deterministic for a given SVG and font set. Text uses the machine's fonts (DejaVu, Liberation, Arial, Helvetica
in that order, as the SVG names them). ``resvg-py`` comes with the ``preview`` extra
(``pip install 'cdk-llm-observability[preview]'``); without it the SVGs are still written.
"""

from __future__ import annotations

import importlib.util
import re


def png_available() -> bool:
    """True when ``resvg-py`` is importable."""
    return importlib.util.find_spec("resvg_py") is not None


#: The tallest PNG drawn at full size; a taller dashboard is scaled down to this height (memory stays bounded).
MAX_HEIGHT_PX = 16_000
_HEIGHT = re.compile(r'<svg[^>]*\sheight="(\d+)"')


def to_png(svg: str) -> bytes:
    """The SVG document ``svg`` as PNG bytes on white, at its own size up to :data:`MAX_HEIGHT_PX` pixels tall
    (ImportError without ``resvg-py``)."""
    import resvg_py

    match = _HEIGHT.search(svg)
    height = int(match.group(1)) if match else 0
    zoom = MAX_HEIGHT_PX / height if height > MAX_HEIGHT_PX else None
    return bytes(resvg_py.svg_to_bytes(svg_string=svg, background="#ffffff", zoom=zoom))
