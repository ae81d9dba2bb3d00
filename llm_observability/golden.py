"""``llm-observability golden propose``: new golden-set questions proposed from the feedback review set.

The feedback join (``FeedbackLoop(review_set=True)``) keeps every rated answer in an S3 review set as
``feedback/YYYY/MM/DD/<request id>.json`` (question, answer and sources as the application logged them). This
command reads the objects of the last ``--days`` days with the caller's own credentials (ListObjectsV2, GetObject;
the bucket's KMS key must allow ``kms:Decrypt``) and writes, as JSON:

- ``proposals``: highly rated answers (score >= ``--min-score``) as golden-set entries ``{id, question, reference,
  sources, from_request_id, score, prompt_version}``. A question that near-duplicates one of the golden set
  (``--golden``, default the quality canary's packaged set) is dropped; of near-duplicates among the proposals the
  best rated (then the latest) is kept. Items whose text holds a redaction token (``[EMAIL]``, ...) are skipped
  unless ``--allow-redacted``: a reference with a placeholder would score real answers down.
- ``review``: the negative ratings (score 1 or 2) with their question, answer, comment and sources, to read.
- ``skipped``: what was left out, by reason.

It never edits a golden set: a person reads the proposals and copies the ones to keep.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

from llm_observability.assess.loader import AssessError
from llm_observability.functions.feedback_loop import feedback_telemetry as ft

#: The runtime's redaction tokens (``llm_observability.runtime.redaction``).
REDACTION_TOKENS = ("[EMAIL]", "[PHONE]", "[CARD]", "[IP]", "[AWS_KEY]")
DEFAULT_PREFIX = ft.REVIEW_PREFIX
DEFAULT_DAYS = 30
DEFAULT_MIN_SCORE = 4.0
#: Word-3-shingle Jaccard similarity from which two questions are near-duplicates (the ``near_duplicate_jaccard``
#: setting's default).
NEAR_DUPLICATE_JACCARD = 0.8
MAX_DAYS = 365
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_DAY = re.compile(r"^(\d{4})/(\d{2})/(\d{2})/")
_WORD = re.compile(r"[A-Za-z0-9]+")
_GOLDEN_ID = re.compile(r"^[A-Za-z0-9-]{1,64}$")
NOTE = (
    "Proposals are not added to any golden set: read each one, fix its reference where needed, and copy the ones "
    "to keep into the golden set (functions/quality_canary/golden_set.json or your own)."
)


class GoldenError(AssessError):
    """Bad input or an AWS error of the golden command: one sentence, exit status 2."""


@dataclass(frozen=True)
class ReviewItem:
    """One review object of the feedback join."""

    key: str
    request_id: str
    rated_at: str
    score: float
    question: str | None
    answer: str | None
    comment: str | None
    model_id: str | None
    prompt_version: str | None
    sources: list[dict[str, Any]]

    @property
    def redacted(self) -> bool:
        return any(token in (text or "") for text in (self.question, self.answer) for token in REDACTION_TOKENS)


# --- Reading -------------------------------------------------------------------------------------------
def _aws_error(error: Exception) -> str:
    response = getattr(error, "response", None)
    code = response.get("Error", {}).get("Code") if isinstance(response, dict) else None
    return str(code or type(error).__name__)


def list_keys(client: Any, bucket: str, prefix: str, since: date) -> list[str]:
    """The keys under ``prefix`` of days from ``since`` on (by the key's ``YYYY/MM/DD/``, else its LastModified)."""
    keys: list[str] = []
    try:
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                key = item["Key"]
                if not key.endswith(".json"):
                    continue
                day = _DAY.match(key[len(prefix) :])
                try:
                    when = date(*map(int, day.groups())) if day else item["LastModified"].date()
                except (ValueError, AttributeError, KeyError):
                    continue
                if when >= since:
                    keys.append(key)
    except Exception as error:  # noqa: BLE001 - botocore's errors, one sentence each
        code = _aws_error(error)
        if code == "NoSuchBucket":
            raise GoldenError(f"bucket {bucket} does not exist (NoSuchBucket).") from None
        if code in ("AccessDenied", "AllAccessDisabled"):
            raise GoldenError(f"cannot list s3://{bucket}/{prefix}: access denied ({code}); the command needs "
                              "s3:ListBucket on the review set.") from None  # fmt: skip
        if code in ("NoCredentialsError", "PartialCredentialsError"):
            raise GoldenError(
                "no AWS credentials found: configure them as for the AWS CLI (AWS_PROFILE, ...)."
            ) from None
        raise GoldenError(f"cannot list s3://{bucket}/{prefix}: {code}.") from None
    return sorted(keys)


def parse_item(key: str, document: Any) -> ReviewItem | None:
    """A review object, or None when it is not one (another schema, missing or mistyped fields)."""
    if not isinstance(document, dict) or document.get("schema") != ft.REVIEW_SCHEMA:
        return None
    score, request_id = document.get("score"), document.get("request_id")
    if isinstance(score, bool) or not isinstance(score, (int, float)) or not isinstance(request_id, str):
        return None

    def text(name: str) -> str | None:
        value = document.get(name)
        return value if isinstance(value, str) and value.strip() else None

    sources = document.get("sources")
    return ReviewItem(
        key=key, request_id=request_id, rated_at=text("rated_at") or "", score=float(score),
        question=text("question"), answer=text("answer"), comment=text("comment"), model_id=text("model_id"),
        prompt_version=text("prompt_version"),
        sources=[s for s in sources if isinstance(s, dict)] if isinstance(sources, list) else [],
    )  # fmt: skip


def read_items(client: Any, bucket: str, keys: Sequence[str]) -> tuple[list[ReviewItem], Counter[str]]:
    """The review objects at ``keys``; unreadable and malformed ones counted. GoldenError when none is readable."""
    items: list[ReviewItem] = []
    skipped: Counter[str] = Counter()
    first_error = None
    for key in keys:
        try:
            body = client.get_object(Bucket=bucket, Key=key)["Body"].read()
        except Exception as error:  # noqa: BLE001 - an object we cannot read costs that object
            skipped["unreadable"] += 1
            first_error = first_error or _aws_error(error)
            continue
        try:
            item = parse_item(key, json.loads(body))
        except (ValueError, RecursionError):
            item = None
        if item is None:
            skipped["malformed"] += 1
        else:
            items.append(item)
    if keys and skipped["unreadable"] == len(keys):
        raise GoldenError(f"cannot read any of the {len(keys)} review objects in s3://{bucket} ({first_error}); the "
                          "command needs s3:GetObject and kms:Decrypt on the review set's key.")  # fmt: skip
    return items, skipped


def load_golden(path: Path | None) -> list[dict[str, Any]]:
    """The questions of a golden set (``{"questions": [{"id", "question", "reference"}, ...]}``)."""
    try:
        if path is None:
            text = resources.files("llm_observability.functions.quality_canary").joinpath("golden_set.json").read_text()
        else:
            text = path.read_text(encoding="utf-8")
        document = json.loads(text)
    except OSError as error:
        raise GoldenError(f"cannot read the golden set {path}: {error.strerror or error}.") from None
    except (ValueError, RecursionError):
        raise GoldenError(f"the golden set {path} is not valid JSON.") from None
    questions = document.get("questions") if isinstance(document, dict) else None
    if not isinstance(questions, list) or not all(isinstance(q, dict) and isinstance(q.get("question"), str)
                                                  for q in questions):  # fmt: skip
        raise GoldenError(f"the golden set {path or 'golden_set.json'} must be an object with a 'questions' list of "
                          "{id, question, reference} objects.")  # fmt: skip
    return questions


# --- Proposing ------------------------------------------------------------------------------------------
def golden_id(question: str, request_id: str, taken: set[str]) -> str:
    """A golden-set id (1-64 letters, digits, hyphens): the question's first words and a hash of the request id."""
    words = "-".join(w.lower() for w in _WORD.findall(question)[:6])[:44].strip("-") or "feedback"
    digest = hashlib.sha256(request_id.encode("utf-8")).hexdigest()
    for size in (8, 16, 64):
        candidate = f"{words}-{digest[:size]}"[:64]
        if candidate not in taken:
            return candidate
    return digest[:64]


def _rank(item: ReviewItem) -> tuple[float, str]:
    """Better first: the higher score, then the later rating (ties: the smaller request id, by sorting on it first)."""
    return item.score, item.rated_at


def propose(
    items: Iterable[ReviewItem], golden: Sequence[dict[str, Any]], *, min_score: float = DEFAULT_MIN_SCORE,
    allow_redacted: bool = False, threshold: float = NEAR_DUPLICATE_JACCARD,
) -> dict[str, Any]:  # fmt: skip
    """Golden-set proposals, the negative ratings to review, and what was skipped (by reason)."""
    from llm_observability.functions._shared.textstats import near_duplicates

    skipped: Counter[str] = Counter()
    candidates: list[ReviewItem] = []
    review: list[ReviewItem] = []
    for item in items:
        if item.score <= ft.NEGATIVE_SCORE:
            review.append(item)
        if item.score < min_score:
            continue
        if item.question is None or item.answer is None:
            skipped["no_text"] += 1
        elif item.redacted and not allow_redacted:
            skipped["redacted"] += 1
        else:
            candidates.append(item)
    golden_questions = [str(q["question"]) for q in golden]
    groups = near_duplicates([*golden_questions, *(c.question or "" for c in candidates)], threshold)
    dropped: set[int] = set()
    for group in groups:
        members = sorted(i - len(golden_questions) for i in group if i >= len(golden_questions))
        if len(members) < len(group):  # the group holds a golden question: every proposal in it repeats one
            dropped.update(members)
            skipped["duplicate_of_golden"] += len(members)
        else:
            keep = max(sorted(members, key=lambda i: candidates[i].request_id), key=lambda i: _rank(candidates[i]))
            dropped.update(m for m in members if m != keep)
            skipped["duplicate"] += len(members) - 1
    taken = {str(q.get("id")) for q in golden}
    proposals = []
    ordered = sorted(enumerate(candidates), key=lambda pair: pair[1].request_id)
    for index, item in sorted(ordered, key=lambda pair: _rank(pair[1]), reverse=True):
        if index in dropped:
            continue
        assert item.question is not None and item.answer is not None
        proposal_id = golden_id(item.question, item.request_id, taken)
        taken.add(proposal_id)
        proposals.append({
            "id": proposal_id, "question": item.question, "reference": item.answer, "sources": item.sources,
            "from_request_id": item.request_id, "score": item.score, "prompt_version": item.prompt_version,
        })  # fmt: skip
    return {
        "proposals": proposals,
        "review": [
            {
                "request_id": i.request_id,
                "rated_at": i.rated_at,
                "score": i.score,
                "comment": i.comment,
                "question": i.question,
                "answer": i.answer,
                "sources": i.sources,
                "model_id": i.model_id,
                "prompt_version": i.prompt_version,
                "key": i.key,
            }
            for i in sorted(review, key=lambda i: (i.rated_at, i.request_id))
        ],
        "skipped": dict(sorted(skipped.items())),
    }


# --- Command line -----------------------------------------------------------------------------------------
def _bucket(text: str) -> str:
    if not _BUCKET.match(text) or ".." in text:
        raise argparse.ArgumentTypeError(f"{text!r} is not an S3 bucket name: allowed are 3-63 lower-case letters, "
                                         "digits, dots and hyphens")  # fmt: skip
    return text


def _days(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= MAX_DAYS:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a number of days: allowed is a whole number from 1 to {MAX_DAYS}"
        )
    return value


def _score(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not 1 <= value <= 5:
        raise argparse.ArgumentTypeError(f"{text!r} is not a score: allowed is a number from 1 to 5")
    return value


def _prefix(text: str) -> str:
    if text.startswith("/") or len(text) > 512:
        raise argparse.ArgumentTypeError(f"{text!r} is not a key prefix: allowed is up to 512 characters, no leading /")
    return text


def add_parser(commands: Any) -> None:
    """The ``golden`` command and its ``propose`` subcommand, on the CLI's subparsers."""
    golden = commands.add_parser(
        "golden", help="golden-set proposals from the feedback review set",
        description="Golden-set work from users' feedback: 'propose' reads the review set of a FeedbackLoop.",
    )  # fmt: skip
    actions = golden.add_subparsers(dest="golden_command", metavar="{propose}", parser_class=type(golden))
    actions.required = True
    propose_parser = actions.add_parser(
        "propose", help="propose golden questions from highly rated answers; list negative ones to review",
        description="Read the feedback review set (feedback/YYYY/MM/DD/<request id>.json, written by "
        "FeedbackLoop(review_set=True)) with your credentials and write JSON: 'proposals', answers rated --min-score "
        "or more as golden-set entries (near-duplicates of the golden set or of each other dropped, text with "
        "redaction tokens skipped unless --allow-redacted); 'review', the ratings of 1 or 2 to read; 'skipped', "
        "what was left out by reason.",
        epilog="Exit status: 0 done, 2 usage, input, AWS or output error. " + NOTE,
    )  # fmt: skip
    propose_parser.add_argument("--bucket", type=_bucket, required=True, help="the review set's S3 bucket")
    propose_parser.add_argument("--prefix", type=_prefix, default=DEFAULT_PREFIX,
                                help=f"key prefix of the review objects (default: {DEFAULT_PREFIX})")  # fmt: skip
    propose_parser.add_argument("--days", type=_days, default=DEFAULT_DAYS, metavar="N",
                                help=f"read ratings of the last N days, 1-{MAX_DAYS} (default: {DEFAULT_DAYS})")  # fmt: skip
    propose_parser.add_argument("--min-score", type=_score, default=DEFAULT_MIN_SCORE, metavar="S",
                                help="propose answers rated S or more, 1-5 (default: 4)")  # fmt: skip
    propose_parser.add_argument("--golden", type=Path, default=None, metavar="PATH",
                                help="the golden set to deduplicate against (default: the quality canary's)")  # fmt: skip
    propose_parser.add_argument("-o", "--output", metavar="FILE", default=None,
                                help="write the proposals to FILE (atomically) instead of stdout")  # fmt: skip
    propose_parser.add_argument("--allow-redacted", action="store_true",
                                help="also propose items whose text holds redaction tokens such as [EMAIL]")  # fmt: skip


def propose_from_bucket(args: argparse.Namespace, client: Any, today: date) -> dict[str, Any]:
    """The command's JSON document for ``args`` (``bucket``, ``prefix``, ``days``, ...), read through ``client``."""
    golden = load_golden(args.golden)
    since = today - timedelta(days=args.days - 1)
    keys = list_keys(client, args.bucket, args.prefix, since)
    items, unread = read_items(client, args.bucket, keys)
    result = propose(items, golden, min_score=args.min_score, allow_redacted=args.allow_redacted)
    result["skipped"] = dict(sorted((Counter(result["skipped"]) + unread).items()))
    return {
        "schema": 1, "source": f"s3://{args.bucket}/{args.prefix}", "since": since.isoformat(), "days": args.days,
        "min_score": args.min_score, "golden": str(args.golden) if args.golden else "golden_set.json (packaged)",
        "objects": len(keys), **result, "note": NOTE,
    }  # fmt: skip


def run(args: argparse.Namespace, client: Any = None) -> int:
    """Run ``golden propose``; errors are one sentence (GoldenError or AssessError), never a traceback."""
    from llm_observability.assess.output import write_atomically

    try:
        if client is None:
            try:
                import boto3
            except ImportError:
                raise GoldenError("the golden command needs boto3: pip install 'cdk-llm-observability[golden]' (or boto3).") from None
            client = boto3.client("s3")
        document = propose_from_bucket(args, client, datetime.now(UTC).date())
        text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
        if args.output is None:
            sys.stdout.write(text)
        else:
            write_atomically(args.output, text)
    except AssessError:
        raise
    except Exception as error:  # noqa: BLE001 - botocore configuration errors and the unexpected: one sentence
        raise GoldenError(f"golden propose failed: {type(error).__name__}: {error}.") from None
    return 0
