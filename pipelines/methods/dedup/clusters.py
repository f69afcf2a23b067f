"""What every dedup method shares: canonical row order, clusters by union-find, the keep policy,
and the step result (kept rows, one duplicates row per removed row, cluster statistics).

Methods that depend on order (near, semantic) process the rows sorted by their id, so they see the
same rows in the same order whatever order the input came in: clusters, and the kept row under the policies `longest`, `highest_score`
and `oldest` (ties broken by id), do not depend on input order. `first` means first in the input,
so it does, by definition.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import polars as pl
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from pipelines.engine.steps import Account, StepResult
from pipelines.methods.dedup.config import DedupConfig
from schemas.errors import CurateError

POS = "_dedup_pos"  # position in the input
CI = "_dedup_ci"  # position in canonical (id) order
CID = "_dedup_cluster"
KEPT = "_dedup_kept_pos"
SIZE = "_dedup_cluster_size"
ROW_ID = "_dedup_row"  # the id used when the table has no id column: 0-based row number
# columns added to the removed rows (StepResult.dropped_rows); `duplicates_table` renames them
DUP_ID, DUP_OF, DUP_SIM, DUP_METHOD = "_dup_id", "_dup_of", "_dup_similarity", "_dup_method"
INTERNAL = (POS, CI, CID, KEPT, SIZE, ROW_ID)


def id_column(data: pl.DataFrame, cfg: DedupConfig) -> str | None:
    if cfg.id_column:
        return cfg.id_column
    return "record_id" if "record_id" in data.columns else None


def canonical(data: pl.DataFrame, cfg: DedupConfig, step: str, ordered: bool = True) -> tuple[pl.DataFrame, str]:
    """The rows (input order) with their input position and their position in id order (`CI`);
    returns the frame and the id column used."""
    needed = [cfg.text_column, cfg.id_column, cfg.score_column, cfg.time_column]
    missing = [c for c in needed if c and c not in data.columns]
    if missing:
        raise CurateError(f"{step}: no column {', '.join(map(repr, missing))}; columns are {', '.join(data.columns)}")
    frame = data.with_row_index(POS)
    ident = id_column(data, cfg)
    if ident is None:
        return frame.with_columns(pl.col(POS).cast(pl.Int64).alias(ROW_ID), pl.col(POS).alias(CI)), ROW_ID
    if frame[ident].null_count() or frame[ident].n_unique() != frame.height:
        repeated = frame[ident].is_duplicated().sum() + frame[ident].null_count()
        raise CurateError(f"{step}: id column {ident!r} has {repeated} null or repeated values; ids must be unique")
    if not ordered:  # a method whose result does not depend on row order (exact)
        return frame, ident
    # ids are unique, so the rank is a permutation; the frame itself is not reordered (cheaper)
    return frame.with_columns((pl.col(ident).rank("ordinal") - 1).cast(pl.UInt32).alias(CI)), ident


def canonical_order(frame: pl.DataFrame) -> np.ndarray:
    """Input positions in id order: `column.gather(canonical_order(frame))` is the column in id order."""
    return frame[CI].arg_sort().to_numpy()


def to_input_order(frame: pl.DataFrame, labels_by_ci: np.ndarray) -> np.ndarray:
    """Labels computed in id order, for the rows in input order."""
    return labels_by_ci[frame[CI].to_numpy()]


def components(n: int, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Cluster label per row from pairs (union-find over the pair graph)."""
    if len(left) == 0:
        return np.arange(n, dtype=np.int64)
    graph = coo_matrix((np.ones(len(left), dtype=np.int8), (left, right)), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    return labels.astype(np.int64)


def representatives(n: int, left: np.ndarray, right: np.ndarray, order: np.ndarray) -> np.ndarray:
    """Cluster label per row without chains: rows are taken in `order` (the keep policy's, the row to
    keep first); a row not yet in a cluster starts one and takes its own unclaimed neighbours. Every
    member is then a direct pair of its cluster's first row, the row the policy keeps."""
    labels = np.arange(n, dtype=np.int64)
    if len(left) == 0:
        return labels
    from scipy.sparse import csr_matrix

    graph = csr_matrix((np.ones(2 * len(left), dtype=np.int8), (np.r_[left, right], np.r_[right, left])), shape=(n, n))
    indptr, indices = graph.indptr, graph.indices
    claimed = np.zeros(n, dtype=bool)
    for row in order[np.diff(indptr)[order] > 0]:  # rows without a pair stay alone
        if claimed[row]:
            continue
        claimed[row] = True
        near = indices[indptr[row] : indptr[row + 1]]
        near = near[~claimed[near]]
        claimed[near] = True
        labels[near] = row
    return labels


def policy_rank(frame: pl.DataFrame, cfg: DedupConfig, ident: str) -> np.ndarray:
    """Input positions in the keep policy's order (the row kept first in a cluster first)."""
    by, desc = _policy_order(cfg, ident)
    return frame.sort(by, descending=desc, nulls_last=True, maintain_order=True)[POS].to_numpy()


def _policy_order(cfg: DedupConfig, ident: str) -> tuple[list[pl.Expr], list[bool]]:
    """Sort keys that put the row to keep first in its cluster; ties go to the smallest id."""
    if cfg.keep == "first":
        return [pl.col(POS)], [False]
    if cfg.keep == "longest":
        return [pl.col(cfg.text_column).cast(pl.String).str.len_chars(), pl.col(ident)], [True, False]
    if cfg.keep == "highest_score":
        return [pl.col(cfg.score_column), pl.col(ident)], [True, False]
    return [pl.col(cfg.time_column), pl.col(ident)], [False, False]  # oldest


def finish(
    step: str,
    method: str,
    frame: pl.DataFrame,
    ident: str,
    labels: np.ndarray,
    similarity: Callable[[np.ndarray, np.ndarray], np.ndarray],
    cfg: DedupConfig,
    params: dict,
) -> StepResult:
    """Kept rows (input order, input columns), removed rows with what they duplicate, account.
    `labels` are per row in input order; `similarity` takes pairs of input positions."""
    tagged = frame.with_columns(pl.Series(CID, labels))
    if cfg.keep == "first":
        # the first row of each cluster in input order: one pass over a hash set, then each removed
        # row finds its kept row by a join (removed rows are few; a window over all rows costs more)
        first = np.zeros(tagged.height, dtype=bool)
        first[tagged[CID].arg_unique().to_numpy()] = True  # (measured: half of is_first_distinct's time)
        kept = tagged.filter(first)
        removed = tagged.filter(~first)
        # the join sees only the kept rows that have duplicates (a few; the hash table stays small)
        kept_of = kept.select(CID, pl.col(POS).alias(KEPT)).filter(pl.col(CID).is_in(removed[CID].implode()))
        removed = removed.join(kept_of, on=CID, how="left", maintain_order="left")
        sizes = removed.group_by(CID).len()["len"] + 1
    else:
        by, desc = _policy_order(cfg, ident)
        kept_pos = pl.col(POS).sort_by(by, descending=desc, nulls_last=True).first().over(CID)
        # one grouping by cluster gives each row its kept row and its cluster's size (polars computes
        # the groups of window expressions over the same key once per context)
        tagged = tagged.with_columns(kept_pos.alias(KEPT), pl.len().over(CID).alias(SIZE))
        is_kept = pl.col(POS) == pl.col(KEPT)
        kept = tagged.filter(is_kept)  # the frame is in input order: so are these
        removed = tagged.filter(~is_kept)
        sizes = kept.filter(pl.col(SIZE) > 1)[SIZE]
    sims = similarity(removed[POS].to_numpy(), removed[KEPT].to_numpy()) if removed.height else np.empty(0)
    removed = removed.with_columns(
        pl.col(ident).alias(DUP_ID),
        tagged[ident].gather(removed[KEPT]).alias(DUP_OF),
        pl.Series(DUP_SIM, np.asarray(sims, dtype=np.float64)),
        pl.lit(method).alias(DUP_METHOD),
        pl.lit(f"duplicate_{method}").alias("_drop_reason"),
    )
    stats = cluster_summary(
        method, params, tagged.height, sizes, removed[DUP_SIM], _examples(tagged, removed, cfg, ident)
    )
    account = Account(
        step, frame.height, kept.height, {f"duplicate_{method}": removed.height} if removed.height else {}, 0, stats
    )
    return StepResult(_without_internal(kept), account, dropped_rows=_without_internal(removed))


def _without_internal(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.drop([c for c in INTERNAL if c in frame.columns])


def duplicates_table(dropped_rows: pl.DataFrame | None) -> pl.DataFrame:
    """`id, duplicate_of, method, similarity`: one row per removed row."""
    if dropped_rows is None or dropped_rows.height == 0:
        return pl.DataFrame(
            schema={"id": pl.String, "duplicate_of": pl.String, "method": pl.String, "similarity": pl.Float64}
        )
    return dropped_rows.select(
        pl.col(DUP_ID).alias("id"),
        pl.col(DUP_OF).alias("duplicate_of"),
        pl.col(DUP_METHOD).alias("method"),
        pl.col(DUP_SIM).alias("similarity"),
    )


def cluster_summary(
    method: str, params: dict, rows: int, sizes: pl.Series, sims: pl.Series, examples: list[dict]
) -> dict:
    """The statistics of a dedup result: `sizes` of the clusters with more than one row, the
    similarity of each removed row to its kept row, and example pairs (shared with the Dask path)."""
    removed = sims.len()
    bins = {"2": (2, 2), "3": (3, 3), "4-10": (4, 10), "11-100": (11, 100), ">100": (101, None)}
    hist = {k: int(((sizes >= lo) & (sizes <= (hi or sizes.max() or 0))).sum()) for k, (lo, hi) in bins.items()}
    return {
        "method": method,
        "params": params,
        "rows": rows,
        "kept": rows - removed,
        "removed": removed,
        "removed_fraction": round(removed / rows, 6) if rows else 0.0,
        "clusters": int(sizes.len()),
        "rows_in_clusters": int(sizes.sum() or 0),
        "largest_cluster": int(sizes.max() or 0) if sizes.len() else 0,
        "cluster_sizes": hist,
        "similarity": _summary(sims),
        "examples": examples,
    }


def _summary(sims: pl.Series) -> dict:
    if sims.len() == 0:
        return {}
    q = {f"p{int(p * 100)}": round(float(sims.quantile(p)), 4) for p in (0.0, 0.1, 0.5, 0.9)}
    return {**q, "mean": round(float(sims.mean()), 4)}


def _examples(tagged: pl.DataFrame, removed: pl.DataFrame, cfg: DedupConfig, ident: str) -> list[dict]:
    """Removed pairs spread over the range of similarity (the least similar ones show where the
    threshold cuts), each with both texts."""
    if removed.height == 0 or cfg.examples <= 0:
        return []
    picks = np.unique(np.linspace(0, removed.height - 1, min(cfg.examples, removed.height)).round().astype(int))
    # the rows at those ranks of the (similarity, id) order: two columns sorted, not the whole frame
    order = removed.select(pl.arg_sort_by(DUP_SIM, DUP_ID)).to_series()
    sample = removed[order.gather(picks).to_list()]
    kept_text = dict(
        zip(sample[KEPT].to_list(), tagged[cfg.text_column].cast(pl.String).gather(sample[KEPT]).to_list())
    )
    out = []
    for row in sample.select(DUP_ID, DUP_OF, DUP_SIM, cfg.text_column, KEPT).iter_rows():
        rid, of, sim, text, kept_pos = row
        out.append(
            {
                "id": _plain(rid),
                "text": clip(text),
                "duplicate_of": _plain(of),
                "kept_text": clip(kept_text.get(kept_pos)),
                "similarity": round(float(sim), 4),
            }
        )
    return out


def clip(text, n: int = 240) -> str | None:
    if text is None:
        return None
    text = str(text)
    return text if len(text) <= n else text[: n - 1] + "…"


def _plain(value):
    return value if isinstance(value, (int, float, str)) or value is None else str(value)
