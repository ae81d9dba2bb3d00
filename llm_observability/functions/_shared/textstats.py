"""Text properties shared by the Lambda functions: refusals, normalised text, shingles, MinHash, near-duplicates.

One source file, copied into the asset of each function that uses it (the function builder's
``shared=("textstats",)``), where the handler imports it as a sibling: ``import textstats``. Standard library only.

Near-duplicates follow the usual shingling -> MinHash -> banding pipeline (Leskovec, Rajaraman and Ullman,
*Mining of Massive Datasets*, chapter 3; the same steps as R's ``textreuse``):

1. :func:`normalize`: lowercase, every run of characters that are not letters or digits becomes one space; the
   runtime's redaction tokens (``[EMAIL]``, ``[PHONE]``, ...) stay whole tokens, so two questions that differ only
   in a redacted e-mail address stay near-duplicates and ``[EMAIL]`` is not the word "email".
2. :func:`shingles`: word 3-shingles; a text of 1 or 2 words is its own single shingle.
3. :func:`minhash`: 64 hashes, the ``i``-th the minimum over the shingles of ``blake2b(shingle, digest_size=8,
   salt=i)`` read as an unsigned integer. Two texts share any one of them with probability equal to their
   Jaccard similarity.
4. :func:`near_duplicates`: Locality-Sensitive Hashing with 16 bands of 4 rows proposes candidate pairs (a pair
   of similarity ``s`` shares a band with probability ``1 - (1 - s**4)**16``: 0.9998 at 0.8, 0.08 at 0.3); the
   exact Jaccard similarity of the shingle sets confirms each pair, so there are no false positives.
"""

from __future__ import annotations

import hashlib
import re
from collections import defaultdict
from collections.abc import Collection, Iterable, Sequence

# --- Refusals -------------------------------------------------------------------------------------------------------
#: Phrases that mark an answer as a refusal, compared with the answer lowercased,
#: typographic apostrophes straightened and whitespace collapsed.  The RAG prompt
#: tells the model to "say that you do not know" when the passages lack the answer.
REFUSAL_PHRASES: tuple[str, ...] = (
    "i don't know",
    "i do not know",
    "i don't have enough information",
    "i do not have enough information",
    "i don't have information",
    "i do not have information",
    "i cannot answer",
    "i can't answer",
    "i am unable to answer",
    "i'm unable to answer",
    "i am not able to answer",
    "i'm not able to answer",
    "cannot answer from the provided passages",
    "cannot be answered from the provided passages",
    "cannot be answered from the passages",
    "the passages do not contain",
    "the passages don't contain",
    "the provided passages do not contain",
    "the provided passages don't contain",
    "the passages do not mention",
    "the passages do not provide",
    "the provided passages do not provide",
    "no passages were found",
    "not enough information to answer",
)


def is_refusal(answer: str) -> bool:
    """Whether the answer declines to answer: empty, or containing one of ``REFUSAL_PHRASES``."""
    text = " ".join(answer.lower().replace("\u2019", "'").replace("\u2018", "'").split())
    return not text or any(phrase in text for phrase in REFUSAL_PHRASES)


# --- Normalised text and shingles -----------------------------------------------------------------------------------
#: The runtime's redaction tokens (``llm_observability.runtime.redaction``), lowercased: kept whole by ``normalize``.
REDACTION_TOKENS: tuple[str, ...] = ("[email]", "[phone]", "[card]", "[ip]", "[aws_key]")
_TOKEN = re.compile(r"\[(?:email|phone|card|ip|aws_key)\]|[^\W_]+")
#: Words per shingle.
SHINGLE_WORDS = 3


def normalize(text: str) -> str:
    """``text`` lowercased, with letters and digits (any script) kept, redaction tokens kept, all else one space."""
    return " ".join(_TOKEN.findall(text.lower()))


def shingles(text: str, k: int = SHINGLE_WORDS) -> frozenset[str]:
    """The word ``k``-shingles of the normalised ``text``; a text of fewer than ``k`` words is one shingle; none if empty."""
    if k < 1:
        raise ValueError(f"A shingle has at least 1 word, not {k}.")
    words = normalize(text).split()
    if not words:
        return frozenset()
    if len(words) < k:
        return frozenset({" ".join(words)})
    return frozenset(" ".join(words[i : i + k]) for i in range(len(words) - k + 1))


def jaccard(first: Collection[str], second: Collection[str]) -> float:
    """Exact Jaccard similarity ``|A ∩ B| / |A ∪ B|`` of two sets; 1.0 for two empty sets."""
    a, b = set(first), set(second)
    union = len(a | b)
    return 1.0 if union == 0 else len(a & b) / union


# --- MinHash --------------------------------------------------------------------------------------------------------
NUM_HASHES = 64
BANDS = 16
ROWS = 4
_MAX_HASH = (1 << 64) - 1
#: One keyed BLAKE2b state per hash index (salt = the index, little-endian, 16 bytes); copied per shingle.
_HASHERS = tuple(hashlib.blake2b(digest_size=8, salt=i.to_bytes(16, "little")) for i in range(NUM_HASHES))


def _shingle_hashes(shingle: str) -> list[int]:
    data = shingle.encode("utf-8")
    values = []
    for base in _HASHERS:
        hasher = base.copy()
        hasher.update(data)
        values.append(int.from_bytes(hasher.digest(), "little"))
    return values


def minhash(
    shingle_set: Iterable[str], num_hashes: int = NUM_HASHES, *, cache: dict[str, list[int]] | None = None
) -> tuple[int, ...]:
    """The MinHash signature of a shingle set: per hash index ``i``, the least ``blake2b(shingle, salt=i)``.

    An empty set gives ``2**64 - 1`` everywhere. ``cache`` (shingle -> its hashes) saves rehashing shingles that
    several texts share.
    """
    if not 1 <= num_hashes <= NUM_HASHES:
        raise ValueError(f"The number of hashes is 1 to {NUM_HASHES}, not {num_hashes}.")
    signature = [_MAX_HASH] * num_hashes
    for shingle in shingle_set:
        values = cache.get(shingle) if cache is not None else None
        if values is None:
            values = _shingle_hashes(shingle)
            if cache is not None:
                cache[shingle] = values
        for i in range(num_hashes):
            if values[i] < signature[i]:
                signature[i] = values[i]
    return tuple(signature)


def estimated_jaccard(first: Sequence[int], second: Sequence[int]) -> float:
    """The share of hash positions where two MinHash signatures agree: an unbiased estimate of Jaccard similarity."""
    if len(first) != len(second) or not first:
        raise ValueError("Signatures to compare must have the same, non-zero length.")
    return sum(1 for a, b in zip(first, second, strict=True) if a == b) / len(first)


# --- Near-duplicates ------------------------------------------------------------------------------------------------
def _find(parent: list[int], i: int) -> int:
    while parent[i] != i:
        parent[i] = parent[parent[i]]
        i = parent[i]
    return i


def near_duplicates(texts: Sequence[str], threshold: float) -> list[set[int]]:
    """Groups (indices into ``texts``) of texts linked by a chain of near-duplicate pairs, each group of 2 or more.

    A pair is near-duplicate when the exact Jaccard similarity of their word shingles is at least ``threshold``
    (texts with the same normalised form always are). Every member of a group therefore has at least one
    near-duplicate among the others. Texts with no word are in no group. Groups are ordered by their least index,
    each is a ``set``. Candidates come from MinHash LSH (16 bands x 4 rows), so a pair just above a low threshold
    may be missed (at 0.5: 1 in 1,000,000 pairs); a pair below the threshold is never reported.
    """
    if not 0.0 < threshold <= 1.0:
        raise ValueError(f"The near-duplicate threshold is a Jaccard similarity in (0, 1], not {threshold}.")
    # Identical normalised texts are one entry: their duplicates are certain and cost no hashing.
    by_form: dict[str, list[int]] = defaultdict(list)
    for index, text in enumerate(texts):
        form = normalize(text)
        if form:
            by_form[form].append(index)
    forms = list(by_form)
    sets = [shingles(form) for form in forms]
    parent = list(range(len(forms)))
    cache: dict[str, list[int]] = {}
    buckets: dict[tuple[int, tuple[int, ...]], list[int]] = defaultdict(list)
    for position, shingle_set in enumerate(sets):
        signature = minhash(shingle_set, cache=cache)
        for band in range(BANDS):
            buckets[(band, signature[band * ROWS : (band + 1) * ROWS])].append(position)
    for members in buckets.values():
        for i, first in enumerate(members):
            for second in members[i + 1 :]:
                root_a, root_b = _find(parent, first), _find(parent, second)
                if root_a != root_b and jaccard(sets[first], sets[second]) >= threshold:
                    parent[root_b] = root_a
    groups: dict[int, set[int]] = defaultdict(set)
    for position, form in enumerate(forms):
        groups[_find(parent, position)].update(by_form[form])
    return sorted((group for group in groups.values() if len(group) > 1), key=min)


def near_duplicate_share(texts: Sequence[str], threshold: float) -> float:
    """Percent (0-100) of the texts with a word that have at least one near-duplicate among the others; 0 if none."""
    counted = sum(1 for text in texts if normalize(text))
    if counted == 0:
        return 0.0
    return 100.0 * sum(len(group) for group in near_duplicates(texts, threshold)) / counted
