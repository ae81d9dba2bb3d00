"""Load a local file in headless Chromium and report what a person would notice: console errors, network requests,
a screenshot and the page's text.

Debian's ``chromium`` and ``chromium-driver`` (``scripts/install_chromium.sh``, run by ``make tools``) driven through
Selenium's ChromeDriver client, with the explicit driver and browser paths so Selenium never downloads anything.
Without them a test that calls :func:`load_page` skips locally and fails in CI (``CI=true``), as tests/test_checkov.py
does for checkov. Console messages come from ChromeDriver's browser log, requests from its performance log
(``Network.requestWillBeSent``).

Usage::

    page = load_page(tmp_path / "report.html")
    assert page["console_errors"] == [] and page["requests"] == []
    assert not is_blank(page["screenshot"])
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = "chromium"
CHROMEDRIVER = "chromedriver"
#: URL schemes that are not network requests: the page itself, inline data, the blank page.
LOCAL_SCHEMES = ("file:", "data:", "about:", "blob:")


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def browser_paths() -> tuple[str, str]:
    """The Chromium and ChromeDriver executables; skips the test (fails it in CI) when either is missing."""
    chromium, driver = shutil.which(CHROMIUM), shutil.which(CHROMEDRIVER)
    try:
        import selenium  # noqa: F401
    except ImportError:
        chromium = None
    if chromium and driver:
        return chromium, driver
    if _in_ci():
        pytest.fail("headless Chromium is not installed; CI must run scripts/install_chromium.sh (make tools) first.")
    pytest.skip("headless Chromium, ChromeDriver or selenium is missing (run scripts/install_chromium.sh).")


def load_page(path: Path, *, width: int = 1280, height: int = 1024) -> dict[str, Any]:
    """Open ``path`` (a local file) in headless Chromium and wait for it to load.

    :param width: window width in CSS pixels. Default: 1280.
    :param height: window height in CSS pixels. Default: 1024.
    :returns: ``console_errors`` (the browser log's SEVERE messages: script errors, failed loads, console.error),
        ``requests`` (every URL the page asked for other than ``file:``, ``data:``, ``about:`` and ``blob:``),
        ``screenshot`` (PNG bytes of the window) and ``text`` (the page's visible text; an SVG document's text
        content).
    """
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    chromium, chromedriver = browser_paths()
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in (
        "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-default-apps",
        "--disable-extensions", "--hide-scrollbars", f"--window-size={width},{height}",
    ):  # fmt: skip
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    os.environ.setdefault("SE_AVOID_STATS", "true")
    driver = webdriver.Chrome(options=options, service=Service(executable_path=chromedriver))
    try:
        driver.set_page_load_timeout(30)
        driver.get(Path(path).resolve().as_uri())
        text = driver.execute_script(
            "return document.body ? document.body.innerText : (document.documentElement.textContent || '');"
        )
        screenshot = driver.get_screenshot_as_png()
        console = driver.get_log("browser")
        performance = driver.get_log("performance")
    finally:
        driver.quit()
    requests = []
    for entry in performance:
        message = json.loads(entry["message"])["message"]
        if message.get("method") == "Network.requestWillBeSent":
            url = message["params"]["request"]["url"]
            if not url.startswith(LOCAL_SCHEMES):
                requests.append(url)
    return {
        "console_errors": [e["message"] for e in console if e.get("level") == "SEVERE"],
        "requests": requests,
        "screenshot": screenshot,
        "text": text or "",
    }


# ------------------------------------------------------------------------------------------------- screenshots
def png_size(png: bytes) -> tuple[int, int]:
    """Width and height of a PNG, from its header."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and png[12:16] == b"IHDR", "not a PNG"
    width, height = struct.unpack(">II", png[16:24])
    return width, height


def png_rows(png: bytes) -> tuple[int, int, Iterator[bytes]]:
    """Width, height and the rows, decoded one by one (RGB(A) bytes, 8 bits per channel), of a non-interlaced
    PNG such as a screenshot."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, data, header = 8, b"", b""
    while pos < len(png):
        (length,) = struct.unpack(">I", png[pos : pos + 4])
        kind, body = png[pos + 4 : pos + 8], png[pos + 8 : pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            data += body
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", header)
    assert depth == 8 and colour in (2, 6) and interlace == 0, f"unsupported PNG (depth {depth}, colour {colour})"
    bpp = 3 if colour == 2 else 4
    raw, stride = zlib.decompress(data), width * bpp

    def rows() -> Iterator[bytes]:
        previous = bytearray(stride)
        for y in range(height):
            kind, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
            if kind:
                _unfilter(kind, line, previous, bpp)
            yield bytes(line)
            previous = line

    return width, height, rows()


def _unfilter(kind: int, line: bytearray, previous: bytearray, bpp: int) -> None:
    for i in range(len(line)):
        left = line[i - bpp] if i >= bpp else 0
        up, corner = previous[i], previous[i - bpp] if i >= bpp else 0
        if kind == 1:
            line[i] = (line[i] + left) & 0xFF
        elif kind == 2:
            line[i] = (line[i] + up) & 0xFF
        elif kind == 3:
            line[i] = (line[i] + (left + up) // 2) & 0xFF
        elif kind == 4:
            p = left + up - corner
            pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
            line[i] = (line[i] + (left if pa <= pb and pa <= pc else up if pb <= pc else corner)) & 0xFF


def is_blank(png: bytes, *, min_pixels: int = 100) -> bool:
    """True when fewer than ``min_pixels`` pixels differ from the commonest colour (the background).

    Stops decoding as soon as two colours each cover ``min_pixels`` (whichever is the background, the other is
    drawn on it), so a page with content is judged from its first rows.

    :param min_pixels: pixels that something drawn must cover. Default: 100 (a word of text covers several hundred).
    """
    width, _, rows = png_rows(png)
    counts: dict[bytes, int] = {}
    large: set[bytes] = set()
    for row in rows:
        bpp = len(row) // width
        for x in range(0, len(row), bpp):
            pixel = row[x : x + 3]
            counts[pixel] = counts.get(pixel, 0) + 1
            if counts[pixel] == min_pixels:
                large.add(pixel)
                if len(large) == 2:
                    return False
    return sum(counts.values()) - max(counts.values(), default=0) < min_pixels
