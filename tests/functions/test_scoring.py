"""Answer-quality scores of the quality canary (functions/quality_canary/scoring.py).

``scoring`` must agree with the reference implementations it reproduces:
Google's ``rouge-score`` (ROUGE-L), ``sacrebleu`` (sentence BLEU) and the
official SQuAD v1.1 evaluation script (token F1, transcribed below).  The
first two are dev-only dependencies used here as oracles; the Lambda never
imports them.  The corpus mixes hand-written edge cases with seeded random
pairs built to reach every tokenizer rule and every BLEU branch.
"""

from __future__ import annotations

import math
import random
import re
import string
from collections import Counter
from pathlib import Path

import pytest
import sacrebleu
from rouge_score import rouge_scorer

from tests.support.loader import load_file

SCORING_PATH = Path(__file__).resolve().parents[2] / "llm_observability" / "functions" / "quality_canary" / "scoring.py"
TOLERANCE = 1e-6


scoring = load_file("quality_canary_scoring", SCORING_PATH)


# --- Oracles -----------------------------------------------------------------------------
_ROUGE = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False)


def oracle_rouge_l(reference: str, candidate: str) -> float:
    return _ROUGE.score(reference, candidate)["rougeL"].fmeasure


def oracle_bleu(reference: str, candidate: str) -> float:
    return sacrebleu.sentence_bleu(candidate, [reference]).score


# Transcription of f1_score / normalize_answer of the official SQuAD v1.1 evaluate-v1.1.py.
def squad_normalize_answer(s: str) -> str:
    def remove_articles(text: str) -> str:
        return re.sub(r"\b(a|an|the)\b", " ", text)

    def white_space_fix(text: str) -> str:
        return " ".join(text.split())

    def remove_punc(text: str) -> str:
        exclude = set(string.punctuation)
        return "".join(ch for ch in text if ch not in exclude)

    def lower(text: str) -> str:
        return text.lower()

    return white_space_fix(remove_articles(remove_punc(lower(s))))


def squad_f1_score(prediction: str, ground_truth: str) -> float:
    prediction_tokens = squad_normalize_answer(prediction).split()
    ground_truth_tokens = squad_normalize_answer(ground_truth).split()
    common = Counter(prediction_tokens) & Counter(ground_truth_tokens)
    num_same = sum(common.values())
    if num_same == 0:
        return 0
    precision = 1.0 * num_same / len(prediction_tokens)
    recall = 1.0 * num_same / len(ground_truth_tokens)
    f1 = (2 * precision * recall) / (precision + recall)
    return f1


# --- Corpus ------------------------------------------------------------------------------
LONG = " ".join(f"Passage {i} says latency, tokens and cost (p{i % 100}) matter." for i in range(60))
HAND_WRITTEN: list[tuple[str, str]] = [
    # identical, empty, whitespace only
    ("The cat sat on the mat.", "The cat sat on the mat."),
    ("Three levels: Foundation, Proactive and AIOps.", "Three levels: Foundation, Proactive and AIOps."),
    ("AWS X-Ray traces requests end to end.", ""),
    ("", "AWS X-Ray traces requests end to end."),
    ("", ""),
    ("   ", " \t\n "),
    ("With AWS KMS.", "   "),
    # no overlap, partial overlap, reordering
    ("alpha beta gamma", "delta epsilon zeta"),
    ("The Converse API.", "It uses the Converse API of Amazon Bedrock [1]."),
    ("In Amazon S3 Vectors.", "The vectors live in Amazon S3 Vectors [2]."),
    ("p50, p90 and p99.", "Percentiles such as p50, p90 and p99 show the tail [3]."),
    ("a b c d e f", "f e d c b a"),
    ("one two three four five", "one two four three five"),
    ("the cat sat on the mat", "the cat on the mat"),
    ("a b c d e", "a b x d"),
    # punctuation-heavy and symbols
    ("Hello, world! (Really?) Yes: no; maybe...", "hello world really yes no maybe"),
    ("!!! ??? ... ,,, ;;; :::", "!?.,;:"),
    ("{json: [1, 2, 3]} <tag/> `code` ~tilde~ ^caret^ |pipe| \\back\\", "json 1 2 3 tag code tilde caret pipe back"),
    ("She said \"yes\" & he said 'no'.", "She said &quot;yes&quot; &amp; he said 'no'."),
    ("a &lt;b&gt; c", "a <b> c"),
    ("x&amp;y", "x&y"),
    ("5 < 6 > 4 = true", "5<6>4=true"),
    ("#hashtag @mention $100 50% *bold* _under_ +plus", "hashtag mention 100 50 bold under plus"),
    # numbers
    ("It costs 1,000.50 dollars in 2024.", "It costs 1,000.50 dollars in 2024 ."),
    ("Version 3.14.15 released on 2024-05-01.", "version 3 14 15 released on 2024 05 01"),
    ("Pages 10-20 and 30 - 40.", "pages 10 - 20 and 30-40"),
    ("Scores 1 to 5.", "A score from 1 to 5, using the request id of the answer."),
    ("0.5,0.25,.75", "0.5, 0.25, .75"),
    ("-1 -2.5 +3", "minus 1 minus 2.5 plus 3"),
    # contractions and apostrophes
    ("I don't know.", "I do not know."),
    ("It's the model's answer; they're sure.", "its the models answer theyre sure"),
    ("can't won't shouldn't", "can not will not should not"),
    (
        "It\u2019s typographic \u2018quotes\u2019 and \u201cdouble\u201d ones.",
        "It's typographic 'quotes' and \"double\" ones.",
    ),
    # repeated words
    ("the the the the", "the"),
    ("the", "the the the the the the the"),
    ("cat cat dog dog cat", "dog cat cat dog"),
    ("a a a b b b", "a b a b a b"),
    # very long
    (LONG, LONG),
    (LONG, LONG[: len(LONG) // 2]),
    (LONG, " ".join(reversed(LONG.split()))),
    # single word
    ("Yes", "yes"),
    ("Yes", "Yes"),
    ("Yes.", "No."),
    ("Amazon", "Amazon DevOps Guru"),
    # hyphenated
    ("state-of-the-art self-healing run-books", "state of the art self healing run books"),
    ("Retry-After header", "Retry After header"),
    ("end-to-end", "end-to-end"),
    ("well-known -- dashes - here", "well-known — dashes – here"),
    ("line broken hy-\nphen here", "line broken hyphen here"),
    # URLs, e-mails, paths
    ("See https://docs.aws.amazon.com/bedrock/latest/userguide/a.html?x=1&y=2#frag", "see docs aws amazon com bedrock"),
    ("s3://docs/refunds.md", "s3 docs refunds md"),
    ("mail oncall@example.com now", "mail oncall at example.com now"),
    ("C:\\path\\to\\file.txt and /var/task/handler.py", "C path to file txt and var task handler py"),
    # mixed case
    ("AWS Security Hub and AWS Config.", "aws security hub and aws config."),
    ("AIOps DevOps CodeGuru", "aiops devops codeguru"),
    ("MiXeD CaSe WoRdS", "mixed case words"),
    # tabs, newlines and other whitespace
    ("first\tsecond\nthird\r\nfourth", "first second third fourth"),
    ("trailing spaces   \n\t", "trailing spaces"),
    ("non\u00a0breaking\u2009thin\u3000ideographic", "non breaking thin ideographic"),
    ("line\u2028separator\u0085next", "line separator next"),
    ("<skipped> words <skipped>", "words"),
    # unicode, accents, other scripts
    ("Café naïve résumé façade", "Cafe naive resume facade"),
    ("Straße und Öl über Äpfel", "strasse und ol uber apfel"),
    ("\u0130stanbul KELVIN \u212a sign", "istanbul kelvin k sign"),
    ("ﬁne ligature ﬀ", "fine ligature ff"),
    ("１２３ fullwidth ＡＢＣ", "123 fullwidth ABC"),
    ("Ελληνικά κείμενα και русский текст", "Ελληνικά κείμενα"),
    ("مرحبا بالعالم", "مرحبا"),
    # CJK
    ("数据库在亚马逊云上运行", "数据库在亚马逊云上运行"),
    ("東京 は 日本 の 首都 です", "東京は日本の首都です"),
    ("한국어 문장 입니다", "한국어 문장"),
    ("Bedrock 模型 latency 延迟", "bedrock model latency"),
    # emoji
    ("Great answer 🙂👍🏽", "Great answer"),
    ("🚀🚀🚀", "🚀"),
    ("family 👨‍👩‍👧 flag 🇪🇺 done", "family flag done"),
    # answer-shaped pairs
    ("AWS Systems Manager.", "AWS Systems Manager enhances incident handling [1]."),
    ("Amazon DevOps Guru.", "I don't know: the provided passages do not say."),
    ("With HTTP 429 and a Retry-After header.", "It answers with HTTP 429 and a Retry-After header [4]."),
]

# fmt: off
_WORDS = (
    "the", "a", "an", "of", "and", "to", "in", "is", "are", "was", "latency", "tokens", "cost", "model", "prompt",
    "answer", "question", "passage", "Amazon", "Bedrock", "AWS", "Lambda", "X-Ray", "CloudWatch", "metric", "alarm",
    "p50", "p90", "p99", "3.14", "1,000", "2024-05-01", "10-20", "don't", "it's", "state-of-the-art", "end-to-end",
    "café", "naïve", "Straße", "İstanbul", "数据库", "東京", "🙂", "👍🏽", "https://example.com/a?b=c&d=e", "e-mail", "x&y",
    "&amp;", "&quot;", "<b>", "(note)", "[1]", "{k}", "50%", "$5", "#tag", "@user", "...", ",", ".", ";", ":", "!",
    "?", "-", "--", "'", '"', "Retry-After", "HTTP/1.1", "v1", "v2", "ROUGE-L", "BLEU", "AIOps", "ＡＢＣ",
)
# fmt: on
_SEPARATORS = (" ", " ", " ", " ", "  ", "\t", "\n", ", ", ". ", "-", "\u00a0")


def _sentence(rng: random.Random, length: int) -> str:
    parts = []
    for _ in range(length):
        word = rng.choice(_WORDS)
        if rng.random() < 0.15:
            word = word.upper() if rng.random() < 0.5 else word.capitalize()
        parts.extend((word, rng.choice(_SEPARATORS)))
    return "".join(parts[:-1]) if parts else ""


def _mutate(rng: random.Random, text: str) -> str:
    """A candidate that shares some n-grams with the reference: drop, duplicate, swap, insert, truncate."""
    tokens = text.split(" ")
    operation = rng.randrange(6)
    if operation == 0 and tokens:
        del tokens[rng.randrange(len(tokens))]
    elif operation == 1 and tokens:
        i = rng.randrange(len(tokens))
        tokens.insert(i, tokens[i])
    elif operation == 2 and len(tokens) > 1:
        i, j = rng.sample(range(len(tokens)), 2)
        tokens[i], tokens[j] = tokens[j], tokens[i]
    elif operation == 3:
        tokens.insert(rng.randrange(len(tokens) + 1), rng.choice(_WORDS))
    elif operation == 4:
        tokens = tokens[: rng.randrange(len(tokens) + 1)]
    else:
        rng.shuffle(tokens)
    return " ".join(tokens)


def _generated(count: int, seed: int = 20240607) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    pairs = []
    for _ in range(count):
        reference = _sentence(rng, rng.choice((0, 1, 2, 3, 5, 8, 13, 21, 40)))
        kind = rng.random()
        if kind < 0.6:
            candidate = reference
            for _ in range(rng.randrange(1, 4)):
                candidate = _mutate(rng, candidate)
        elif kind < 0.8:
            candidate = _sentence(rng, rng.randrange(0, 25))
        else:
            candidate = reference if rng.random() < 0.5 else reference.lower()
        pairs.append((reference, candidate))
    return pairs


GENERATED = _generated(400)
CORPUS = HAND_WRITTEN + GENERATED
# Both directions: every text is a reference and a candidate.
BIDIRECTIONAL = CORPUS + [(candidate, reference) for reference, candidate in CORPUS]


def _max_difference(ours, oracle) -> tuple[float, list[tuple[str, str, float, float]]]:
    worst = 0.0
    mismatches = []
    for reference, candidate in BIDIRECTIONAL:
        expected, actual = oracle(reference, candidate), ours(reference, candidate)
        difference = abs(expected - actual)
        worst = max(worst, difference)
        if not difference <= TOLERANCE:
            mismatches.append((reference, candidate, expected, actual))
    return worst, mismatches


def test_corpus_is_varied() -> None:
    assert len(CORPUS) >= 200
    rouge = [oracle_rouge_l(r, c) for r, c in CORPUS]
    bleu = [oracle_bleu(r, c) for r, c in CORPUS]
    # Every regime is exercised: zero, perfect and partial scores.
    for values, top in ((rouge, 1.0), (bleu, 100.0)):
        assert sum(v == 0 for v in values) >= 20
        assert sum(math.isclose(v, top) for v in values) >= 20
        assert sum(0 < v < top * 0.999 for v in values) >= 100


def test_rouge_l_matches_rouge_score() -> None:
    worst, mismatches = _max_difference(scoring.rouge_l, oracle_rouge_l)
    assert not mismatches, f"{len(mismatches)} mismatches, first: {mismatches[:3]}"
    assert worst <= TOLERANCE


def test_bleu_matches_sacrebleu() -> None:
    worst, mismatches = _max_difference(scoring.bleu, oracle_bleu)
    assert not mismatches, f"{len(mismatches)} mismatches, first: {mismatches[:3]}"
    assert worst <= TOLERANCE


def test_token_f1_matches_squad_v11() -> None:
    worst, mismatches = _max_difference(scoring.token_f1, lambda r, c: squad_f1_score(c, r))
    assert not mismatches, f"{len(mismatches)} mismatches, first: {mismatches[:3]}"
    assert worst <= TOLERANCE


def test_tokenizers_match_the_references() -> None:
    from rouge_score import tokenize
    from sacrebleu.tokenizers.tokenizer_13a import Tokenizer13a

    bleu_tokenizer = Tokenizer13a()
    texts = {text for pair in CORPUS for text in pair}
    for text in texts:
        assert scoring.rouge_tokens(text) == tokenize.tokenize(text, None), text
        assert scoring.bleu_tokens(text) == bleu_tokenizer(text.rstrip()).split(), text
        assert scoring.squad_normalize(text) == squad_normalize_answer(text), text


# --- Hand-computed values ------------------------------------------------------------------
def test_rouge_l_hand_computed() -> None:
    # LCS("the cat sat on the mat", "the cat on the mat") = 5: P = 5/5, R = 5/6.
    assert scoring.rouge_l("the cat sat on the mat", "the cat on the mat") == pytest.approx(10 / 11, abs=1e-12)
    assert scoring.rouge_l("A b C", "a, B; c!") == 1.0
    assert scoring.rouge_l("café", "cafe") == 0.0  # "café" -> tokens "caf"; "cafe" -> "cafe"
    assert scoring.rouge_l("数据库", "数据库") == 0.0  # no [a-z0-9] token at all
    assert scoring.rouge_l("", "anything") == 0.0
    assert scoring.rouge_tokens("Don't re-use HTTP/1.1!") == ["don", "t", "re", "use", "http", "1", "1"]


def test_bleu_hand_computed() -> None:
    # ref "a b c d e", hyp "a b x d": 1-grams 3/4, 2-grams 1/3, 3-grams 0/2 -> 100/(2*2),
    # 4-grams 0/1 -> 100/(4*1); brevity penalty exp(1 - 5/4).
    expected = math.exp(1 - 5 / 4) * (75 * (100 / 3) * 25 * 25) ** 0.25
    assert scoring.bleu("a b c d e", "a b x d") == pytest.approx(expected, abs=1e-9)
    assert scoring.bleu("The cat sat on the mat.", "The cat sat on the mat.") == pytest.approx(100.0, abs=1e-9)
    # Effective order: a two-token candidate is scored on 1- and 2-grams only.
    assert scoring.bleu("a b", "a b") == pytest.approx(100.0, abs=1e-9)
    assert scoring.bleu("x y z", "") == 0.0
    assert scoring.bleu("", "x y z") == 0.0
    assert scoring.bleu("Yes", "yes") == 0.0  # case-sensitive
    assert scoring.bleu_tokens("It costs 1,000.50 (USD), see 10-20.") == [
        "It", "costs", "1,000.50", "(", "USD", ")", ",", "see", "10", "-", "20", ".",
    ]  # fmt: skip


def test_token_f1_hand_computed() -> None:
    # "quick brown fox" vs "quick fox": 2 common tokens, P = 2/2, R = 2/3, F1 = 0.8.
    assert scoring.token_f1("The quick brown fox", "a quick fox!") == pytest.approx(0.8, abs=1e-12)
    assert scoring.token_f1("With AWS KMS.", "with aws kms") == 1.0
    assert scoring.token_f1("an the a", "the") == 0.0  # nothing left after removing articles
    assert scoring.token_f1("", "") == 0.0  # SQuAD v1.1: no common token, no credit
    # Bag of tokens: repeated tokens count up to their multiplicity on the other side.
    assert scoring.token_f1("cat cat dog", "cat dog dog") == pytest.approx(2 / 3, abs=1e-12)


@pytest.mark.parametrize(
    "answer",
    [
        "I don't know.",
        "I do not know the answer based on the passages.",
        "I DON\u2019T KNOW",
        "Sorry, I cannot answer from the provided passages.",
        "The provided passages do not contain information about that.",
        "The passages don't contain the answer.",
        "I'm unable to answer this question.",
        "",
        "   ",
    ],
)
def test_refusals(answer: str) -> None:
    assert scoring.is_refusal(answer)


@pytest.mark.parametrize(
    "answer",
    [
        "AWS X-Ray traces requests end to end [1].",
        "Users know the request id of each answer.",
        "The answer is 42.",
    ],
)
def test_answers_are_not_refusals(answer: str) -> None:
    assert not scoring.is_refusal(answer)


def test_refusal_phrases_are_normalized() -> None:
    for phrase in scoring.REFUSAL_PHRASES:
        assert phrase == " ".join(phrase.lower().split())
        assert scoring.is_refusal(f"Well, {phrase.upper()} here.")


def test_word_count() -> None:
    assert scoring.word_count("") == 0
    assert scoring.word_count("  one\ttwo\nthree  ") == 3
    assert scoring.word_count("AWS X-Ray [1].") == 3
