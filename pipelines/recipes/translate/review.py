"""How people review the translate recipe's configs in Argilla."""

from __future__ import annotations

import polars as pl

from schemas.review import Field, Meta, Question, ReviewSpec, Row, Suggestion, integer, note

STORY_FIELDS = [
    "norm",
    "situation",
    "intention",
    "moral_action",
    "moral_consequence",
    "immoral_action",
    "immoral_consequence",
]


def _story_fields(frame: pl.DataFrame) -> list[str]:
    return [f for f in STORY_FIELDS if f in frame.columns] or [
        c
        for c, t in frame.schema.items()
        if t == pl.String and c not in ("record_id", "license", "lang", "split", "parallel_id")
    ]


def translation_spec(frame: pl.DataFrame) -> ReviewSpec:
    names = _story_fields(frame)

    def source(row: Row) -> str:
        src = row.get("source_text") or {}
        return "\n\n".join(f"**{f}:** {src.get(f)}" for f in names if src.get(f))

    def translation(row: Row) -> str:
        return "\n\n".join(f"**{f}:** {row[f]}" for f in names if row.get(f))

    def as_correction(row: Row) -> str:
        return "\n".join(f"{f}: {row[f]}" for f in names if row.get(f))

    quality = pl.col("quality").struct
    meta = [integer("review_priority")]
    if "quality" in frame.columns:
        meta += [
            Meta("confidence", "float", quality.field("confidence")),
            Meta("length_ratio", "float", quality.field("length_ratio")),
            Meta("detected_lang", "terms", quality.field("detected_lang")),
            Meta("needs_review_first", "terms", quality.field("needs_review_first").cast(pl.String)),
        ]
    return ReviewSpec(
        "Translation",
        fields=[
            Field("original", "Original", source, markdown=True),
            Field("translation", "Translation", translation, markdown=True),
        ],
        questions=[
            Question("meaning", "rating", "Meaning preserved? (1 = lost, 5 = fully)", [1, 2, 3, 4, 5]),
            Question("fluency", "rating", "Fluency and syntax (1 = broken, 5 = native)", [1, 2, 3, 4, 5]),
            Question("names", "label", "Names and cultural context", ["ok", "wrong", "not_applicable"]),
            Question(
                "correction",
                "text",
                "Corrected translation: edit the suggested text (one `field: text` a line)",
                required=False,
            ),
        ],
        metadata=meta,
        suggestions=[Suggestion("correction", as_correction, step="translate")],
        embed_text=lambda r: r.get("situation") or translation(r),
        guidelines="Rate each machine translation as a native speaker (after Histoires Morales), and correct it "
        "in the text box: the model's translation is pre-filled.",
    )


def story_spec(frame: pl.DataFrame) -> ReviewSpec:
    names = _story_fields(frame)
    return ReviewSpec(
        "MoralStory",
        fields=[
            Field("story", "Story", lambda r: "\n\n".join(f"**{f}:** {r[f]}" for f in names if r.get(f)), markdown=True)
        ],
        questions=[
            Question(
                "coherent",
                "label",
                "Is the story coherent (norm, actions and consequences fit)?",
                ["yes", "no", "unsure"],
            ),
            note(),
        ],
        embed_text=lambda r: r.get("situation") or r.get(names[0]),
        guidelines="Check that the source stories are coherent before they are translated.",
    )


SPECS = {"translations": translation_spec, "originals": story_spec}
