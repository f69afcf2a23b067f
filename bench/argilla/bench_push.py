"""Records/s of `curate review push` against the Argilla SDK's own bulk `dataset.records.log`.

    .venv/bin/python bench/argilla/bench_push.py [--records 10000] [--rounds 1]

Both push the same records into fresh datasets with the same settings on the same server, in
alternating order: translation records (the richest type: two markdown fields, ten metadata
properties, an LLM suggestion, and a 384-dimensional vector). Vectors are given as a column (the
benchmark is about the push, not the embedding), fields are rendered before the SDK's clock starts
(the SDK path gets that for free). Also times a second push of the same records (updates).
Prints records/s and the ratio ours / SDK (goal >= 0.8). Uses the running stack (started when
not running; or ARGILLA_API_URL/KEY); its workspace and datasets are deleted at the end. The
stack's own start times: bench/argilla/bench_stack_start.py (on ports of its own).

Both rates are bounded by the server: argilla-server 2.8 builds a pydantic TypeAdapter for every
metadata value of every record it validates, which is most of a bulk upsert's time here.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import polars as pl

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

WORDS = (
    "colleague friend neighbour sister teacher manager partner cousin stranger child lunch car money party "
    "message promise secret gift rent dog garden meeting holiday apology invitation help debt"
).split()


def translation_frame(n: int, dims: int = 384, seed: int = 0) -> pl.DataFrame:
    """`n` records shaped like translate's `translations` config, texts varied by a seeded generator."""
    from schemas.envelope import PROVENANCE_DTYPE, REVIEW_DTYPE, SOURCE_DTYPE, stable_id

    rng = np.random.default_rng(seed)
    fields = [
        "norm",
        "situation",
        "intention",
        "moral_action",
        "moral_consequence",
        "immoral_action",
        "immoral_consequence",
    ]

    def sentence(k: int) -> str:
        return " ".join(rng.choice(WORDS, size=k)).capitalize() + "."

    rows = {f: [sentence(int(rng.integers(6, 18))) for _ in range(n)] for f in fields}
    vectors = rng.normal(size=(n, dims)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    provenance = [
        {
            "step": "translate",
            "version": "1",
            "params": None,
            "model": "bench/model-7b",
            "template_hash": "t",
            "seed": 0,
        }
    ]
    return pl.DataFrame(
        {
            "record_id": [stable_id("bench", i) for i in range(n)],
            "ID": [f"ms-{i}" for i in range(n)],
            **rows,
            "quality": [
                {
                    "detected_lang": "fr",
                    "lang_prob": 0.99,
                    "length_ratio": float(rng.uniform(0.8, 1.3)),
                    "similarity": None,
                    "confidence": float(rng.uniform()),
                    "flags": [],
                    "needs_review_first": bool(i % 7 == 0),
                }
                for i in range(n)
            ],
            "review_priority": pl.Series(range(n), dtype=pl.Int32),
            "source_text": [{f: rows[f][i] for f in fields} for i in range(n)],
            "source": [
                {"dataset": "moral-stories", "file": "bench.parquet", "source_id": f"ms-{i}", "url": None}
                for i in range(n)
            ],
            "license": "cc0-1.0",
            "lang": "fr",
            "split": "train",
            "parallel_id": [stable_id("orig", i) for i in range(n)],
            "provenance": [provenance] * n,
            "review": [{"status": "pending", "annotators": [], "responses": None, "agreement": None}] * n,
            "created_at": datetime.now(UTC),
            "embedding": pl.Series(vectors, dtype=pl.Array(pl.Float32, dims)),
        },
        schema_overrides={"source": SOURCE_DTYPE, "provenance": PROVENANCE_DTYPE, "review": REVIEW_DTYPE},
    )


def write_dataset_dir(frame: pl.DataFrame, root: Path) -> Path:
    out = root / "bench-translate"
    (out / "data" / "translations").mkdir(parents=True)
    frame.write_parquet(out / "data" / "translations" / "train-00000-of-00001.parquet")
    (out / "README.md").write_text("---\nlicense: cc0-1.0\n---\n# bench\n\n## Annotation process\n\nnone\n")
    (out / "report.json").write_text(
        '{"recipe": "translate", "steps": [], "quarantined_total": 0, "notes": [], "facts": {}}'
    )
    return out


def run_ours(client, folder: Path, workspace: str, name: str) -> float:
    from annotation.push import ReviewOptions, push

    result = push(folder, "translations", workspace, ReviewOptions(dataset_name=name), client=client, progress=False)
    assert result.created == result.records, result
    return result.seconds


def run_sdk(client, folder: Path, frame: pl.DataFrame, workspace, name: str) -> float:
    import argilla as rg

    from annotation.push import ReviewOptions, ensure_dataset, record_vectors
    from annotation.records import RecordBuilder
    from annotation.settings import spec_for

    spec = spec_for("translate", "translations", frame)
    vectors, dims = record_vectors(spec, frame, ReviewOptions())
    dataset = ensure_dataset(client, workspace, name, spec, ReviewOptions(), dims)
    ids = {q.name: str(q.id) for q in dataset.settings.questions}
    names = {v: k for k, v in ids.items()}
    items = RecordBuilder(spec, frame, ids, vectors).items(0, frame.height)  # rendered outside the clock
    began = time.monotonic()
    records = [
        rg.Record(
            id=it["external_id"],
            fields=it["fields"],
            metadata=it["metadata"],
            vectors=it.get("vectors"),
            suggestions=[
                rg.Suggestion(
                    question_name=names[s["question_id"]], value=s["value"], agent=s.get("agent"), type="model"
                )
                for s in it.get("suggestions", [])
            ],
        )
        for it in items
    ]
    dataset.records.log(records)
    seconds = time.monotonic() - began
    got = client.api.http_client.get(f"/api/v1/datasets/{dataset.id}/records", params={"limit": 1}).json()["total"]
    assert got == frame.height, got
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=1, help="alternating rounds of ours and the SDK")
    args = parser.parse_args()
    import logging

    logging.getLogger("argilla.sdk").setLevel(logging.WARNING)
    from annotation import stack
    from annotation.push import connect, ensure_workspace

    print(f"load average {os.getloadavg()[0]:.1f}")
    stack.up(verbose=False)
    client = connect()
    workspace = ensure_workspace(client, f"bench-{uuid.uuid4().hex[:8]}")
    frame = translation_frame(args.records)
    ours, sdk = [], []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            folder = write_dataset_dir(frame, Path(tmp))
            for r in range(args.rounds):
                order = [("ours", ours), ("sdk", sdk)] if r % 2 == 0 else [("sdk", sdk), ("ours", ours)]
                for kind, times in order:
                    name = f"{kind}-{r}"
                    seconds = (
                        run_ours(client, folder, workspace.name, name)
                        if kind == "ours"
                        else run_sdk(client, folder, frame, workspace, name)
                    )
                    times.append(seconds)
                    print(
                        f"round {r + 1} {kind:4s}: {args.records / seconds:8.0f} records/s ({seconds:.1f} s)",
                        flush=True,
                    )
            from annotation.push import ReviewOptions, push

            again = push(
                folder,
                "translations",
                workspace.name,
                ReviewOptions(dataset_name="ours-0"),
                client=client,
                progress=False,
            )
            assert again.created == 0 and again.updated == args.records, again
            print(f"re-push (all {args.records} updated, none added): {args.records / again.seconds:.0f} records/s")
    finally:
        for dataset in list(workspace.datasets):
            dataset.delete()
        workspace.delete()
    best_ours, best_sdk = args.records / min(ours), args.records / min(sdk)
    print(
        f"push of {args.records} records: ours {best_ours:.0f} records/s, SDK records.log {best_sdk:.0f} records/s, "
        f"ratio {best_ours / best_sdk:.2f} (goal >= 0.80); load average {os.getloadavg()[0]:.1f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
