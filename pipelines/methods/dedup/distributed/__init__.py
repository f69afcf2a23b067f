"""Exact and near dedup as partitioned Dask stages over parquet files on disk, for inputs that do not
fit one process. Every stage reads and writes files under a work folder, so a worker holds one
partition (or one shard, or one pair of partitions) at a time, whatever the input size, and a rerun
after a crash skips every task whose output is already there (each file is written atomically).

Stages (near; exact is the same with one "band", the hash of the normalised text, and no check):
1. ids: each partition's ids, sorted. A row's global number `gid` is the count of ids below its
   own over all partitions: unique, and in id order, so it plays the part of the single-process
   path's canonical (id) order without a global sort.
2. signatures: per partition, validation (null or repeated id, null text -> quarantine), shingle
   sets (kept on disk for the checks), MinHash, and the LSH band keys written to `shards` files by
   key: the band shuffle.
3. buckets: per shard, rows sharing a band key become candidate pairs (the single-process
   function on global numbers), written per partition of the pair's left row.
4. verify: per partition, its candidate pairs, checked by true Jaccard against the shingle sets of
   the partitions on the other side, one partition at a time.
5. components: union-find per partition's edges, then merged pairwise up a tree (each merge holds
   only the rows that have a duplicate); the label of a cluster is its smallest global number.
6. keep: the policy's row per cluster (the single-process expressions, gid breaking ties as the id
   does there); similarity of each removed row to its kept row, as in step 4.
7. write: per partition, the kept rows and the duplicates; concatenated by a streaming copy.

The results equal the single-process path's (tests/test_dedup_distributed.py checks kept ids,
`duplicate_of` and similarity on a LocalCluster and on an external scheduler).

The code is split by stage: `files` (partitions, plan, atomic stage files), `stages` (ids,
signatures, buckets, verification), `semantic` (vectors, k-means cells, cosine checks), `clusters`
(components, keep policy, similarities, outputs) and `driver` (`run_distributed`).
"""

from pipelines.methods.dedup.distributed.driver import DistributedResult, distributed_stats, plan_for, run_distributed
from pipelines.methods.dedup.distributed.files import (
    GID,
    METHODS,
    POS,
    Part,
    Plan,
    batch_rows_for,
    fingerprint,
    input_files,
    memory_bytes,
    parquet_parts,
    rows_per_partition,
)

__all__ = [
    "GID",
    "METHODS",
    "POS",
    "DistributedResult",
    "Part",
    "Plan",
    "batch_rows_for",
    "distributed_stats",
    "fingerprint",
    "input_files",
    "memory_bytes",
    "parquet_parts",
    "plan_for",
    "rows_per_partition",
    "run_distributed",
]
