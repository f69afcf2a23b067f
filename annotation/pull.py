"""`curate review pull`: annotators' responses back into the dataset, with agreement and resolution.

For each config of DATASET_DIR that has an Argilla dataset in the workspace (the name `push`
gave it), fetch every record's responses, compute per-question agreement over the submitted
ones, resolve each record by its questions' rules, and write the `review` struct of the record
envelope (status, annotators, responses + resolution as JSON, agreement). The result is a new
dataset folder (the input is not changed) whose card's "Annotation process" section reports
the agreement; with `publish_to` it is published as a new version. The output folder is written as
`curate run` writes one (pipelines/engine/dataset_dir.py): claimed and locked before the first request to
Argilla, staged beside it and swapped in whole, and a user's files in it kept.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import orjson
import polars as pl

from annotation.agreement import question_agreement
from annotation.columns import RecordAnswers, column_descriptions, with_review_columns
from annotation.push import (
    ReviewOptions,
    check_rules,
    configs_of,
    connect,
    dataset_name,
    find_dataset,
    read_config,
    recipe_of,
)
from annotation.resolve import resolve_record
from annotation.settings import ReviewSpec, spec_for
from data_cards.hub import class_labels_in_card, refresh_card_metadata
from pipelines.engine.dataset_dir import claim_output, owned_files, staged_dataset
from pipelines.engine.layout import write_config
from pipelines.engine.report import atomic_write_bytes
from pipelines.methods.privacy import mask_text_answers
from schemas.envelope import REVIEW_DTYPE
from schemas.errors import CurateError

PAGE = 1000  # the server's largest page of records


@dataclass
class ConfigReview:
    config: str
    dataset: str
    records: int
    min_submitted: int
    status: dict[str, int]
    annotators: int
    questions: list[dict] = field(default_factory=list)


@dataclass
class PullResult:
    output: Path
    workspace: str
    reviews: list[ConfigReview]
    published: dict | None = None


# -- fetching ----------------------------------------------------------------------------------


def usernames(client) -> dict[str, str]:
    """user id -> username (an owner or admin can list users; otherwise ids stay ids)."""
    response = client.api.http_client.get("/api/v1/users")
    if response.status_code != 200:
        return {}
    return {u["id"]: u["username"] for u in response.json()["items"]}


def fetch_responses(
    client, dataset_id: str, question_names: dict[str, str] | None = None
) -> tuple[dict[str, list[dict]], dict[str, dict[str, object]]]:
    """(external_id -> that record's responses [{user_id, status, values}], external_id -> {question:
    the model's suggested value}) from the server's database, page by page. `question_names`:
    question id -> name (suggestions name their question by id)."""
    http = client.api.http_client
    out: dict[str, list[dict]] = {}
    suggestions: dict[str, dict[str, object]] = {}
    offset = 0
    while True:
        response = http.get(
            f"/api/v1/datasets/{dataset_id}/records",
            params={"include": ["responses", "suggestions"], "offset": offset, "limit": PAGE},
        )
        if response.status_code != 200:
            raise CurateError(f"Argilla refused to list records: HTTP {response.status_code}: {response.text[:300]}")
        body = orjson.loads(response.content)
        for record in body["items"]:
            out[record["external_id"]] = record.get("responses") or []
            suggestions[record["external_id"]] = {
                (question_names or {}).get(str(s["question_id"]), str(s["question_id"])): s.get("value")
                for s in record.get("suggestions") or []
            }
        offset += len(body["items"])
        if not body["items"] or offset >= body["total"]:
            return out, suggestions


def split_responses(responses: list[dict], names: dict[str, str]) -> tuple[list[tuple[str, dict]], list[str]]:
    """([(annotator, {question: value})] submitted, [annotator] discarded), by annotator name."""
    submitted, discarded = [], []
    for r in responses:
        who = names.get(r["user_id"], r["user_id"])
        if r["status"] == "submitted":
            submitted.append((who, {q: v.get("value") for q, v in (r.get("values") or {}).items()}))
        elif r["status"] == "discarded":
            discarded.append(who)
    return sorted(submitted, key=lambda s: s[0]), sorted(discarded)


# -- one config --------------------------------------------------------------------------------


def review_config(
    frame: pl.DataFrame,
    spec: ReviewSpec,
    responses: dict[str, list[dict]],
    names: dict[str, str],
    min_submitted: int,
    context: dict,
    suggestions: dict[str, dict] | None = None,
) -> tuple[pl.DataFrame, dict[str, list]]:
    """The frame with its `review` column rewritten, and each question's (record, annotator, value) answers."""
    answers: dict[str, list] = {q.name: [] for q in spec.questions}
    reviews, per_record = [], []
    for record_id, old in zip(frame["record_id"].to_list(), frame["review"].to_list()):
        if record_id not in responses:  # not in Argilla (pushed from another version): keep what it had
            reviews.append(old)
            per_record.append(None)
            continue
        submitted, discarded = split_responses(responses[record_id], names)
        for annotator, values in submitted:
            for q, v in values.items():
                if q in answers and v is not None:
                    answers[q].append((record_id, annotator, v))
        review = resolve_record(spec, submitted, discarded, min_submitted, context, (suggestions or {}).get(record_id))
        reviews.append(review)
        accepted = orjson.loads(review["responses"]).get("accepted_suggestion", {}) if review["responses"] else {}
        per_record.append(RecordAnswers(mask_text_answers(spec, submitted), accepted, review["status"]))
    frame = frame.with_columns(pl.Series("review", reviews, dtype=REVIEW_DTYPE))
    return with_review_columns(frame, spec, per_record), answers


def summarize(
    config: str, dataset: str, frame: pl.DataFrame, spec: ReviewSpec, answers: dict[str, list], min_submitted: int
) -> ConfigReview:
    status = frame["review"].struct.field("status").value_counts()
    counts = {s: int(n) for s, n in status.iter_rows()}
    annotators = {a for values in answers.values() for _, a, _ in values}
    review = ConfigReview(
        config,
        dataset,
        frame.height,
        min_submitted,
        {s: counts.get(s, 0) for s in ("resolved", "submitted", "discarded", "pending")},
        len(annotators),
    )
    for q in spec.questions:
        report = question_agreement(q, answers[q.name])
        report["rule"] = q.resolution_rule()
        report["resolved"] = sum(
            1
            for r in frame["review"].to_list()
            if r["status"] == "resolved" and json.loads(r["responses"])["resolution"].get(q.name) is not None
        )
        review.questions.append(report)
    return review


# -- the card ----------------------------------------------------------------------------------


def _fmt(value: float | None, pct: bool = False) -> str:
    if value is None:
        return "-"
    return f"{value:.0%}" if pct else f"{value:.3f}"


def annotation_section(workspace: str, reviews: list[ConfigReview], pulled_at: str) -> str:
    parts = [
        f"Records were reviewed by human annotators in [Argilla](https://argilla.io) (workspace `{workspace}`; "
        f"responses pulled {pulled_at}). Each record was assigned to annotators until `min_submitted` of them "
        "submitted (Argilla's task distribution). A record is `resolved` once that many submitted and no required "
        "question tied; `submitted` when fewer did (or a required question tied); `discarded` when annotators only "
        "discarded it; `pending` without responses. Every record's submitted answers, the resolved value per question "
        "and the rule used are in `review.responses` (JSON); `review.agreement` is the share of annotator pairs that "
        "gave the same answer on that record, averaged over its non-text questions.",
        "Agreement per question: Krippendorff's alpha (labels nominal; ratings ordinal and interval; rankings: "
        "each candidate's rank, ordinal) over the records answered by two or more annotators, and the share of those "
        "records where all answers were the same. A dash: not computable (fewer than two answers per record, or "
        "a single value throughout).",
    ]
    for r in reviews:
        status = ", ".join(f"{k} {v}" for k, v in r.status.items())
        rows = [
            "| question | type | records with 2+ answers | Krippendorff's alpha | unanimous | rule | resolved |",
            "|---|---|---:|---|---:|---|---:|",
        ]
        for q in r.questions:
            alphas = ", ".join(f"{_fmt(v)} ({lvl})" for lvl, v in q["alpha"].items()) or "-"
            rows.append(
                f"| `{q['question']}` | {q['kind']} | {q['records_multi']} | {alphas} | "
                f"{_fmt(q['unanimous'], pct=True)} | {q['rule']} | {q['resolved']} |"
            )
        parts.append(
            f"### Config `{r.config}` (Argilla dataset `{r.dataset}`)\n\n"
            f"- {r.records} records: {status}\n- {r.annotators} annotators; "
            f"`min_submitted` = {r.min_submitted}\n\n" + "\n".join(rows)
        )
    return "\n\n".join(parts)


def review_columns_section(columns: dict[str, dict[str, str]]) -> str:
    """The columns pull adds, per config, with what they hold (annotation.columns)."""
    parts = []
    for config, described in columns.items():
        rows = ["| field | description |", "|---|---|"] + [f"| `{c}` | {d} |" for c, d in described.items()]
        parts.append(f"\n\n### Review columns of config `{config}`\n\n" + "\n".join(rows))
    return "".join(parts)


def replace_section(card: str, title: str, body: str) -> str:
    """The card with the body of `## title` replaced (the section is added when missing)."""
    head = f"## {title}\n"
    start = card.find(head)
    if start < 0:
        return card.rstrip("\n") + f"\n\n{head}\n{body}\n"
    end = card.find("\n## ", start + len(head))
    end = len(card) if end < 0 else end + 1
    return card[:start] + f"{head}\n{body}\n\n" + card[end:]


# -- the whole pull ----------------------------------------------------------------------------


def default_output(dataset_dir: Path) -> Path:
    return dataset_dir.parent / f"{dataset_dir.name}-reviewed"


def pull(
    dataset_dir: Path,
    workspace: str,
    *,
    configs: list[str] | None = None,
    options: ReviewOptions | None = None,
    output: Path | None = None,
    publish_to: str | None = None,
    version: str | None = None,
    message: str | None = None,
    client=None,
    allow_existing: bool = False,
    lock_timeout: float = 0.0,
) -> PullResult:
    dataset_dir = Path(dataset_dir)
    output = Path(output) if output else default_output(dataset_dir)
    if output.resolve() == dataset_dir.resolve():
        raise CurateError("--output must differ from DATASET_DIR: the pulled review is a new version of the data")
    with claim_output(output, allow_foreign=allow_existing, lock_timeout=lock_timeout):  # before any request
        result = _pull(dataset_dir, workspace, configs, options or ReviewOptions(), output, client)
    if publish_to:
        from pipelines.engine.publish import next_version, publish

        result.published = publish(
            output,
            publish_to,
            version or next_version(publish_to, "minor"),
            message=message or f"Human review pulled from Argilla workspace {workspace}",
        )
    return result


def _pull(
    dataset_dir: Path, workspace: str, configs: list[str] | None, options: ReviewOptions, output: Path, client
) -> PullResult:
    client = client or connect()
    ws = client.workspaces(workspace)
    if ws is None:
        raise CurateError(f"no Argilla workspace {workspace!r} (or this key cannot see it)")
    names = usernames(client)
    pulled_at = datetime.now(UTC).replace(microsecond=0).isoformat()
    recipe = recipe_of(dataset_dir)
    reviewed: dict[str, pl.DataFrame] = {}
    reviews: list[ConfigReview] = []
    columns: dict[str, dict[str, str]] = {}
    for config in configs or configs_of(dataset_dir):
        name = dataset_name(dataset_dir, config, options if configs and len(configs) == 1 else None)
        dataset = find_dataset(ws, name)
        if dataset is None:
            if configs:
                raise CurateError(
                    f"no Argilla dataset {name!r} in workspace {workspace!r}: push config {config!r} first"
                )
            continue
        frame = read_config(dataset_dir, config)
        spec = spec_for(recipe, config, frame)
        check_rules(spec, options)
        min_submitted = dataset.distribution.min_submitted
        context = {"dataset": name, "workspace": workspace, "pulled_at": pulled_at}
        question_names = {str(q.id): q.name for q in dataset.settings.questions}
        responses, suggestions = fetch_responses(client, str(dataset.id), question_names)
        frame, answers = review_config(frame, spec, responses, names, min_submitted, context, suggestions)
        reviewed[config] = frame
        reviews.append(summarize(config, name, frame, spec, answers, min_submitted))
        columns[config] = column_descriptions(spec)
    if not reviews:
        raise CurateError(f"no config of {dataset_dir} has an Argilla dataset in workspace {workspace!r}; push first")
    section = annotation_section(workspace, reviews, pulled_at) + review_columns_section(columns)
    write_output(dataset_dir, output, reviewed, section, reviews)
    return PullResult(output, workspace, reviews)


def write_output(
    dataset_dir: Path, output: Path, reviewed: dict[str, pl.DataFrame], section: str, reviews: list[ConfigReview]
) -> None:
    """A copy of the dataset with the reviewed configs, report facts and card section, swapped in
    whole for `output` (pipelines/engine/dataset_dir.py)."""
    with staged_dataset(output) as stage:
        copy_dataset(dataset_dir, stage)
        _write_reviewed(stage, reviewed, section, reviews)


def copy_dataset(dataset_dir: Path, stage: Path) -> None:
    """The files curate wrote in `dataset_dir` (its manifest's), or every visible file of a folder
    without one; a user's own files there are theirs, not the reviewed dataset's."""
    ours = owned_files(dataset_dir)
    if ours is None:
        shutil.copytree(dataset_dir, stage, ignore=shutil.ignore_patterns(".*"), dirs_exist_ok=True)
        return
    for rel in sorted(ours):
        source, target = dataset_dir / rel, stage / rel
        if source.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)


def _write_reviewed(tmp: Path, reviewed: dict[str, pl.DataFrame], section: str, reviews: list[ConfigReview]) -> None:
    labels = class_labels_in_card(tmp / "README.md")
    views = {config: write_config(tmp, config, frame, labels.get(config)) for config, frame in reviewed.items()}
    if (tmp / "README.md").exists():  # dataset_info must name the review columns, or datasets refuses the files
        refresh_card_metadata(tmp / "README.md", views)
    card = (tmp / "README.md").read_text() if (tmp / "README.md").exists() else ""
    atomic_write_bytes(tmp / "README.md", replace_section(card, "Annotation process", section).encode())
    report_path = tmp / "report.json"
    report = json.loads(report_path.read_text()) if report_path.exists() else {}
    report.setdefault("facts", {})["review"] = [r.__dict__ for r in reviews]
    atomic_write_bytes(report_path, orjson.dumps(report, option=orjson.OPT_INDENT_2))
