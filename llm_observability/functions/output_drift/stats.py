"""Two-sample drift statistics and the seeded daily sample, in pure Python (standard library only).

``ks``
    The two-sample Kolmogorov-Smirnov statistic ``D = max_x |F_base(x) - F_cur(x)|`` over every pooled value,
    with right-continuous empirical CDFs: exactly the ``statistic`` of ``scipy.stats.ks_2samp(base, cur)``
    (two-sided; the statistic does not depend on ``method``), a test-only oracle that is never imported here.
``psi``
    The Population Stability Index ``sum_i (a_i - e_i) * ln(a_i / e_i)`` over the baseline's decile bins: ``e_i``
    the baseline's share of bin ``i``, ``a_i`` the current day's. Bins come from the baseline's order statistics,
    so fewer than ten when the data is discrete (two for a 0/1 signal) and the index does not change under a
    strictly increasing transform of both samples. Shares are floored at ``SHARE_FLOOR`` and renormalised, so an
    empty bin gives a large but finite term. The customary reading (< 0.1 stable, 0.1-0.25 moderate, > 0.25 major)
    is a convention, not a theorem: the threshold is a setting.
"""

from __future__ import annotations

import hashlib
import math
import random
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from typing import Any

#: Least share a bin may have in the PSI (an empty bin would make ln(a/e) infinite).
SHARE_FLOOR = 1e-4
#: Bins of the PSI: the baseline's deciles.
PSI_BINS = 10


def _sorted_nonempty(values: Sequence[float], name: str) -> list[float]:
    if not values:
        raise ValueError(f"The {name} sample is empty.")
    data = [float(v) for v in values]
    if not all(math.isfinite(v) for v in data):
        raise ValueError(f"The {name} sample holds a value that is not a finite number.")
    return sorted(data)


def ks(baseline: Sequence[float], current: Sequence[float]) -> float:
    """Two-sample Kolmogorov-Smirnov statistic D (0..1) of two non-empty samples of finite numbers."""
    base = _sorted_nonempty(baseline, "baseline")
    cur = _sorted_nonempty(current, "current")
    n, m = len(base), len(cur)
    distance = 0.0
    for x in (*base, *cur):
        distance = max(distance, abs(bisect_right(base, x) / n - bisect_right(cur, x) / m))
    return distance


def ks_critical(n: int, m: int, alpha: float = 0.01) -> float:
    """The asymptotic critical value of D at level ``alpha`` for samples of ``n`` and ``m``: ``c(alpha)*sqrt((n+m)/(n*m))``
    with ``c(alpha) = sqrt(-ln(alpha/2)/2)`` (1.628 at 1%)."""
    if n < 1 or m < 1 or not 0 < alpha < 1:
        raise ValueError("The KS critical value needs two non-empty samples and a level in (0, 1).")
    return math.sqrt(-math.log(alpha / 2) / 2) * math.sqrt((n + m) / (n * m))


def bin_edges(baseline: Sequence[float], bins: int = PSI_BINS) -> list[float]:
    """Upper edges of the PSI bins: the baseline's ``i/bins`` quantiles (lower order statistics), duplicates removed.

    Bin ``0`` is ``(-inf, edges[0]]``, bin ``k`` is ``(edges[k-1], edges[k]]``, the last is ``(edges[-1], inf)``;
    the largest baseline value is never an edge, so every bin is open to the right of the data.
    """
    if bins < 2:
        raise ValueError(f"The PSI needs at least 2 bins, not {bins}.")
    data = _sorted_nonempty(baseline, "baseline")
    n = len(data)
    edges = sorted({data[max(0, math.ceil(i * n / bins) - 1)] for i in range(1, bins)})
    return [edge for edge in edges if edge < data[-1]] or [data[0]]


def shares(values: Sequence[float], edges: Sequence[float]) -> list[float]:
    """The share of ``values`` in each bin of ``edges`` (``len(edges) + 1`` bins), floored and renormalised."""
    counts = [0] * (len(edges) + 1)
    for value in values:
        counts[bisect_left(edges, value)] += 1
    total = len(values)
    if total == 0:
        raise ValueError("Shares of an empty sample are undefined.")
    floored = [max(count / total, SHARE_FLOOR) for count in counts]
    norm = sum(floored)
    return [share / norm for share in floored]


def psi_from_shares(expected: Sequence[float], actual: Sequence[float]) -> float:
    """``sum (a - e) * ln(a / e)`` of two share vectors of one length, every share positive; >= 0, symmetric."""
    if len(expected) != len(actual) or not expected:
        raise ValueError("PSI shares must be two non-empty vectors of one length.")
    if any(share <= 0 for share in (*expected, *actual)):
        raise ValueError("PSI shares must all be positive (floor them first).")
    return sum((a - e) * math.log(a / e) for e, a in zip(expected, actual, strict=True))


def psi(baseline: Sequence[float], current: Sequence[float], bins: int = PSI_BINS) -> float:
    """Population Stability Index of ``current`` against ``baseline`` over the baseline's ``bins``-quantile bins."""
    edges = bin_edges(baseline, bins)
    _sorted_nonempty(current, "current")
    return psi_from_shares(shares(baseline, edges), shares(current, edges))


def mean(values: Sequence[float]) -> float:
    """Arithmetic mean of a non-empty sample (``math.fsum``, so the order of the values does not matter)."""
    if not values:
        raise ValueError("The mean of an empty sample is undefined.")
    return math.fsum(values) / len(values)


def seeded_sample(values: Sequence[Any], k: int, seed: str) -> list[Any]:
    """At most ``k`` of ``values``, drawn without replacement by a generator seeded from ``seed``, in sorted order.

    The values are sorted before the draw, so the same multiset of values and the same seed (the service, model,
    signal and date) give the same sample whatever order the log query returned them in: a rerun of a day
    rewrites the same object.
    """
    if k < 1:
        raise ValueError(f"A sample holds at least 1 value, not {k}.")
    data = sorted(values)
    if len(data) <= k:
        return data
    rng = random.Random(int.from_bytes(hashlib.blake2b(seed.encode("utf-8"), digest_size=8).digest(), "big"))
    return sorted(rng.sample(data, k))
