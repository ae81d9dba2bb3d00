"""Answer-quality scores of the quality canary, in pure Python (standard library only).

Each score reproduces a reference implementation exactly, so canary numbers
can be compared with offline evaluations that use the usual packages; the
references are test-only oracles and are never imported here.

``rouge_l``
    ROUGE-L F-measure of Google's ``rouge-score`` 0.1.2,
    ``RougeScorer(["rougeL"], use_stemmer=False).score(reference, candidate)["rougeL"].fmeasure``.
``bleu``
    Sentence BLEU of ``sacrebleu`` 2.6.0,
    ``sentence_bleu(candidate, [reference]).score`` with its defaults: tokenizer
    ``13a``, case-sensitive, smoothing ``exp``, effective order, n-grams up to 4;
    on sacrebleu's 0..100 scale.
``token_f1``
    Token F1 of the official SQuAD v1.1 ``evaluate-v1.1.py`` (``f1_score``), 0..1.

``is_refusal`` (from the shared ``textstats`` module) and ``word_count`` describe the answer itself.
"""

from __future__ import annotations

import math
import re
import string
from collections import Counter
from collections.abc import Sequence

from textstats import REFUSAL_PHRASES, is_refusal  # noqa: F401 - re-exported: scoring.is_refusal

# --- ROUGE-L (rouge_score.tokenize.tokenize + rouge_scorer._score_lcs) ---------------
_ROUGE_NON_ALPHANUM = re.compile(r"[^a-z0-9]+")
_ROUGE_VALID_TOKEN = re.compile(r"^[a-z0-9]+$")


def rouge_tokens(text: str) -> list[str]:
    """Tokens as rouge-score's default tokenizer makes them without a stemmer.

    ``str.lower()`` first (full Unicode lowercasing, so e.g. the Kelvin sign
    becomes ``k``), then every run of characters outside ``[a-z0-9]`` becomes a
    space, the text is split on whitespace, and only tokens matching
    ``^[a-z0-9]+$`` are kept: accents, CJK characters and emoji vanish.
    """
    text = _ROUGE_NON_ALPHANUM.sub(" ", text.lower())
    return [token for token in text.split() if _ROUGE_VALID_TOKEN.match(token)]


def lcs_length(first: Sequence[str], second: Sequence[str]) -> int:
    """Length of the longest common subsequence of two token sequences (O(len*len) time, O(len) memory)."""
    if len(second) > len(first):
        first, second = second, first
    previous = [0] * (len(second) + 1)
    for token in first:
        current = [0]
        for j, other in enumerate(second, 1):
            current.append(previous[j - 1] + 1 if token == other else max(previous[j], current[j - 1]))
        previous = current
    return previous[-1]


def rouge_l(reference: str, candidate: str) -> float:
    """ROUGE-L F-measure (0..1) of ``candidate`` against ``reference``, as rouge-score 0.1.2 computes it.

    P = LCS / len(candidate tokens), R = LCS / len(reference tokens),
    F = 2PR / (P + R); 0 when either side has no token or P + R is 0.
    """
    reference_tokens = rouge_tokens(reference)
    candidate_tokens = rouge_tokens(candidate)
    if not reference_tokens or not candidate_tokens:
        return 0.0
    common = lcs_length(reference_tokens, candidate_tokens)
    precision = common / len(candidate_tokens)
    recall = common / len(reference_tokens)
    if precision + recall > 0:
        return 2 * precision * recall / (precision + recall)
    return 0.0


# --- BLEU (sacrebleu Tokenizer13a + BLEU.compute_bleu) ------------------------------
_MAX_NGRAM_ORDER = 4
# sacrebleu.tokenizers.tokenizer_re.TokenizerRegexp, applied in this order.
_BLEU_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"([\{-\~\[-\` -\&\(-\+\:-\@\/])"), r" \1 "),  # punctuation and symbols
    (re.compile(r"([^0-9])([\.,])"), r"\1 \2 "),  # period and comma unless preceded by a digit
    (re.compile(r"([\.,])([^0-9])"), r" \1 \2"),  # period and comma unless followed by a digit
    (re.compile(r"([0-9])(-)"), r"\1 \2 "),  # dash when preceded by a digit
)


def bleu_tokens(text: str) -> list[str]:
    """Tokens as sacrebleu's ``13a`` tokenizer (mteval-v13a) makes them, case preserved.

    ``rstrip()``; remove ``<skipped>``; join ``-\\n`` line breaks; newlines become
    spaces; unescape ``&quot; &amp; &lt; &gt;``; pad with one space each side;
    apply the four regular expressions of ``TokenizerRegexp``; split on whitespace.
    """
    line = text.rstrip().replace("<skipped>", "").replace("-\n", "").replace("\n", " ")
    if "&" in line:
        line = line.replace("&quot;", '"').replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">")
    line = f" {line} "
    for pattern, replacement in _BLEU_RULES:
        line = pattern.sub(replacement, line)
    return line.split()


def _ngrams(tokens: Sequence[str]) -> Counter[tuple[str, ...]]:
    """All n-grams of order 1.._MAX_NGRAM_ORDER with their counts."""
    return Counter(tuple(tokens[i : i + n]) for n in range(1, _MAX_NGRAM_ORDER + 1) for i in range(len(tokens) - n + 1))


def _log(value: float) -> float:
    """sacrebleu's ``my_log``: log with log(0) floored to -9999999999."""
    return -9999999999 if value == 0.0 else math.log(value)


def bleu(reference: str, candidate: str) -> float:
    """Sentence BLEU (0..100) of ``candidate`` against one ``reference``, as sacrebleu 2.6.0 computes it.

    Matches ``sacrebleu.sentence_bleu(candidate, [reference]).score``: 13a
    tokens, clipped n-gram matches for n = 1..4, brevity penalty
    exp(1 - ref_len / hyp_len) when the candidate is shorter (0 when it is
    empty), 0 when no n-gram matches at all, and otherwise the "exp" smoothing
    of mteval-v13a (the k-th order without a match gets precision
    100 / (2**k * total)) with effective order (orders the candidate is too
    short to have are left out of the geometric mean).  The arithmetic is done
    in the same order as sacrebleu, so results agree to the last bit.
    """
    hyp_tokens = bleu_tokens(candidate)
    ref_tokens = bleu_tokens(reference)
    hyp_len, ref_len = len(hyp_tokens), len(ref_tokens)
    ref_ngrams = _ngrams(ref_tokens)
    correct = [0] * _MAX_NGRAM_ORDER
    total = [0] * _MAX_NGRAM_ORDER
    for ngram, count in _ngrams(hyp_tokens).items():
        total[len(ngram) - 1] += count
        if ngram in ref_ngrams:
            correct[len(ngram) - 1] += min(count, ref_ngrams[ngram])

    brevity_penalty = 1.0
    if hyp_len < ref_len:
        brevity_penalty = math.exp(1 - ref_len / hyp_len) if hyp_len > 0 else 0.0
    if not any(correct):
        return 0.0

    precisions = [0.0] * _MAX_NGRAM_ORDER
    smooth = 1.0
    order = _MAX_NGRAM_ORDER
    for n in range(1, _MAX_NGRAM_ORDER + 1):
        if total[n - 1] == 0:
            break
        order = n
        if correct[n - 1] == 0:
            smooth *= 2
            precisions[n - 1] = 100.0 / (smooth * total[n - 1])
        else:
            precisions[n - 1] = 100.0 * correct[n - 1] / total[n - 1]
    return brevity_penalty * math.exp(sum([_log(p) for p in precisions[:order]]) / order)


# --- SQuAD v1.1 token F1 ------------------------------------------------------------
_PUNCTUATION = frozenset(string.punctuation)
_ARTICLES = re.compile(r"\b(a|an|the)\b")


def squad_normalize(text: str) -> str:
    """SQuAD v1.1 ``normalize_answer``: lowercase, drop ASCII punctuation, drop articles, collapse whitespace."""
    text = "".join(ch for ch in text.lower() if ch not in _PUNCTUATION)
    return " ".join(_ARTICLES.sub(" ", text).split())


def token_f1(reference: str, candidate: str) -> float:
    """SQuAD v1.1 token F1 (0..1): harmonic mean of bag-of-token precision and recall after normalization.

    As in ``evaluate-v1.1.py``, the score is 0 when no token is shared,
    including when either side is empty after normalization.
    """
    candidate_tokens = squad_normalize(candidate).split()
    reference_tokens = squad_normalize(reference).split()
    common = sum((Counter(candidate_tokens) & Counter(reference_tokens)).values())
    if common == 0:
        return 0.0
    precision = 1.0 * common / len(candidate_tokens)
    recall = 1.0 * common / len(reference_tokens)
    return (2 * precision * recall) / (precision + recall)


# --- Answer properties ----------------------------------------------------------------
# ``is_refusal`` and its phrases live in the shared ``textstats`` module (copied beside this file in the
# canary's asset), so the canary and the drift function judge refusals with one source.


def word_count(text: str) -> int:
    """Number of whitespace-separated words."""
    return len(text.split())
