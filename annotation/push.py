"""`curate review push`: one config of a dataset folder into an Argilla dataset.

- The Argilla dataset is made once with the settings of the config's record type
  (annotation/settings.py) and a task distribution (`min_submitted` annotators per record).
  A dataset left as a draft by an interrupted creation (it holds no records) is made again.
- Records go up in bulk upserts keyed by our `record_id` (Argilla's `external_id`): pushing again,
  or rerunning a push that died half way, updates the records already there and adds the rest;
  it never duplicates one. Annotators' responses on records already there are kept.
- Vectors: a vector column of the data when it has one, else the record's text embedded with the
  offline MiniLM of pipelines/methods/embed.py (through its shared cache, so a rerun embeds nothing again).
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import polars as pl
from pydantic import BaseModel, Field

from annotation.records import RecordBuilder
from annotation.settings import ReviewSpec, argilla_settings, spec_for
from pipelines.engine.layout import DATA_DIR
from pipelines.engine.runtime import fault_point
from schemas.errors import CurateError, InputFileError

MAX_BATCH = 500  # the server's limit per bulk upsert
RETRIES = 4
DEFAULT_MIN_SUBMITTED = 2


class ReviewOptions(BaseModel):
    """What a review settings file (`--settings review.yaml`) may say."""

    model_config = {"extra": "forbid"}

    min_submitted: int | None = Field(None, ge=1)  # annotators per record; None: 2 for a new dataset, kept otherwise
    rules: dict[str, str] = Field(default_factory=dict)  # question -> majority | mean | median | mean_rank | all
    dataset_name: str | None = None  # default: <folder name>-<config>
    vectors: bool = True
    embedding_model: str | None = None  # default: the offline all-MiniLM-L6-v2
    batch_size: int = Field(MAX_BATCH, ge=1, le=MAX_BATCH)
    guidelines: str | None = None


def load_options(path: Path | None, **overrides: Any) -> ReviewOptions:
    from pipelines.engine.config import load_options as load

    return load(ReviewOptions, path, overrides, what="review settings")


# -- the dataset folder ------------------------------------------------------------------------


def recipe_of(dataset_dir: Path) -> str | None:
    report = dataset_dir / "report.json"
    if not report.exists():
        return None
    try:
        return json.loads(report.read_text()).get("recipe")
    except ValueError:
        return None


def configs_of(dataset_dir: Path) -> list[str]:
    data = dataset_dir / DATA_DIR
    return sorted(p.name for p in data.iterdir() if p.is_dir()) if data.is_dir() else []


def read_config(dataset_dir: Path, config: str) -> pl.DataFrame:
    folder = dataset_dir / DATA_DIR / config
    if not folder.is_dir():
        known = ", ".join(configs_of(dataset_dir)) or "none"
        raise InputFileError(dataset_dir, f"no config {config!r} under {DATA_DIR}/ (configs: {known})")
    try:
        frame = pl.read_parquet(folder / "*.parquet")
    except Exception as e:
        raise InputFileError(folder, f"cannot read its parquet files: {e}") from None
    if "record_id" not in frame.columns:
        raise InputFileError(folder, "no record_id column: push needs the record envelope")
    nulls, dupes = frame["record_id"].null_count(), frame.height - frame["record_id"].n_unique()
    if nulls or dupes:
        raise InputFileError(folder, f"record_id must be unique and set ({nulls} null, {dupes} repeated)")
    return frame


def with_context(dataset_dir: Path, recipe: str | None, config: str, frame: pl.DataFrame) -> pl.DataFrame:
    """Columns annotators need from another config of the same run, for display only, as the recipe
    says (`Recipe.review_context`; e.g. a preference pair's persona description)."""
    from pipelines.recipes import available, get_recipe

    return get_recipe(recipe).review_context(dataset_dir, config, frame) if recipe in available() else frame


def dataset_name(dataset_dir: Path, config: str, options: ReviewOptions | None = None) -> str:
    if options and options.dataset_name:
        return options.dataset_name
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", f"{dataset_dir.resolve().name}-{config}")


# -- vectors -----------------------------------------------------------------------------------


def record_vectors(spec: ReviewSpec, frame: pl.DataFrame, options: ReviewOptions) -> tuple[list | None, int | None]:
    """One vector (or None) per row, and their dimension; (None, None) for no vector field."""
    if not options.vectors:
        return None, None
    column = spec.vector_column if spec.vector_column in frame.columns else _array_column(frame)
    if column:
        if column != spec.vector_column:
            spec.vector_name = column
        return _column_vectors(frame[column])
    if spec.embed_text is None:
        return None, None
    return _embedded(spec, frame, options)


def _array_column(frame: pl.DataFrame) -> str | None:
    for name, dtype in frame.schema.items():
        if isinstance(dtype, pl.Array) and dtype.inner in (pl.Float32, pl.Float64):
            return name
    return None


def _leaves(value) -> list:
    """A struct's values in field order, nested structs flattened ({bfi2: {E: 1.0, A: 2.0}} -> [1.0, 2.0])."""
    return [leaf for v in value.values() for leaf in (_leaves(v) if isinstance(v, dict) else [v])]


def _column_vectors(series: pl.Series) -> tuple[list, int | None]:
    if isinstance(series.dtype, pl.Struct):
        rows = [None if r is None else _leaves(r) for r in series.to_list()]
    else:
        rows = series.to_list()
    vectors = [None if r is None or any(v is None or v != v for v in r) else [float(v) for v in r] for r in rows]
    dims = {len(v) for v in vectors if v is not None}
    if len(dims) > 1:
        raise CurateError(f"column {series.name!r}: vectors of different lengths {sorted(dims)}")
    return vectors, (dims.pop() if dims else None)


def _embedded(spec: ReviewSpec, frame: pl.DataFrame, options: ReviewOptions) -> tuple[list, int]:
    from pipelines.methods.embed import EmbedConfig, embed_texts

    texts = [spec.embed_text(row) for row in frame.iter_rows(named=True)]
    present = [i for i, t in enumerate(texts) if t]
    vectors: list = [None] * len(texts)
    if not present:
        return vectors, None
    embedded = embed_texts([texts[i] for i in present], EmbedConfig(model=options.embedding_model))
    for i, v in zip(present, embedded):
        vectors[i] = v
    return vectors, int(embedded.shape[1])


# -- the Argilla side --------------------------------------------------------------------------


def connect(timeout: float = 120):
    """An SDK client for the user's server (ARGILLA_API_URL/KEY) or the local stack."""
    import argilla as rg

    from annotation import stack

    try:
        url, key = stack.connection()
    except stack.StackError as e:
        raise CurateError(str(e)) from None
    try:
        client = rg.Argilla(api_url=url, api_key=key, timeout=timeout)
        client.me  # noqa: B018  (fails fast when the server does not answer or the key is wrong)
    except Exception as e:
        raise CurateError(
            f"Argilla at {url} does not answer ({type(e).__name__}); start the local one with "
            "`curate argilla up`, or set ARGILLA_API_URL and ARGILLA_API_KEY"
        ) from None
    return client


def ensure_workspace(client, name: str):
    import argilla as rg

    workspace = client.workspaces(name)
    if workspace is None:
        workspace = rg.Workspace(name=name, client=client).create()
    return workspace


def find_dataset(workspace, name: str):
    for dataset in workspace.datasets:
        if dataset.name == name:
            return dataset.get()
    return None


def ensure_dataset(client, workspace, name: str, spec: ReviewSpec, options: ReviewOptions, dims: int | None):
    import argilla as rg

    dataset = find_dataset(workspace, name)
    if dataset is not None and dataset._model.status != "ready":
        dataset.delete()  # a creation that died before publishing: a draft without records
        dataset = None
    if spec.guidelines or options.guidelines:
        spec.guidelines = options.guidelines or spec.guidelines
    if dataset is None:
        settings = argilla_settings(
            spec, min_submitted=options.min_submitted or DEFAULT_MIN_SUBMITTED, vector_dims=dims, client=client
        )
        try:
            return rg.Dataset(name=name, workspace=workspace, settings=settings, client=client).create()
        except Exception as e:  # the SDK wraps the server's reason in its cause
            reason = e.__cause__ or e
            raise CurateError(f"Argilla refused to create dataset {name!r}: {reason}") from None
    check_compatible(dataset, spec, dims)
    if options.min_submitted and dataset.distribution.min_submitted != options.min_submitted:
        set_min_submitted(client, dataset, options.min_submitted)
    return dataset


def set_min_submitted(client, dataset, n: int) -> None:
    """Change the task distribution of an existing dataset (asked for with --min-submitted)."""
    response = client.api.http_client.patch(
        f"/api/v1/datasets/{dataset.id}", json={"distribution": {"strategy": "overlap", "min_submitted": n}}
    )
    if response.status_code >= 400:
        raise CurateError(
            f"Argilla dataset {dataset.name!r} keeps min_submitted={dataset.distribution.min_submitted}: "
            f"the server refused {n} (HTTP {response.status_code}: {response.text[:200]})"
        )
    dataset.get()


def check_compatible(dataset, spec: ReviewSpec, dims: int | None) -> None:
    """A dataset made earlier must ask the same questions over the same fields; a changed spec
    needs a new dataset (another name), since annotators may have answered the old one."""
    have_f = [f.name for f in dataset.settings.fields]
    have_q = [q.name for q in dataset.settings.questions]
    want_f, want_q = [f.name for f in spec.fields], [q.name for q in spec.questions]
    problems = []
    if have_f != want_f:
        problems.append(f"fields {have_f} != {want_f}")
    if have_q != want_q:
        problems.append(f"questions {have_q} != {want_q}")
    have_m = {m.name for m in dataset.settings.metadata}
    missing_m = [m.name for m in spec.metadata if m.name not in have_m]
    if missing_m:
        problems.append(f"metadata missing {missing_m}")
    have_v = {v.name: v.dimensions for v in dataset.settings.vectors}
    if dims and have_v.get(spec.vector_name) != dims:
        problems.append(f"vector {spec.vector_name!r} of {dims} dimensions missing (has {have_v})")
    if problems:
        raise CurateError(
            f"Argilla dataset {dataset.name!r} was made with other settings ({'; '.join(problems)}); "
            "push under another --name, or delete it first"
        )


# -- push --------------------------------------------------------------------------------------


@dataclass
class PushResult:
    dataset: str
    dataset_id: str
    workspace: str
    records: int
    created: int
    updated: int
    seconds: float
    vectors: int | None
    url: str = ""  # where annotators open the queue (sorted by review_priority where the data has one)


def push(
    dataset_dir: Path,
    config: str,
    workspace: str,
    options: ReviewOptions | None = None,
    client=None,
    progress: bool = True,
) -> PushResult:
    options = options or ReviewOptions()
    dataset_dir = Path(dataset_dir)
    recipe = recipe_of(dataset_dir)
    frame = with_context(dataset_dir, recipe, config, read_config(dataset_dir, config))
    spec = spec_for(recipe, config, frame)
    check_rules(spec, options)
    if "review_priority" in frame.columns:  # the queue opens with what reviewers should see first
        frame = frame.sort("review_priority", nulls_last=True, maintain_order=True)
    client = client or connect()  # before embedding: a server that does not answer fails fast
    vectors, dims = record_vectors(spec, frame, options)
    ws = ensure_workspace(client, workspace)
    dataset = ensure_dataset(client, ws, dataset_name(dataset_dir, config, options), spec, options, dims)
    question_ids = {q.name: str(q.id) for q in dataset.settings.questions}
    builder = RecordBuilder(spec, frame, question_ids, vectors if dims else None)
    before = record_count(client, str(dataset.id))
    began = time.monotonic()
    send(client, str(dataset.id), builder, options.batch_size, progress)
    seconds = time.monotonic() - began
    # the server does not say which records of a bulk upsert existed, so count: an upsert by
    # external_id adds exactly the records that were not there
    created = record_count(client, str(dataset.id)) - before
    return PushResult(
        dataset.name,
        str(dataset.id),
        workspace,
        frame.height,
        created,
        frame.height - created,
        seconds,
        dims,
        queue_url(client.api_url, str(dataset.id), spec),
    )


def queue_url(api_url: str, dataset_id: str, spec: ReviewSpec) -> str:
    """The annotation page of the dataset, sorted by `review_priority` (ascending: 0 first) when the
    record type has it as numeric metadata. Argilla 2.8 shows each annotator's pending records in an
    order shuffled per user unless the page sorts; its annotation page reads the sort from the URL
    (`sort=<entity>.<name>.<order>`, the form its own Sort menu writes there), so this link opens the
    queue in priority order (checked in a real browser by tests/integration/test_argilla_browser.py)."""
    url = f"{api_url.rstrip('/')}/dataset/{dataset_id}/annotation-mode"
    if any(m.name == "review_priority" and m.kind in ("integer", "float") for m in spec.metadata):
        url += "?sort=metadata.review_priority.asc"
    return url


def record_count(client, dataset_id: str) -> int:
    response = client.api.http_client.get(f"/api/v1/datasets/{dataset_id}/records", params={"limit": 1})
    if response.status_code != 200:
        raise CurateError(f"Argilla refused to count records: HTTP {response.status_code}: {response.text[:300]}")
    return int(response.json()["total"])


def check_rules(spec: ReviewSpec, options: ReviewOptions) -> None:
    """Resolution rules from the settings file name known questions and rules that fit them."""
    from annotation.resolve import RULES_BY_KIND

    questions = {q.name: q for q in spec.questions}
    for name, rule in options.rules.items():
        if name not in questions:
            raise CurateError(
                f"review settings: rule for unknown question {name!r} (questions: {', '.join(questions)})"
            )
        allowed = RULES_BY_KIND[questions[name].kind]
        if rule not in allowed:
            raise CurateError(
                f"review settings: rule {rule!r} does not fit {questions[name].kind} question {name!r} "
                f"(one of {', '.join(allowed)})"
            )
        questions[name].rule = rule


def send(client, dataset_id: str, builder: RecordBuilder, batch_size: int, progress: bool = True) -> None:
    """Upsert every record in batches, with a progress bar."""
    from schemas.progress import bar as progress_bar

    http = client.api.http_client
    bar = progress_bar(total=len(builder), desc="push", unit="rec", disable=not progress)
    try:
        for n, (offset, items) in enumerate(builder.batches(batch_size), start=1):
            upsert_batch(http, dataset_id, items, offset)
            bar.update(len(items))
            fault_point(f"review-push:batch:{n}")
    finally:
        bar.close()


def upsert_batch(http, dataset_id: str, items: list[dict], offset: int) -> None:
    """PUT one bulk upsert; retried on connection errors and 5xx (an upsert is idempotent)."""
    import httpx

    body = orjson.dumps({"items": items}, option=orjson.OPT_SERIALIZE_NUMPY)
    for attempt in range(RETRIES + 1):
        try:
            response = http.put(
                f"/api/v1/datasets/{dataset_id}/records/bulk",
                content=body,
                headers={"content-type": "application/json"},
            )
        except httpx.TransportError as e:
            if attempt == RETRIES:
                raise CurateError(f"Argilla did not answer a bulk upsert after {RETRIES} retries: {e}") from None
        else:
            if response.status_code < 500 or attempt == RETRIES:
                break
        time.sleep(2**attempt)
    if response.status_code >= 400:
        raise CurateError(_bulk_error(response, items, offset))


def _bulk_error(response, items: list[dict], offset: int) -> str:
    detail = response.text[:500]
    m = re.search(r"position (\d+)", detail)
    where = ""
    if m and int(m.group(1)) < len(items):
        where = f" (record_id {items[int(m.group(1))]['external_id']}, row {offset + int(m.group(1)) + 1})"
    return f"Argilla refused a bulk upsert{where}: HTTP {response.status_code}: {detail}"
