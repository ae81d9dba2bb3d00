"""The shared text module (``functions/_shared/textstats.py``): refusals, normalisation, shingles, MinHash and
near-duplicate groups.

``textstats`` is imported as a top-level module, as the functions that ship it import it (the shared folder is on
``sys.path``, see ``conftest``). Near-duplicate groups are checked against brute force: every pair's exact Jaccard
similarity.
"""

from __future__ import annotations

import itertools
import random

import pytest
import textstats
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.functions.conftest import FUNCTIONS_DIR
from tests.support.loader import load_file

SCORING_PATH = FUNCTIONS_DIR / "quality_canary" / "scoring.py"

WORDS = [f"w{i}" for i in range(40)]
texts_strategy = st.lists(
    st.lists(st.sampled_from(WORDS[:8]), min_size=0, max_size=8).map(" ".join), min_size=0, max_size=25
)


def _brute_force_edges(texts: list[str], threshold: float) -> set[frozenset[int]]:
    sets = [textstats.shingles(t) for t in texts]
    return {
        frozenset((i, j))
        for i, j in itertools.combinations(range(len(texts)), 2)
        if sets[i] and sets[j] and textstats.jaccard(sets[i], sets[j]) >= threshold
    }


def _components(n: int, edges: set[frozenset[int]]) -> list[set[int]]:
    parent = list(range(n))

    def find(i: int) -> int:
        while parent[i] != i:
            i = parent[i]
        return i

    for edge in edges:
        a, b = sorted(edge)
        parent[find(b)] = find(a)
    groups: dict[int, set[int]] = {}
    for i in range(n):
        groups.setdefault(find(i), set()).add(i)
    return sorted((g for g in groups.values() if len(g) > 1), key=min)


# --- Refusals (moved from the canary's scoring) ----------------------------------------------------------------------
def test_the_canary_scores_refusals_with_this_module() -> None:
    scoring = load_file("textstats_test_scoring", SCORING_PATH, register=False)
    assert scoring.is_refusal is textstats.is_refusal
    assert scoring.REFUSAL_PHRASES is textstats.REFUSAL_PHRASES


@pytest.mark.parametrize(
    ("answer", "refusal"),
    [
        ("", True),
        ("   ", True),
        ("I don\u2019t know.", True),
        ("Sorry, the provided passages do  not\ncontain that.", True),
        ("The maturity model has three levels.", False),
        ("I know the answer: three.", False),
    ],
)
def test_is_refusal(answer: str, refusal: bool) -> None:
    assert textstats.is_refusal(answer) is refusal


# --- Normalisation and shingles ----------------------------------------------------------------------------------
def test_normalize_keeps_letters_digits_and_redaction_tokens() -> None:
    assert textstats.normalize("Hello, World!! 2x--3") == "hello world 2x 3"
    assert (
        textstats.normalize("Mail [EMAIL] or call [PHONE]; key [AWS_KEY].")
        == "mail [email] or call [phone] key [aws_key]"
    )
    assert textstats.normalize("Email me") != textstats.normalize("[EMAIL] me")  # the token is not the word
    assert textstats.normalize("Café naïve 数据库") == "café naïve 数据库"
    assert textstats.normalize("snake_case") == "snake case"
    assert textstats.normalize(" ?! ") == ""


@settings(max_examples=150, deadline=None, database=None)
@given(st.text(max_size=80))
def test_normalize_is_idempotent(text: str) -> None:
    once = textstats.normalize(text)
    assert textstats.normalize(once) == once
    assert once == once.strip() and "  " not in once


def test_shingles() -> None:
    assert textstats.shingles("") == frozenset()
    assert textstats.shingles("Why?") == {"why"}
    assert textstats.shingles("Why not") == {"why not"}
    assert textstats.shingles("a b c d") == {"a b c", "b c d"}
    assert textstats.shingles("A, b. C") == textstats.shingles("a b c")
    with pytest.raises(ValueError, match="at least 1 word"):
        textstats.shingles("a", k=0)


@settings(max_examples=150, deadline=None, database=None)
@given(st.lists(st.sampled_from(WORDS), min_size=3, max_size=30))
def test_a_text_of_n_words_has_at_most_n_minus_2_shingles(words: list[str]) -> None:
    assert 1 <= len(textstats.shingles(" ".join(words))) <= len(words) - 2


# --- MinHash ---------------------------------------------------------------------------------------------------------
def test_minhash_estimates_jaccard_within_0_2() -> None:
    rng = random.Random(19)
    errors = []
    for _ in range(200):
        base = [rng.choice(WORDS) for _ in range(rng.randint(6, 30))]
        other = [w if rng.random() < rng.random() else rng.choice(WORDS) for w in base]
        a, b = textstats.shingles(" ".join(base)), textstats.shingles(" ".join(other))
        estimate = textstats.estimated_jaccard(textstats.minhash(a), textstats.minhash(b))
        errors.append(abs(estimate - textstats.jaccard(a, b)))
    assert max(errors) <= 0.2
    assert sum(errors) / len(errors) < 0.06  # the standard error at 64 hashes is at most 1/16


def test_minhash_is_deterministic_and_shares_a_cache() -> None:
    shingle_set = textstats.shingles("how do I rotate the key")
    cache: dict[str, list[int]] = {}
    signature = textstats.minhash(shingle_set, cache=cache)
    assert signature == textstats.minhash(shingle_set) == textstats.minhash(shingle_set, cache=cache)
    assert len(signature) == textstats.NUM_HASHES and set(cache) == set(shingle_set)
    assert textstats.minhash(frozenset()) == (2**64 - 1,) * 64
    assert textstats.estimated_jaccard(signature, signature) == 1.0
    with pytest.raises(ValueError):
        textstats.minhash(shingle_set, num_hashes=65)
    with pytest.raises(ValueError):
        textstats.estimated_jaccard(signature, signature[:3])


# --- Near-duplicates -------------------------------------------------------------------------------------------------
def test_near_duplicates_match_brute_force_on_seeded_questions() -> None:
    rng = random.Random(7)
    texts = []
    for _ in range(120):
        words = [rng.choice(WORDS) for _ in range(rng.randint(12, 20))]
        texts.append(" ".join(words))
        if rng.random() < 0.4:  # a near-duplicate: the last word changed (Jaccard >= 0.83)
            texts.append(" ".join([*words[:-1], rng.choice(WORDS)]))
        if rng.random() < 0.1:  # an exact duplicate after normalisation
            texts.append(" ".join(words).upper() + "?")
    texts.extend(["", "  ", "?"])
    for threshold in (0.8, 0.9):
        expected = _components(len(texts), _brute_force_edges(texts, threshold))
        assert textstats.near_duplicates(texts, threshold) == expected
        assert len(expected) > 10


@settings(max_examples=75, deadline=None, database=None)
@given(texts_strategy, st.sampled_from([0.5, 0.8, 1.0]), st.randoms(use_true_random=False))
def test_near_duplicate_groups_hold_only_confirmed_pairs(
    texts: list[str], threshold: float, rng: random.Random
) -> None:
    groups = textstats.near_duplicates(texts, threshold)
    edges = _brute_force_edges(texts, threshold)
    members = [i for group in groups for i in group]
    assert len(members) == len(set(members))  # disjoint
    for group in groups:
        assert len(group) > 1
        for i in group:  # everyone has a near-duplicate in the group
            assert any(frozenset((i, j)) in edges for j in group if j != i)
    # Same normalised text: always in one group.
    forms: dict[str, list[int]] = {}
    for i, text in enumerate(texts):
        if textstats.normalize(text):
            forms.setdefault(textstats.normalize(text), []).append(i)
    for indices in forms.values():
        if len(indices) > 1:
            assert any(set(indices) <= group for group in groups)
    # Invariant under permutation.
    order = list(range(len(texts)))
    rng.shuffle(order)
    permuted = textstats.near_duplicates([texts[i] for i in order], threshold)
    assert sorted(sorted(order[i] for i in g) for g in permuted) == sorted(sorted(g) for g in groups)
    share = textstats.near_duplicate_share(texts, threshold)
    assert 0.0 <= share <= 100.0
    counted = sum(1 for t in texts if textstats.normalize(t))
    assert share == (100.0 * len(members) / counted if counted else 0.0)


def test_share_and_bad_thresholds() -> None:
    assert textstats.near_duplicate_share([], 0.8) == 0.0
    assert textstats.near_duplicate_share(["a b c", "A B C!", "x y z"], 0.8) == pytest.approx(200 / 3)
    assert textstats.near_duplicates(["one", "two"], 1.0) == []
    for bad in (0.0, -0.1, 1.01, float("nan")):
        with pytest.raises(ValueError, match="Jaccard similarity in"):
            textstats.near_duplicates(["a"], bad)
