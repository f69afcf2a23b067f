"""The embedding step with the real offline MiniLM, and its shared cache (concurrent writers too)."""

from __future__ import annotations

import multiprocessing as mp
import os

import numpy as np
import polars as pl
import pytest

from pipelines.methods.embed import (
    EmbedConfig,
    EmbeddingCache,
    EmbedStep,
    cpu_has_native_bf16,
    embed_texts,
    encode_sorted,
    load_model,
    resolve_device,
    resolve_precision,
    text_hashes,
)

TEXTS = [
    "Short one.",
    "A much longer sentence that goes on for a while, so that its batch needs far more padding than the others.",
    "Medium length sentence about the weather today.",
    "Short one.",  # repeated: embedded once
    "Another text of some length, with a clause or two.",
]


@pytest.fixture
def cfg(tmp_path) -> EmbedConfig:
    # torch fp32, so that vectors compare exactly with the bare model; the CPU default is tested below
    return EmbedConfig(cache_dir=str(tmp_path / "emb"), batch_size=2, shard_rows=2, backend="torch")


def bare_encode(texts: list[str]) -> np.ndarray:
    return load_model(None, "cpu", "fp32").encode(texts, normalize_embeddings=True, convert_to_numpy=True)


def test_step_adds_embeddings_in_input_order(cfg):
    data = pl.DataFrame({"id": range(len(TEXTS)), "text": TEXTS})
    result = EmbedStep(cfg).run(data)
    out = result.data
    assert out.columns == ["id", "text", "embedding"]
    assert out.schema["embedding"] == pl.Array(pl.Float32, 384)
    vectors = out["embedding"].to_numpy()
    # each row's vector is the model's vector of that row's text, one text at a time
    for text, vec in zip(TEXTS, vectors):
        assert np.allclose(vec, bare_encode([text])[0], atol=1e-5)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert result.account.extra["unique_texts"] == 4 and result.account.extra["embedded"] == 4


def test_length_sorting_restores_order():
    model = load_model(None, "cpu", "fp32")
    texts = [t * k for k, t in enumerate(["a b c ", "dog cat ", "x "], start=1)] * 3
    got = encode_sorted(model, texts, batch_size=2, normalize=True)
    assert np.allclose(got, bare_encode(texts), atol=1e-5)


def test_null_text_is_quarantined(cfg):
    result = EmbedStep(cfg).run(pl.DataFrame({"text": ["hello", None]}))
    assert result.data.height == 1
    assert result.account.quarantined == 1
    assert result.quarantine["row"].to_list() == [2] and result.quarantine["field"].to_list() == ["text"]


def test_cache_embeds_only_new_texts(cfg):
    stats: dict = {}
    first = embed_texts(TEXTS, cfg, stats=stats)
    assert stats == {"unique_texts": 4, "from_cache": 0, "embedded": 4}
    more = TEXTS + ["A new sentence nobody embedded before."]
    stats = {}
    second = embed_texts(more, cfg, stats=stats)
    assert stats == {"unique_texts": 5, "from_cache": 4, "embedded": 1}
    assert np.array_equal(second[: len(TEXTS)], first)
    cache = EmbeddingCache.for_config(cfg, resolve_device(cfg.device))
    assert len(cache.shards()) >= 2 and not list(cache.dir.glob(".*.tmp"))


def test_cache_is_per_model_setting(cfg):
    plain = EmbeddingCache.for_config(cfg, "cpu")
    assert EmbeddingCache.for_config(cfg.model_copy(update={"normalize": False}), "cpu").dir != plain.dir
    assert EmbeddingCache.for_config(cfg.model_copy(update={"precision": "fp16"}), "cpu").dir != plain.dir
    assert EmbeddingCache.for_config(cfg, "cpu").dir == plain.dir


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(axis=1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)


def test_openvino_is_within_cosine_0_9999_of_fp32_torch(tmp_path):
    """OpenVINO (the default on a CPU with native bf16; bf16 there, fp32 elsewhere) is exported once into
    the cache's models/ folder and read from there the next time; its vectors are the fp32 model's to a
    cosine of 0.9999 on real sentences of every length (bench/embed measures the speed)."""
    import sys

    sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "bench", "dedup"))
    from corpus import real_sentences

    texts = TEXTS + real_sentences()[:300]
    cfg = EmbedConfig(cache_dir=str(tmp_path / "emb"), backend="openvino")
    result = EmbedStep(cfg).run(pl.DataFrame({"text": texts}))
    extra = result.account.extra
    assert extra["backend"] == "openvino"
    assert extra["precision"] == ("bf16" if cpu_has_native_bf16() else "fp32")
    vectors = result.data["embedding"].to_numpy()
    assert cosines(vectors, bare_encode(texts)).min() >= 0.9999
    exported = list((tmp_path / "emb" / "models").glob("openvino-*/openvino/openvino_model.xml"))
    assert len(exported) == 1 and not list((tmp_path / "emb" / "models").glob(".*tmp"))
    # a second process-level load reads the export: same vectors, no new export folder
    load_model.cache_clear()
    again = embed_texts(texts, cfg.model_copy(update={"cache": False}))
    assert np.allclose(again, vectors, atol=1e-6)
    assert len(list((tmp_path / "emb" / "models").iterdir())) == 1
    # vectors of different backends never share a cache folder; torch keeps the folder it had before
    torch_cache = EmbeddingCache.for_config(cfg.model_copy(update={"backend": "torch"}), "cpu")
    assert EmbeddingCache.for_config(cfg, "cpu").dir != torch_cache.dir


def test_precision_auto_follows_device_backend_and_cpu(monkeypatch):
    import pipelines.methods.embed as embed

    assert resolve_precision("auto", "cuda", "auto") == "fp16"
    assert resolve_precision("auto", "cpu", "torch") == "fp32"
    assert resolve_precision("fp32", "cpu", "openvino") == "fp32"
    monkeypatch.setattr(embed, "cpu_has_native_bf16", lambda: False)
    assert resolve_precision("auto", "cpu", "auto") == "fp32" and embed.resolve_backend("auto", "cpu") == "torch"
    assert resolve_precision("auto", "cpu", "openvino") == "fp32"
    monkeypatch.setattr(embed, "cpu_has_native_bf16", lambda: True)
    assert resolve_precision("auto", "cpu", "auto") == "bf16" and embed.resolve_backend("auto", "cpu") == "openvino"
    assert embed.resolve_backend("auto", "cuda:1") == "torch"


def test_backends_that_cannot_run_here_say_why():
    from schemas.errors import CurateError

    with pytest.raises(CurateError, match="backend openvino runs on the CPU"):
        load_model(None, "cuda", "fp16", "openvino")
    try:
        import optimum.onnxruntime  # noqa: F401
    except ImportError:
        with pytest.raises(CurateError, match="backend onnx needs optimum-onnx"):
            load_model(None, "cpu", "fp32", "onnx")
    with pytest.raises(ValueError, match="backend"):
        EmbedConfig(backend="tensorrt")


def test_missing_model_is_a_clear_error(tmp_path):
    from schemas.errors import CurateError

    with pytest.raises(CurateError, match="cannot be loaded offline"):
        load_model(str(tmp_path / "no-such-model"), "cpu", "fp32")


# -- concurrent writers --------------------------------------------------------------------------


def _writer(root: str, worker: int, rounds: int) -> None:
    cache = EmbeddingCache(root, "k")
    cache.MAX_SHARDS = 8  # compact often, while others read and write
    rng = np.random.default_rng(worker)
    for _ in range(rounds):
        texts = [f"text {i}" for i in rng.choice(300, size=20, replace=False)]
        vectors = _vector_of(texts)
        cache.add(text_hashes(texts), vectors)
        found = cache.lookup(text_hashes(texts))
        assert len(found) == len(texts)


def _vector_of(texts: list[str]) -> np.ndarray:
    # a vector that is a function of the text, so any mix-up between writers shows
    return np.array([[float(t.split()[1]), len(t), 1.0] for t in texts], dtype=np.float32)


def test_two_concurrent_writers_share_a_cache(tmp_path):
    root = str(tmp_path / "shared")
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(root, w, 25)) for w in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0, 0]
    cache = EmbeddingCache(root, "k")
    texts = [f"text {i}" for i in range(300)]
    found = cache.lookup(text_hashes(texts))
    assert len(found) > 200  # 2 x 25 x 20 draws from 300 texts
    for text, h in zip(texts, text_hashes(texts)):
        if h in found:
            assert np.array_equal(found[h], _vector_of([text])[0])
    assert not list(cache.dir.glob(".*.tmp"))


def _embed_worker(root: str, texts: list[str], out: str) -> None:
    os.environ["HF_HUB_OFFLINE"] = "1"
    vectors = embed_texts(texts, EmbedConfig(cache_dir=root, shard_rows=3))
    np.save(out, vectors)


@pytest.mark.integration
def test_two_runs_embedding_at_once_share_the_cache(tmp_path):
    root = str(tmp_path / "emb")
    a = [f"Sentence number {i} about apples." for i in range(12)]
    b = a[6:] + [f"Sentence number {i} about pears." for i in range(6)]
    ctx = mp.get_context("spawn")
    procs = [
        ctx.Process(target=_embed_worker, args=(root, t, str(tmp_path / f"{n}.npy"))) for n, t in (("a", a), ("b", b))
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(600)
    assert [p.exitcode for p in procs] == [0, 0]
    stats: dict = {}
    both = embed_texts(a + b, EmbedConfig(cache_dir=root), stats=stats)
    assert stats["embedded"] == 0 and stats["from_cache"] == 18
    assert np.allclose(both[: len(a)], np.load(tmp_path / "a.npy"), atol=1e-6)
    assert np.allclose(both[len(a) :], np.load(tmp_path / "b.npy"), atol=1e-6)


@pytest.mark.integration
def test_shards_embed_on_dask_workers(tmp_path):
    from pipelines.engine.dask_runtime import DaskRuntime

    texts = [f"Item {i}: a short sentence for the cluster." for i in range(9)]
    cfg = EmbedConfig(cache_dir=str(tmp_path / "emb"), shard_rows=3)
    with DaskRuntime() as dask:
        vectors = embed_texts(texts, cfg, dask=dask)
    alone = embed_texts(texts, cfg.model_copy(update={"cache": False}))  # the same backend, in this process
    assert np.allclose(vectors, alone, atol=1e-5)
    assert cosines(vectors, bare_encode(texts)).min() >= 0.9999
    stats: dict = {}
    embed_texts(texts, cfg, stats=stats)  # the workers wrote their shards to the shared cache
    assert stats["from_cache"] == 9


@pytest.mark.gpu
def test_gpu_uses_cuda_and_fp16(tmp_path):
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device on this machine")
    model = load_model(None, "auto", "auto")
    assert next(model.parameters()).dtype == torch.float16
    vectors = embed_texts(TEXTS, EmbedConfig(cache_dir=str(tmp_path / "emb")))
    assert np.allclose(vectors, bare_encode(TEXTS), atol=2e-2)


def test_a_machine_without_a_gpu_driver_resolves_the_cpu_without_importing_torch():
    """A run whose embeddings all come from the cache never loads torch (1.4 s of start-up) there."""
    import subprocess
    import sys

    from pipelines.methods.embed import gpu_driver_present

    if gpu_driver_present():
        pytest.skip("this machine has a GPU driver: torch decides the device")
    code = (
        "import sys; from pipelines.methods.embed import resolve_device, embedding_runtime; "
        "print(resolve_device('auto'), embedding_runtime(None), 'torch' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
    )
    assert out.stdout.split() == ["cpu", "None", "False"]


def test_where_embeddings_are_cached_is_not_part_of_the_step_key(tmp_path):
    from pipelines.engine.cache import step_key

    a = EmbedStep(EmbedConfig(cache_dir=str(tmp_path / "a"), batch_size=8, shard_rows=100))
    b = EmbedStep(EmbedConfig(cache_dir=str(tmp_path / "b"), batch_size=64))
    assert "cache_dir" not in a.params() and a.params() == b.params()
    assert step_key(a, "in") == step_key(b, "in")
    assert step_key(EmbedStep(EmbedConfig(normalize=False)), "in") != step_key(b, "in")  # what changes vectors counts


# -- static (model2vec) --------------------------------------------------------------------------


@pytest.mark.integration
def test_static_method_distills_once_then_reads_its_folder_and_dedups(tmp_path):
    """`method: static` distils model2vec vectors from the shipped MiniLM on first use (offline) into
    the cache's models/ folder; later loads read that folder, a model2vec folder by path gives the same
    vectors, the cache keys differ from the transformer's, and semantic dedup runs on them."""
    from pipelines.methods.dedup import SemanticConfig, SemanticDedup
    from pipelines.methods.embed import load_static
    from schemas.errors import CurateError

    cfg = EmbedConfig(method="static", cache_dir=str(tmp_path / "emb"))
    result = EmbedStep(cfg).run(pl.DataFrame({"text": TEXTS}))
    vectors = result.data["embedding"].to_numpy()
    assert vectors.shape == (len(TEXTS), 256) and result.account.extra["method"] == "static (model2vec)"
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert np.array_equal(vectors[0], vectors[3])  # the same text, the same vector
    folders = list((tmp_path / "emb" / "models").glob("static-*"))
    assert len(folders) == 1 and (folders[0] / "model.safetensors").is_file()
    load_static.cache_clear()
    again = embed_texts(TEXTS, cfg.model_copy(update={"cache": False}))
    assert np.allclose(again, vectors, atol=1e-6)
    assert len(list((tmp_path / "emb" / "models").iterdir())) == 1  # read, not distilled again
    by_path = embed_texts(TEXTS, EmbedConfig(method="static", static_model=str(folders[0]), cache=False))
    assert np.allclose(by_path, vectors, atol=1e-6)
    assert (
        EmbeddingCache.for_config(cfg, "cpu").dir
        != EmbeddingCache.for_config(EmbedConfig(**{"cache_dir": cfg.cache_dir}), "cpu").dir
    )
    with pytest.raises(CurateError, match="static embedding model .* cannot be loaded offline"):
        embed_texts(TEXTS, EmbedConfig(method="static", static_model=str(tmp_path / "nothing"), cache=False))
    # semantic dedup on static vectors: a reworded copy goes, a different sentence stays
    texts = ["The function returns the number of rows.", "The function returns the number of rows!", "Cats sleep."]
    data = pl.DataFrame({"id": [1, 2, 3], "text": texts})
    out = SemanticDedup(SemanticConfig(id_column="id", embed=cfg)).run(data)
    assert out.data["id"].to_list() == [1, 3]


@pytest.mark.integration
def test_int8_openvino_is_close_to_fp32_and_exported_apart(tmp_path):
    """precision int8 (OpenVINO, int8 weights): vectors within cosine 0.995 of fp32 torch on real
    sentences, an export folder of its own (the bf16 export is not reused), and torch refuses it."""
    import sys

    from schemas.errors import CurateError

    sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "bench", "dedup"))
    from corpus import real_sentences

    texts = real_sentences()[:200]
    cfg = EmbedConfig(cache_dir=str(tmp_path / "emb"), backend="openvino", precision="int8", cache=False)
    vectors = embed_texts(texts, cfg)
    cos = cosines(vectors, bare_encode(texts))
    assert cos.min() >= 0.995 and cos.mean() >= 0.999
    assert [p.name.split("-")[1] for p in (tmp_path / "emb" / "models").iterdir()] == ["int8"]
    load_model.cache_clear()
    assert np.allclose(embed_texts(texts, cfg), vectors, atol=1e-6)  # read back from its export
    with pytest.raises(CurateError, match="int8 runs with backend openvino"):
        load_model(None, "cpu", "int8", "torch")
