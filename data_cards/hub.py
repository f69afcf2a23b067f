"""What a published folder holds, the way Hub datasets are: `string` (not `large_string`) columns,
train/validation/test splits by a hash of a grouping key, `dataset_info` features with ClassLabel
for categorical columns, shards and row groups sized by bytes, and card metadata the Hub reads.

The per-recipe choices (which column groups rows so that nothing leaks across splits, which columns
are categorical, how the data relates to its sources) are a `HubSpec` that each recipe declares in its
folder (`Recipe.hub`, in its card.py); a recipe's config file overrides the split with
`splits: {fractions: {...}, keys: {config: column}}`.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
from pydantic import BaseModel

from data_cards.licenses import OTHER
from schemas.errors import CurateError

SPLITS = ("train", "validation", "test")
DEFAULT_FRACTIONS = {"train": 0.8, "validation": 0.1, "test": 0.1}
SPLIT_SALT = b"curate-split-v1"  # part of every split hash: changing it reshuffles every published split


@dataclass
class HubSpec:
    """A recipe's publishing choices. `split_keys`: config -> column(s) whose value groups rows (one
    respondent, thread, story, persona stays in one split); None keeps a reference table whole in
    `train`. `class_labels`: config -> column -> label names (ClassLabel)."""

    split_keys: dict[str, str | list[str] | None] = field(default_factory=dict)
    class_labels: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    source_datasets: list[str] = field(default_factory=lambda: ["original"])
    multilinguality: str = "monolingual"
    annotations_creators: list[str] = field(default_factory=lambda: ["no-annotation"])
    language_creators: list[str] = field(default_factory=lambda: ["found"])


class SplitOptions(BaseModel):
    """A recipe config's `splits:` section. `fractions`: {train, validation, test} -> share (sum 1);
    `keys`: config -> grouping column, list of columns, or null (all rows in train)."""

    model_config = {"extra": "forbid"}

    fractions: dict[str, float] | None = None
    keys: dict[str, str | list[str] | None] | None = None


# -- splits --------------------------------------------------------------------------------------


def split_of(key: str, fractions: dict[str, float]) -> str:
    """The split of one grouping key: blake2b of the salted key as a number in [0, 1), cut by the
    cumulative fractions. Depends on nothing but the key and the fractions, so a respondent keeps its
    split in every version and on every machine (polars' own hash is not stable across releases)."""
    digest = hashlib.blake2b(key.encode(), key=SPLIT_SALT, digest_size=8).digest()
    u = int.from_bytes(digest, "big") / 2**64
    edge = 0.0
    names = [s for s in SPLITS if fractions.get(s, 0) > 0]
    for name in names:
        edge += fractions[name]
        if u < edge:
            return name
    return names[-1]


def check_fractions(fractions: dict[str, float]) -> dict[str, float]:
    unknown = set(fractions) - set(SPLITS)
    if unknown:
        raise CurateError(f"splits: unknown split {sorted(unknown)}; use {', '.join(SPLITS)}")
    if any(v < 0 for v in fractions.values()) or abs(sum(fractions.values()) - 1) > 1e-9 or not fractions.get("train"):
        raise CurateError(f"splits: fractions {fractions} must be >= 0, include train, and sum to 1")
    return fractions


def assign_splits(frame: pl.DataFrame, key: str | list[str] | None, fractions: dict[str, float]) -> pl.DataFrame:
    """Set the envelope's `split` column from the grouping key (every row in `train` without one)."""
    if key is None or frame.height == 0:
        return frame.with_columns(pl.lit("train").alias("split"))
    keys = [key] if isinstance(key, str) else list(key)
    missing = [k for k in keys if k not in frame.columns]
    if missing:
        raise CurateError(
            f"splits: grouping column {missing} is not in the config (columns: {', '.join(frame.columns)})"
        )
    joined = pl.concat_str([pl.col(k).cast(pl.String).fill_null("") for k in keys], separator="\x1f")
    values = frame.select(joined.alias("_k"))["_k"].unique()
    table = pl.DataFrame({"_k": values, "split": [split_of(v, fractions) for v in values]})
    return (
        frame.with_columns(joined.alias("_k"))
        .drop("split")
        .join(table, on="_k", how="left")
        .drop("_k")
        .select(frame.columns)
    )


# -- arrow types ---------------------------------------------------------------------------------


def _hub_type(t: pa.DataType) -> pa.DataType:
    if pa.types.is_large_string(t) or pa.types.is_string_view(t):
        return pa.string()
    if pa.types.is_large_binary(t) or pa.types.is_binary_view(t):
        return pa.binary()
    if pa.types.is_large_list(t) or pa.types.is_list_view(t) or pa.types.is_large_list_view(t):
        return pa.list_(_hub_field(t.value_field))
    if pa.types.is_list(t):
        return pa.list_(_hub_field(t.value_field))
    if pa.types.is_fixed_size_list(t):
        return pa.list_(_hub_field(t.value_field), t.list_size)
    if pa.types.is_struct(t):
        return pa.struct([_hub_field(t.field(i)) for i in range(t.num_fields)])
    return t


def _hub_field(f: pa.Field) -> pa.Field:
    return pa.field(f.name, _hub_type(f.type), f.nullable)


def hub_table(frame: pl.DataFrame) -> pa.Table:
    """The frame as Arrow with the types Hub datasets use: `string`, `binary`, `list` (polars
    writes `large_string` and `large_list`, which `concatenate_datasets` will not mix with `string`)."""
    table = frame.to_arrow()
    schema = pa.schema([_hub_field(f) for f in table.schema])
    return table.cast(schema)


# -- features ------------------------------------------------------------------------------------


def features_for(table: pa.Table, class_labels: dict[str, list[str]] | None = None):
    """`datasets.Features` of a config: inferred from the Arrow schema, with ClassLabel for the
    columns the recipe declares categorical (the parquet keeps the label text; `datasets` maps it)."""
    import datasets

    features = datasets.Features.from_arrow_schema(table.schema)
    for column, names in (class_labels or {}).items():
        if column in features:
            features[column] = datasets.ClassLabel(names=list(names))
    return features


def check_labels(frame: pl.DataFrame, class_labels: dict[str, list[str]], config: str) -> None:
    for column, names in class_labels.items():
        if column in frame.columns:
            extra = set(frame[column].drop_nulls().unique().to_list()) - set(names)
            if extra:
                raise CurateError(
                    f"config {config!r}: column {column!r} has values {sorted(extra)} outside its labels {names}"
                )


# -- shards and row groups -----------------------------------------------------------------------


def _size(text: str) -> int:
    from datasets.utils.py_utils import convert_file_size_to_int

    return convert_file_size_to_int(text)


def max_shard_bytes() -> int:
    import datasets

    return _size(datasets.config.MAX_SHARD_SIZE)


def max_row_group_bytes() -> int:
    import datasets

    return _size(datasets.config.MAX_ROW_GROUP_SIZE)


def rows_for_bytes(table: pa.Table, limit: int) -> int:
    """How many rows fit in `limit` bytes of Arrow data, at this table's mean row size."""
    if table.num_rows == 0:
        return 1
    per_row = max(1, table.nbytes // table.num_rows)
    return max(1, limit // per_row)


def shards(table: pa.Table, shard_bytes: int | None = None) -> list[pa.Table]:
    rows = rows_for_bytes(table, shard_bytes or max_shard_bytes())
    if table.num_rows <= rows:
        return [table]
    return [table.slice(i, rows) for i in range(0, table.num_rows, rows)]


def features_metadata(features) -> bytes:
    """The parquet schema metadata under which `datasets` (and `push_to_hub`) keep a file's features."""
    return json.dumps({"info": {"features": features.to_dict()}}).encode()


def write_parquet(table: pa.Table, path: Path, features=None, row_group_bytes: int | None = None) -> None:
    """One shard, written to a temporary name and renamed; row groups cut by bytes (random access
    reads one row group), `datasets` features in the schema metadata as `push_to_hub` writes them."""
    import pyarrow.parquet as pq

    if features is not None:
        meta = dict(table.schema.metadata or {})
        meta[b"huggingface"] = features_metadata(features)
        table = table.replace_schema_metadata(meta)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    if table.num_rows == 0:  # schema only, no row group (an empty row group is a read error in datasets)
        pq.ParquetWriter(tmp, table.schema).close()
        tmp.replace(path)
        return
    pq.write_table(
        table, tmp, compression="zstd", row_group_size=rows_for_bytes(table, row_group_bytes or max_row_group_bytes())
    )
    tmp.replace(path)


# -- card metadata -------------------------------------------------------------------------------


def card_metadata(
    card, spec: HubSpec, configs: dict[str, dict[str, Any]], total_rows: int, data_dir: str
) -> dict[str, Any]:
    """The YAML header, built with huggingface_hub's DatasetCardData and datasets' own writers of
    `configs` and `dataset_info`. `configs`: name -> {"splits": {split: (rows, bytes)}, "features"}."""
    import datasets
    from datasets.info import DatasetInfosDict
    from datasets.utils.metadata import MetadataConfigs
    from huggingface_hub import DatasetCardData

    languages = card.languages or ["en"]
    license, license_name = (
        ("other", card.license[len(OTHER) :]) if card.license.startswith(OTHER) else (card.license, None)
    )
    data = DatasetCardData(
        pretty_name=" ".join(card.pretty_name.split()),
        license=license,
        **({"license_name": license_name} if license_name else {}),
        language=languages,
        multilinguality=spec.multilinguality
        if spec.multilinguality != "monolingual" or len(languages) == 1
        else "multilingual",
        size_categories=[size_category(total_rows)],
        source_datasets=[
            x if x == "original" or x.startswith(("extended", "original|")) else f"extended|{x}"
            for x in card.source_datasets
        ]
        or spec.source_datasets,
        task_categories=card.task_categories,
        annotations_creators=spec.annotations_creators,
        language_creators=spec.language_creators,
        tags=card.tags or None,
    )
    configs = {name: view for name, view in configs.items() if view["splits"]}  # datasets cannot load an empty one
    MetadataConfigs(
        {
            name: {
                "data_files": [{"split": s, "path": f"{data_dir}/{name}/{s}-*.parquet"} for s in view["splits"]],
                **({"default": True} if i == 0 else {}),
            }
            for i, (name, view) in enumerate(configs.items())
        }
    ).to_dataset_card_data(data)
    infos = DatasetInfosDict(
        {
            name: datasets.DatasetInfo(
                config_name=name,
                features=view["features"],
                splits=datasets.SplitDict(
                    {s: datasets.SplitInfo(name=s, num_examples=n, num_bytes=b) for s, (n, b) in view["splits"].items()}
                ),
                dataset_size=sum(b for _, b in view["splits"].values()),
                download_size=view.get("download_size"),
            )
            for name, view in configs.items()
        }
    )
    infos.to_dataset_card_data(data)
    return data


def validate_card_offline(folder: Path) -> list[str]:
    """What the Hub would reject or `datasets` misread, checked without the network: the YAML parses
    with huggingface_hub, its values are in the lists `datasets` ships (languages, multilinguality,
    size categories, creators), `configs` and `dataset_info` read back with datasets' own readers and
    agree with the files, and every linked figure exists. Returns the problems (empty: valid)."""
    import re

    import datasets
    from datasets.info import DatasetInfosDict
    from datasets.utils.metadata import MetadataConfigs
    from huggingface_hub import DatasetCard

    resources = Path(datasets.__file__).parent / "utils" / "resources"
    known = {
        name: json.loads((resources / f"{name}.json").read_text())
        for name in ("languages", "multilingualities", "size_categories", "creators")
    }
    problems: list[str] = []
    card = DatasetCard.load(folder / "README.md")
    data = card.data.to_dict()
    for key in (
        "license",
        "language",
        "task_categories",
        "size_categories",
        "source_datasets",
        "pretty_name",
        "multilinguality",
        "configs",
        "dataset_info",
    ):
        if not data.get(key):
            problems.append(f"header: {key} is missing")
    problems += [f"language {x!r} unknown" for x in data.get("language", []) if x not in known["languages"]]
    problems += [
        f"size category {x!r} unknown" for x in data.get("size_categories", []) if x not in known["size_categories"]
    ]
    multi = data.get("multilinguality") or []
    problems += [
        f"multilinguality {x!r} unknown"
        for x in ([multi] if isinstance(multi, str) else multi)
        if x not in known["multilingualities"]
    ]
    for key, allowed in (
        ("annotations_creators", known["creators"]["annotations"]),
        ("language_creators", known["creators"]["language"]),
    ):
        problems += [f"{key} {x!r} unknown" for x in data.get(key) or [] if x not in allowed]
    for x in data.get("source_datasets") or []:
        if not (x == "original" or x.startswith("extended") or x.startswith("original|")):
            problems.append(f"source_datasets {x!r}: expected original or extended|<dataset>")
    configs = MetadataConfigs.from_dataset_card_data(card.data)
    infos = DatasetInfosDict.from_dataset_card_data(card.data)
    for name, cfg in configs.items():
        info = infos.get(name)
        if info is None:
            problems.append(f"config {name!r} has no dataset_info")
            continue
        for entry in cfg["data_files"]:
            files = sorted(folder.glob(entry["path"]))
            if not files:
                problems.append(f"config {name!r} split {entry['split']!r}: no file matches {entry['path']}")
                continue
            import pyarrow.parquet as pq

            rows = sum(pq.ParquetFile(f).metadata.num_rows for f in files)
            declared = info.splits[entry["split"]].num_examples if entry["split"] in (info.splits or {}) else None
            if declared != rows:
                problems.append(
                    f"config {name!r} split {entry['split']!r}: dataset_info says {declared} rows, files hold {rows}"
                )
            schema = pq.read_schema(files[0])
            if set(schema.names) != set(info.features):
                problems.append(
                    f"config {name!r}: features {sorted(info.features)} differ from the columns {sorted(schema.names)}"
                )
            large = [f.name for f in schema if "large" in str(f.type)]
            if large:
                problems.append(f"config {name!r}: large Arrow types in {large}")
    for path in re.findall(r"!\[[^\]]*\]\(([^)]+)\)", card.text):
        if not (folder / path).exists():
            problems.append(f"figure {path} is linked but missing")
    return problems


def class_labels_in_card(readme: Path) -> dict[str, dict[str, list[str]]]:
    """config -> column -> label names, from a card's `dataset_info` (to write a config again with
    the same ClassLabels, as `curate review pull` does)."""
    import datasets
    from datasets.info import DatasetInfosDict
    from huggingface_hub import DatasetCard

    if not readme.exists():
        return {}
    infos = DatasetInfosDict.from_dataset_card_data(DatasetCard.load(readme).data)
    return {
        name: {col: list(f.names) for col, f in (info.features or {}).items() if isinstance(f, datasets.ClassLabel)}
        for name, info in infos.items()
    }


def refresh_card_metadata(readme: Path, views: dict[str, dict[str, Any]], data_dir: str = "data") -> None:
    """Rewrite the `configs` and `dataset_info` of the configs in `views` (written again by
    `layout.write_config`, e.g. with review columns added), keeping the rest of the card."""
    import datasets
    from datasets.info import DatasetInfosDict
    from datasets.utils.metadata import MetadataConfigs
    from huggingface_hub import DatasetCard

    card = DatasetCard.load(readme)
    configs = MetadataConfigs.from_dataset_card_data(card.data)
    infos = DatasetInfosDict.from_dataset_card_data(card.data)
    for name, view in views.items():
        if not view["splits"]:  # no rows: not declared (datasets 5.2 cannot load an empty split)
            configs.pop(name, None)
            infos.pop(name, None)
            continue
        entry = configs.get(name, {})
        entry["data_files"] = [{"split": s, "path": f"{data_dir}/{name}/{s}-*.parquet"} for s in view["splits"]]
        configs[name] = entry
        infos[name] = datasets.DatasetInfo(
            config_name=name,
            features=view["features"],
            splits=datasets.SplitDict(
                {s: datasets.SplitInfo(name=s, num_examples=n, num_bytes=b) for s, (n, b) in view["splits"].items()}
            ),
            dataset_size=sum(b for _, b in view["splits"].values()),
            download_size=view.get("download_size"),
        )
    configs.to_dataset_card_data(card.data)
    infos.to_dataset_card_data(card.data)
    card.save(readme)


SIZE_BOUNDS = [
    (1_000, "n<1K"),
    (10_000, "1K<n<10K"),
    (100_000, "10K<n<100K"),
    (1_000_000, "100K<n<1M"),
    (10_000_000, "1M<n<10M"),
    (100_000_000, "10M<n<100M"),
]


def size_category(n: int) -> str:
    for bound, label in SIZE_BOUNDS:
        if n < bound:
            return label
    return "100M<n<1B"
