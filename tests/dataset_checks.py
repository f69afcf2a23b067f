"""What a model builder does with any folder curate writes: load every config with
`datasets.load_dataset`, every declared split present, `train` among them."""

from __future__ import annotations

from pathlib import Path

import polars as pl


def declared_configs(folder: Path) -> dict[str, list[str]]:
    """config -> its splits, as the card's YAML header declares them (datasets' own reader)."""
    from datasets.utils.metadata import MetadataConfigs
    from huggingface_hub import DatasetCard

    configs = MetadataConfigs.from_dataset_card_data(DatasetCard.load(folder / "README.md").data)
    return {name: [entry["split"] for entry in cfg["data_files"]] for name, cfg in configs.items()}


def load_every_config(folder: Path, cache_dir: str) -> dict[str, int]:
    """config -> rows, for every folder under data/: a declared config loads whole with
    `load_dataset` (every declared split, train included, rows as on disk); an undeclared one holds
    no rows, a schema polars reads, and the card says it is empty."""
    import datasets

    declared = declared_configs(folder)
    card = (folder / "README.md").read_text()
    rows: dict[str, int] = {}
    for path in sorted(p for p in (folder / "data").iterdir() if p.is_dir()):
        name = path.name
        on_disk = pl.read_parquet(path / "*.parquet")
        if name not in declared:
            assert on_disk.height == 0, f"{folder}: config {name} has {on_disk.height} rows but is not declared"
            assert on_disk.width > 0 and f"### Config `{name}`: 0 rows" in card and "Empty in this version" in card
            rows[name] = 0
            continue
        ds = datasets.load_dataset(str(folder), name, cache_dir=cache_dir)
        assert sorted(ds) == sorted(declared[name]) and "train" in ds, (name, list(ds), declared[name])
        assert all(len(ds[s]) > 0 for s in ds), {s: len(ds[s]) for s in ds}
        assert sum(len(ds[s]) for s in ds) == on_disk.height
        rows[name] = on_disk.height
    assert set(declared) <= set(rows), f"declared but missing under data/: {set(declared) - set(rows)}"
    return rows
