"""``llm-observability golden propose`` against a stubbed S3 client (botocore Stubber, no network).

The review objects are the ones the feedback join writes (``review_object`` of ``functions/feedback_loop``);
near-duplicates come from ``functions/_shared/textstats``.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from io import BytesIO
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber
from hypothesis import given, settings
from hypothesis import strategies as st

from llm_observability import golden
from llm_observability.assess import cli
from llm_observability.assess.loader import AssessError
from tests.conftest import OFFLINE_AWS_ENV

BUCKET = "review-set-bucket"
TODAY = datetime.now(UTC).date()
GOLDEN = {"questions": [
    {"id": "level1-tracing", "question": "At Level 1, which service traces requests end to end?",
     "reference": "AWS X-Ray."},
    {"id": "refunds", "question": "How long do refunds take after a purchase?", "reference": "30 days."},
]}  # fmt: skip


def review(request_id: str, score: float, question: str | None, answer: str | None = "An answer [1].",
           day: date = TODAY, **extra: Any) -> dict[str, Any]:  # fmt: skip
    document = {"schema": 1, "request_id": request_id, "rated_at": f"{day.isoformat()}T10:00:00Z", "score": score,
                "model_id": "amazon.nova-lite-v1:0", "prompt_version": "v3", "question": question, "answer": answer,
                "comment": None, "sources": [{"id": "s3://docs/a.md", "score": 0.8, "excerpt": "..."}],
                "prompt_logging": "redacted", **extra}  # fmt: skip
    return {k: v for k, v in document.items() if v is not None or k == "comment"}


def key(document: dict[str, Any], day: date = TODAY) -> str:
    return f"feedback/{day:%Y/%m/%d}/{document['request_id']}.json"


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, Stubber]]:
    for name, value in OFFLINE_AWS_ENV.items():
        monkeypatch.setenv(name, value)
    client = boto3.client("s3", region_name="us-east-1")
    with Stubber(client) as stub:
        yield client, stub
        stub.assert_no_pending_responses()


def stub_bucket(stub: Stubber, objects: dict[str, Any], *, listed_extra: list[str] = ()) -> None:
    contents = [
        {"Key": k, "LastModified": datetime(2020, 1, 1, tzinfo=UTC), "Size": 1} for k in [*objects, *listed_extra]
    ]
    stub.add_response("list_objects_v2", {"Contents": contents, "IsTruncated": False, "KeyCount": len(contents)},
                      {"Bucket": BUCKET, "Prefix": "feedback/"})  # fmt: skip
    for name, document in sorted(objects.items()):  # the command reads keys in order
        raw = document if isinstance(document, bytes) else json.dumps(document).encode()
        stub.add_response(
            "get_object", {"Body": StreamingBody(BytesIO(raw), len(raw))}, {"Bucket": BUCKET, "Key": name}
        )


def args(*extra: str, golden_path: Path | None = None) -> argparse.Namespace:
    argv = ["golden", "propose", "--bucket", BUCKET, *extra]
    if golden_path is not None:
        argv += ["--golden", str(golden_path)]
    return cli.build_parser().parse_args(argv)


@pytest.fixture
def golden_path(tmp_path: Path) -> Path:
    path = tmp_path / "golden_set.json"
    path.write_text(json.dumps(GOLDEN))
    return path


def run(client: Any, namespace: argparse.Namespace, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    assert golden.run(namespace, client) == 0
    return json.loads(capsys.readouterr().out)


def test_proposes_high_scores_lists_negative_ones_and_drops_golden_duplicates(s3, golden_path, capsys) -> None:
    client, stub = s3
    docs = [
        review("good-1", 5, "Which metric shows the Bedrock token cost per model?", "EstimatedCost [2]."),
        review("dup-golden", 5, "how long do refunds take after a purchase", "30 days."),
        review("low", 3, "What is a guardrail?", "A filter."),
        review("bad-1", 1, "Where are traces kept?", "In S3.", comment="wrong"),
        review("bad-2", 2, None, None),
        review("four", 4, "Which alarm fires when the canary stops?", "CanaryNotRunning."),
    ]
    stub_bucket(stub, {key(d): d for d in docs})
    result = run(client, args(golden_path=golden_path), capsys)
    assert [p["from_request_id"] for p in result["proposals"]] == ["good-1", "four"]
    first = result["proposals"][0]
    assert first["question"] == "Which metric shows the Bedrock token cost per model?"
    assert first["reference"] == "EstimatedCost [2]."
    assert first["sources"] == [{"id": "s3://docs/a.md", "score": 0.8, "excerpt": "..."}]
    assert (first["score"], first["prompt_version"]) == (5.0, "v3")
    assert all(len(p["id"]) <= 64 and p["id"].replace("-", "").isalnum() for p in result["proposals"])
    assert first["id"].startswith("which-metric-shows-the-bedrock-token-")
    assert [r["request_id"] for r in result["review"]] == ["bad-1", "bad-2"]
    assert result["review"][0]["comment"] == "wrong"
    assert result["skipped"] == {"duplicate_of_golden": 1}
    assert (result["objects"], result["min_score"], result["days"]) == (6, 4.0, 30)
    assert "not added to any golden set" in result["note"]
    assert json.loads(golden_path.read_text()) == GOLDEN  # never edited


def test_min_score_near_duplicates_among_proposals_and_redaction(s3, golden_path, capsys) -> None:
    client, stub = s3
    docs = [
        review("a", 4, "Which service stores the audit trail of API calls?", "CloudTrail.", day=TODAY - timedelta(1)),
        review("b", 5, "Which service stores the audit trail of API calls ?", "AWS CloudTrail."),
        review("c", 4.5, "Can I reach support at [EMAIL] for billing questions?", "Yes."),
        review("d", 3.5, "Is four below the bar?", "Yes."),
    ]
    stub_bucket(stub, {key(d): d for d in docs})
    result = run(client, args("--min-score", "4.5", golden_path=golden_path), capsys)
    assert [p["from_request_id"] for p in result["proposals"]] == ["b"]
    assert result["skipped"] == {"redacted": 1}

    stub_bucket(stub, {key(d): d for d in docs})
    result = run(client, args("--min-score", "4", "--allow-redacted", golden_path=golden_path), capsys)
    assert [p["from_request_id"] for p in result["proposals"]] == ["b", "c"]  # b beats its near-duplicate a
    assert result["skipped"] == {"duplicate": 1}


def test_days_filter_by_the_key_date_else_the_last_modified_time(s3, golden_path, capsys) -> None:
    client, stub = s3
    recent = review("recent", 5, "Which dashboard shows latency per stage?", "The RAG dashboard.")
    old = key(review("old", 5, "q"), TODAY - timedelta(days=10))
    # listed but never read: older than --days by their key, an impossible date, not JSON by name, and undated
    # keys whose LastModified (2020) is older than --days
    skipped = [old, "feedback/2026/13/40/bad-date.json", "feedback/readme.txt", "feedback/misc/other.json"]
    stub_bucket(stub, {key(recent): recent}, listed_extra=skipped)
    result = run(client, args("--days", "7", golden_path=golden_path), capsys)
    assert result["objects"] == 1 and [p["from_request_id"] for p in result["proposals"]] == ["recent"]
    assert result["since"] == (TODAY - timedelta(days=6)).isoformat()


def test_malformed_objects_are_skipped_and_counted(s3, golden_path, capsys) -> None:
    client, stub = s3
    good = review("g", 5, "Which log group holds the access logs?", "The API's.")
    stub_bucket(stub, {key(good): good, f"feedback/{TODAY:%Y/%m/%d}/x.json": b"{not json",
                       f"feedback/{TODAY:%Y/%m/%d}/y.json": {"schema": 2, "score": 5},
                       f"feedback/{TODAY:%Y/%m/%d}/z.json": {"schema": 1, "score": True, "request_id": "z"},
                       f"feedback/{TODAY:%Y/%m/%d}/deep.json": b"[" * 100_000 + b"]" * 100_000})  # fmt: skip
    result = run(client, args(golden_path=golden_path), capsys)
    assert result["skipped"] == {"malformed": 4}
    assert [p["from_request_id"] for p in result["proposals"]] == ["g"]


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("NoSuchBucket", f"llm-observability: bucket {BUCKET} does not exist (NoSuchBucket).\n"),
        ("AccessDenied", (f"llm-observability: cannot list s3://{BUCKET}/feedback/: access denied (AccessDenied); "
                          "the command needs s3:ListBucket on the review set.\n")),
        ("SlowDown", f"llm-observability: cannot list s3://{BUCKET}/feedback/: SlowDown.\n"),
    ],
)  # fmt: skip
def test_a_bad_bucket_is_one_sentence_and_exit_2(s3, golden_path, capsys, monkeypatch, code, message) -> None:
    client, stub = s3
    stub.add_client_error("list_objects_v2", service_error_code=code, http_status_code=404)
    monkeypatch.setattr(boto3, "client", lambda *a, **k: client)  # the command's own client is the stubbed one
    assert cli.main(["golden", "propose", "--bucket", BUCKET, "--golden", str(golden_path)]) == 2
    captured = capsys.readouterr()
    assert captured.err == message and captured.out == ""


def test_every_object_unreadable_is_an_error(s3, golden_path, capsys) -> None:
    client, stub = s3
    name = f"feedback/{TODAY:%Y/%m/%d}/a.json"
    stub.add_response("list_objects_v2", {"Contents": [{"Key": name, "Size": 1}], "KeyCount": 1},
                      {"Bucket": BUCKET, "Prefix": "feedback/"})  # fmt: skip
    stub.add_client_error("get_object", service_error_code="AccessDenied", http_status_code=403)
    with pytest.raises(golden.GoldenError, match=r"cannot read any of the 1 review objects .*\(AccessDenied\)"):
        golden.run(args(golden_path=golden_path), client)


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["--bucket", "Bad_Bucket"], "argument --bucket: 'Bad_Bucket' is not an S3 bucket name"),
        (["--bucket", BUCKET, "--days", "0"], "argument --days: '0' is not a number of days"),
        (["--bucket", BUCKET, "--min-score", "6"], "argument --min-score: '6' is not a score"),
        (["--bucket", BUCKET, "--prefix", "/feedback"], "argument --prefix: '/feedback' is not a key prefix"),
        ([], "the following arguments are required: --bucket"),
    ],
)
def test_bad_arguments_exit_2_with_one_sentence(capsys, argv: list[str], fragment: str) -> None:
    assert cli.main(["golden", "propose", *argv]) == 2
    err = capsys.readouterr().err
    assert fragment in err and "Traceback" not in err


def test_a_bad_golden_set_is_one_sentence(tmp_path: Path, capsys) -> None:
    bad = tmp_path / "golden.json"
    bad.write_text('{"questions": "no"}')
    assert cli.main(["golden", "propose", "--bucket", BUCKET, "--golden", str(bad)]) == 2
    assert capsys.readouterr().err == (f"llm-observability: the golden set {bad} must be an object with a 'questions' "
                                       "list of {id, question, reference} objects.\n")  # fmt: skip
    assert cli.main(["golden", "propose", "--bucket", BUCKET, "--golden", str(tmp_path / "missing.json")]) == 2
    assert "cannot read the golden set" in capsys.readouterr().err


def test_output_is_written_atomically_and_a_failed_write_keeps_the_old_file(s3, golden_path, tmp_path, capsys) -> None:
    client, stub = s3
    good = review("g", 5, "Which log group holds the access logs?", "The API's.")
    stub_bucket(stub, {key(good): good})
    out = tmp_path / "proposals.json"
    out.write_text("previous")
    assert golden.run(args("-o", str(out), golden_path=golden_path), client) == 0
    assert json.loads(out.read_text())["proposals"][0]["from_request_id"] == "g"
    assert capsys.readouterr().out == ""
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
    # a folder as the output: nothing is written, one sentence
    stub_bucket(stub, {key(good): good})
    with pytest.raises(AssessError, match="it is a folder"):
        golden.run(args("-o", str(tmp_path), golden_path=golden_path), client)
    assert json.loads(out.read_text())["proposals"][0]["from_request_id"] == "g"


def test_the_default_golden_set_is_the_canary_packaged_one() -> None:
    questions = golden.load_golden(None)
    assert len(questions) >= 10 and all("question" in q for q in questions)


def test_review_objects_of_the_join_are_read_back(tmp_path: Path) -> None:
    """The object the Lambda writes is one the command reads (one format, two sides)."""
    from tests.support.loader import load_file

    folder = Path(golden.__file__).parent / "functions" / "feedback_loop"
    shared = folder.parent / "_shared"
    join = load_file("feedback_join_for_golden", folder / "feedback_join.py", search=[folder, shared],
                     siblings=("feedback_telemetry", "logs_query"))  # fmt: skip
    now = datetime.now(UTC)
    item = join.Joined(join.Rating("r-1", 5.0, now, "great"),
                       join.Answer("r-1", "m", "v2", now, "Which key encrypts the review set?", "Its own KMS key.",
                                   ({"id": "s3://d.md", "score": 0.5, "excerpt": "x"},), "full"))  # fmt: skip
    parsed = golden.parse_item(join.review_key(item.rating), join.review_object(item, "redacted"))
    assert parsed is not None
    assert (parsed.question, parsed.answer, parsed.score, parsed.prompt_version) == (
        "Which key encrypts the review set?",
        "Its own KMS key.",
        5.0,
        "v2",
    )
    assert parsed.sources == [{"id": "s3://d.md", "score": 0.5, "excerpt": "x"}]


@settings(max_examples=100, deadline=None, database=None)
@given(
    questions=st.lists(st.text(min_size=0, max_size=60), max_size=12),
    scores=st.lists(st.sampled_from([1, 2, 3, 4, 5, 4.5]), min_size=12, max_size=12),
)
def test_proposals_are_unique_valid_and_never_near_duplicate_the_golden_set(
    questions: list[str], scores: list[float]
) -> None:
    from llm_observability.functions._shared.textstats import near_duplicates

    items = [golden.ReviewItem(key=f"k{i}", request_id=f"r{i}", rated_at=f"2026-01-01T00:00:{i:02d}Z", score=s,
                               question=q or None, answer="a", comment=None, model_id="m", prompt_version="v",
                               sources=[])
             for i, (q, s) in enumerate(zip(questions, scores))]  # fmt: skip
    result = golden.propose(items, GOLDEN["questions"], min_score=4, allow_redacted=False)
    proposals = result["proposals"]
    ids = [p["id"] for p in proposals]
    assert len(set(ids)) == len(ids) and all(golden._GOLDEN_ID.match(i) for i in ids)
    assert not set(ids) & {q["id"] for q in GOLDEN["questions"]}
    texts = [q["question"] for q in GOLDEN["questions"]] + [p["question"] for p in proposals]
    assert near_duplicates(texts, golden.NEAR_DUPLICATE_JACCARD) == []
    assert all(p["score"] >= 4 for p in proposals)
    assert [r["request_id"] for r in result["review"]] == sorted(
        (i.request_id for i in items if i.score <= 2), key=lambda r: (items[int(r[1:])].rated_at, r)
    )
    kept = len(proposals) + sum(result["skipped"].values())
    assert kept == sum(1 for i in items if i.score >= 4)
    assert os.sep not in "".join(ids)
