"""Dedup steps (exact, near, semantic) and the invariants: every id kept or listed as a
duplicate exactly once, and results that do not depend on input order (the CLI: test_dedup_cli.py)."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from pipelines.methods.dedup import (
    ExactConfig,
    ExactDedup,
    NearConfig,
    NearDedup,
    Normalization,
    SemanticConfig,
    SemanticDedup,
    card_section,
    dedup_step,
    duplicates_table,
)
from pipelines.methods.dedup.minhash import jaccard, optimal_bands, permutations, shingle_sets, signatures
from tests.dedup_corpus import BASE, NEAR_VARIANTS, frame, near_corpus


def dup_map(result) -> dict[str, str]:
    table = duplicates_table(result.dropped_rows)
    return dict(zip(table["id"].to_list(), table["duplicate_of"].to_list()))


def assert_every_id_once(data: pl.DataFrame, result) -> None:
    kept = result.data["id"].to_list()
    removed = duplicates_table(result.dropped_rows)["id"].to_list()
    assert sorted(kept + removed) == sorted(data["id"].to_list())
    assert len(set(kept) & set(removed)) == 0
    assert set(duplicates_table(result.dropped_rows)["duplicate_of"].to_list()) <= set(kept)
    a = result.account
    assert a.rows_in == data.height and a.kept + sum(a.dropped.values()) + a.quarantined == a.rows_in


# -- exact ---------------------------------------------------------------------------------------


def test_exact_catches_case_punctuation_whitespace_and_nfkc():
    texts = BASE[:4] + [
        "the committee approved the new budget after a long debate on tuesday evening",  # case, punct
        "Heavy rain is expected across the northern regions  for the rest of the week!",  # spaces, punct
        "She ﬁnished reading the novel in one sitting, and immediately started it again.",  # ligature, comma
        "ＴＨＥ museum will extend its opening hours during the summer holidays this year.",  # full width
        "The museum will extend its opening hours during the winter holidays this year.",  # different word
    ]
    data = frame(texts, score=list(range(len(texts))))
    result = ExactDedup(ExactConfig(id_column="id")).run(data)
    assert dup_map(result) == {"r004": "r000", "r005": "r001", "r006": "r002", "r007": "r003"}
    assert result.data.columns == data.columns  # all columns kept
    assert result.data["id"].to_list() == ["r000", "r001", "r002", "r003", "r008"]  # input order
    assert set(duplicates_table(result.dropped_rows)["similarity"].to_list()) == {1.0}
    assert result.account.dropped == {"duplicate_exact": 4}
    assert_every_id_once(data, result)


def test_exact_normalisation_policy_comes_from_config():
    data = frame(["Hello, world", "hello world", "Hello world"])
    strict = ExactConfig(id_column="id", normalize=Normalization(lowercase=False, punctuation="keep"))
    assert dup_map(ExactDedup(strict).run(data)) == {}
    no_case = ExactConfig(id_column="id", normalize=Normalization(lowercase=False))
    assert dup_map(ExactDedup(no_case).run(data)) == {"r002": "r000"}
    assert dup_map(ExactDedup(ExactConfig(id_column="id")).run(data)) == {"r001": "r000", "r002": "r000"}


def test_exact_null_texts_are_never_duplicates_of_each_other():
    data = frame([None, None, "a"])
    result = ExactDedup(ExactConfig(id_column="id")).run(data)
    assert result.data.height == 3


# -- near ----------------------------------------------------------------------------------------


def test_near_catches_typos_and_reordered_clauses():
    data = near_corpus()
    result = NearDedup(NearConfig(id_column="id")).run(data)
    expected = {f"r{10 + n:03d}": f"r{k:03d}" for n, k in enumerate(sorted(NEAR_VARIANTS))}
    assert dup_map(result) == expected
    sims = duplicates_table(result.dropped_rows)["similarity"].to_list()
    assert all(0.5 <= s <= 1.0 for s in sims) and min(sims) < 0.9
    assert_every_id_once(data, result)


def test_near_verification_removes_lsh_false_positives():
    # a loose LSH (few rows per band) makes many candidates; the true-Jaccard check must reject the
    # ones below the threshold, so only real near-duplicates remain
    data = near_corpus()
    loose = NearConfig(id_column="id", bands=64, rows=1, num_perm=64)
    checked = NearDedup(loose).run(data)
    unchecked = NearDedup(loose.model_copy(update={"verify": False})).run(data)
    params = checked.account.extra["params"]
    assert params["candidate_pairs"] > params["pairs_linked"]
    assert dup_map(checked) == dup_map(NearDedup(NearConfig(id_column="id")).run(data))
    assert len(dup_map(unchecked)) > len(dup_map(checked))


def test_near_word_shingles():
    data = frame(
        ["one two three four five six seven eight", "one two three four five six seven nine", "alpha beta gamma"]
    )
    result = NearDedup(NearConfig(id_column="id", shingle="word", ngram=2, threshold=0.7)).run(data)
    assert dup_map(result) == {"r001": "r000"}
    assert duplicates_table(result.dropped_rows)["similarity"][0] == pytest.approx(6 / 8)


def _python_shingles(text: str | None, cfg: NearConfig) -> list[int]:
    """The shingle set of one text in plain Python integers (mod 2^64): the reference for the
    compiled version."""
    from pipelines.methods.dedup.normalize import normalize_texts

    def mix(x: int) -> int:
        m = 2**64 - 1
        x ^= x >> 30
        x = (x * 0xBF58476D1CE4E5B9) & m
        x ^= x >> 27
        x = (x * 0x94D049BB133111EB) & m
        return x ^ (x >> 31)

    norm = normalize_texts(pl.Series([text], dtype=pl.String), cfg.normalize).fill_null("")
    if cfg.shingle == "char":
        toks = [mix(ord(ch)) for ch in norm[0]]
    else:
        words = [w for w in norm[0].split(" ") if w]
        toks = pl.Series(words, dtype=pl.String).hash(seed=cfg.seed).to_list()
    width = min(cfg.ngram, len(toks))
    out = set()
    for i in range(len(toks) - width + 1 if toks else 0):
        h = toks[i]
        for k in range(1, width):
            h = (h * 0x9E3779B97F4A7C15 + toks[i + k]) & (2**64 - 1)
        out.add(mix(h) >> 32)
    return sorted(out)


@pytest.mark.parametrize(
    "cfg",
    [NearConfig(), NearConfig(ngram=1), NearConfig(ngram=7), NearConfig(shingle="word", ngram=2)],
    ids=["char4", "char1", "char7", "word2"],
)
def test_shingle_sets_equal_plain_python_sets(cfg):
    """Each row's CSR run is the sorted set Python computes row by row: short rows (one shingle of all
    their tokens), empty and null rows (none), repeats within a row, non-ASCII text."""
    rng = np.random.default_rng(6)
    words = ["the", "cat", "sat", "on", "a", "mat", "ééa", "😀", "Ünïcode", "x"]
    texts = [" ".join(rng.choice(words, size=rng.integers(0, 12))) for _ in range(300)]
    texts += ["", None, "a", "ab", "abcabcabcabc", "   ", "aaaaaaaaaa", "a b"]
    offsets, values = shingle_sets(pl.Series(texts, dtype=pl.String), cfg)
    assert offsets.dtype == np.int64 and values.dtype == np.uint32 and len(offsets) == len(texts) + 1
    for r, text in enumerate(texts):
        assert values[offsets[r] : offsets[r + 1]].tolist() == _python_shingles(text, cfg), (r, text)


def test_jaccard_matches_python_sets():
    rng = np.random.default_rng(3)
    words = [f"w{i}" for i in range(40)]
    texts = [" ".join(rng.choice(words, size=rng.integers(0, 30))) for _ in range(60)]
    cfg = NearConfig(shingle="word", ngram=1)
    offsets, values = shingle_sets(pl.Series(texts), cfg)
    left, right = rng.integers(0, 60, 300), rng.integers(0, 60, 300)
    got = jaccard(offsets, values, left, right)
    for i, j, g in zip(left, right, got):
        a, b = set(texts[i].split()), set(texts[j].split())
        want = len(a & b) / len(a | b) if a | b else 0.0
        assert g == pytest.approx(want)


def test_jaccard_against_another_memory_mapped_set_file(tmp_path):
    """The right rows in another CSR whose values are memory-mapped (as the verify stage reads another
    partition's), the left ones in memory: Python's sets give the same values."""
    rng = np.random.default_rng(4)
    words = [f"w{i}" for i in range(50)]
    texts = [" ".join(rng.choice(words, size=rng.integers(0, 40))) for _ in range(120)]
    cfg = NearConfig(shingle="word", ngram=1)
    l_off, l_val = shingle_sets(pl.Series(texts[:70]), cfg)
    r_off, r_val = shingle_sets(pl.Series(texts[70:]), cfg)
    np.save(tmp_path / "values.npy", r_val)
    mapped = np.load(tmp_path / "values.npy", mmap_mode="r")
    left, right = rng.integers(0, 70, 500), rng.integers(0, 50, 500)
    got = jaccard(l_off, l_val, left, right, other=(r_off, mapped))
    for i, j, g in zip(left, right, got):
        a, b = set(texts[i].split()), set(texts[70 + j].split())
        assert g == (len(a & b) / len(a | b) if a | b else 0.0)


def test_jaccard_size_bound_skips_only_pairs_that_cannot_reach_the_threshold():
    """`at_least` leaves out pairs whose set sizes keep them below it (min/max < t): each left out
    pair's true Jaccard is below t, every other value is the full computation's, bit for bit."""
    rng = np.random.default_rng(5)
    words = [f"w{i}" for i in range(30)]
    texts = [" ".join(rng.choice(words, size=rng.integers(0, 25))) for _ in range(80)]
    offsets, values = shingle_sets(pl.Series(texts), NearConfig(shingle="word", ngram=1))
    left, right = rng.integers(0, 80, 2000), rng.integers(0, 80, 2000)
    full = jaccard(offsets, values, left, right)
    for t in (0.3, 0.6, 0.9):
        got = jaccard(offsets, values, left, right, at_least=t)
        skipped = np.isnan(got)
        assert 0 < skipped.sum() < len(got)
        assert (full[skipped] < t).all()
        assert np.array_equal(got[~skipped], full[~skipped])
        assert np.array_equal(got >= t, full >= t)


def test_sort_based_unique_equals_numpy_unique():
    """numpy >= 2.3's np.unique hashes integers (slow on millions of values); ours sorts: same result,
    both for packed pairs and for row numbers too large to pack."""
    from pipelines.methods.dedup.minhash import sorted_unique, unique_inverse, unique_pairs

    rng = np.random.default_rng(2)
    for n, top in ((50_000, 3_000), (20_000, 2**40), (1, 5), (0, 5)):
        left, right = rng.integers(0, top, n), rng.integers(0, top, n)
        lo, hi = unique_pairs(left, right)
        want = np.unique(np.stack([np.minimum(left, right), np.maximum(left, right)], axis=1), axis=0)
        assert np.array_equal(lo, want[:, 0]) and np.array_equal(hi, want[:, 1])
        both = np.concatenate([left, right])
        assert np.array_equal(sorted_unique(both), np.unique(both))
        nodes, inverse = unique_inverse(both)
        want_nodes, want_inverse = np.unique(both, return_inverse=True)
        assert np.array_equal(nodes, want_nodes) and np.array_equal(inverse, want_inverse.ravel())


def test_minhash_estimates_jaccard_without_bias():
    rng = np.random.default_rng(5)
    a, b = permutations(256, 1)
    errors = []
    for _ in range(100):
        x = rng.choice(2**32, size=120, replace=False).astype(np.uint32)
        y = np.concatenate([x[: rng.integers(10, 110)], rng.choice(2**32, size=40).astype(np.uint32)])
        x, y = np.unique(x), np.unique(y)
        offsets = np.array([0, len(x), len(x) + len(y)])
        values = np.concatenate([x, y])
        sig = signatures(offsets, values, a, b)
        errors.append((sig[0] == sig[1]).mean() - jaccard(offsets, values, np.array([0]), np.array([1]))[0])
    assert abs(np.mean(errors)) < 0.01
    assert np.std(errors) < 0.045  # about sqrt(J(1-J)/256)


def test_signatures_equal_the_formula_row_by_row():
    """Signature i of a row is min over its shingles s of (a_i * s + b_i) mod 2^32, computed here in
    Python's integers; an empty row is all-max."""
    rng = np.random.default_rng(8)
    a, b = permutations(64, 3)
    sets = [np.unique(rng.integers(0, 2**32, size=rng.integers(0, 40)).astype(np.uint32)) for _ in range(50)]
    sets[3] = np.zeros(0, np.uint32)
    sets[7] = np.array([2**32 - 1], np.uint32)
    offsets = np.concatenate([[0], np.cumsum([len(x) for x in sets])]).astype(np.int64)
    sig = signatures(offsets, np.concatenate(sets), a, b)
    assert sig.shape == (50, 64) and sig.dtype == np.uint32
    for row, x in zip(sig, sets):
        want = [min(((int(ai) * int(s) + int(bi)) % 2**32 for s in x), default=2**32 - 1) for ai, bi in zip(a, b)]
        assert row.tolist() == want


def test_lsh_parameters_fit_the_threshold():
    for threshold in (0.3, 0.5, 0.8):
        bands, rows = optimal_bands(threshold, 128)
        assert bands * rows <= 128
        assert 1 - (1 - threshold**rows) ** bands > 0.5  # a pair at the threshold is likely found


# -- semantic ------------------------------------------------------------------------------------


PARAPHRASES = [
    ("How do I reset my password?", "What is the way to change my password if I forgot it?"),
    ("The cat sat on the mat.", "A cat was sitting on the mat."),
    ("Where can I buy a train ticket to Paris?", "Where is it possible to purchase a rail ticket to Paris?"),
]
UNRELATED = [
    "The stock market fell sharply today.",
    "Photosynthesis turns light into chemical energy.",
    "My grandmother knits warm scarves every winter.",
    "The referee stopped the match because of the storm.",
]


@pytest.fixture
def embed_cache(tmp_path):
    return str(tmp_path / "embeddings")


def test_semantic_catches_paraphrases_with_the_real_model(embed_cache):
    texts = [p[0] for p in PARAPHRASES] + UNRELATED + [p[1] for p in PARAPHRASES]
    data = frame(texts)
    cfg = SemanticConfig(id_column="id", threshold=0.8, embed={"cache_dir": embed_cache})
    result = SemanticDedup(cfg).run(data)
    n = len(PARAPHRASES) + len(UNRELATED)
    assert dup_map(result) == {f"r{n + k:03d}": f"r{k:03d}" for k in range(len(PARAPHRASES))}
    assert all(0.8 <= s <= 1.0 for s in duplicates_table(result.dropped_rows)["similarity"])
    assert "embedding" not in result.data.columns
    assert_every_id_once(data, result)


def test_semantic_run_keeps_embeddings_in_its_cache_folder(tmp_path):
    """`curate dedup --cache-dir C` embeds into C/embeddings; a rerun after the step's own entry is
    lost (a kill before it was saved) embeds nothing; where the cache lives is not part of the key."""
    from pipelines.cli.dedup import load_dedup_config, run_dedup

    table = tmp_path / "texts.parquet"
    frame([p[0] for p in PARAPHRASES] + UNRELATED + [p[1] for p in PARAPHRASES]).write_parquet(table)
    cfg = load_dedup_config("semantic", None, {"text_column": "text", "id_column": "id", "threshold": 0.8})
    report = run_dedup(table, "semantic", tmp_path / "out", cfg, tmp_path / "cache")
    shards = list((tmp_path / "cache" / "embeddings").rglob("part-*.parquet"))
    assert shards and report["facts"]["dedup"]["removed"] == len(PARAPHRASES)
    for entry in (tmp_path / "cache" / "steps").rglob("account.json"):
        entry.unlink()  # the step's entry is gone, its embeddings are not
    again = run_dedup(table, "semantic", tmp_path / "out", cfg, tmp_path / "cache")
    assert again["facts"]["dedup"]["removed"] == len(PARAPHRASES)
    assert list((tmp_path / "cache" / "embeddings").rglob("part-*.parquet")) == shards  # nothing new embedded
    moved = cfg.model_copy(update={"embed": cfg.embed.model_copy(update={"cache_dir": str(tmp_path / "elsewhere")})})
    assert SemanticDedup(moved).params() == SemanticDedup(cfg).params()


def planted_vectors(n: int = 3000, dim: int = 24, dups: int = 200, seed: int = 0) -> tuple[pl.DataFrame, dict]:
    rng = np.random.default_rng(seed)
    base = rng.normal(size=(n, dim)).astype(np.float32)
    src = rng.choice(n, size=dups, replace=False)
    near = base[src] + rng.normal(scale=0.03, size=(dups, dim)).astype(np.float32)
    vectors = np.concatenate([base, near])
    ids = [f"v{i:05d}" for i in range(len(vectors))]
    data = pl.DataFrame({"id": ids, "text": ids, "embedding": vectors})
    return data, {ids[n + k]: ids[s] for k, s in enumerate(src)}


def test_semantic_kmeans_path_finds_what_exact_search_finds():
    data, planted = planted_vectors()
    exact = SemanticDedup(SemanticConfig(id_column="id", threshold=0.95)).run(data)
    clustered = SemanticDedup(SemanticConfig(id_column="id", threshold=0.95, exact_below=100, cluster_size=200)).run(
        data
    )
    assert clustered.account.extra["params"]["search"] == "k-means clusters"
    assert dup_map(exact) == planted
    found = dup_map(clustered)
    assert set(found.items()) <= set(planted.items())
    assert len(found) >= 0.95 * len(planted)  # boundary pairs may be missed; probes (3) keeps that rare
    assert_every_id_once(data, clustered)


# -- keep policy, order, accounting --------------------------------------------------------------


def test_keep_policies():
    data = pl.DataFrame(
        {
            "id": ["a", "b", "c", "d"],
            "text": ["Same text here.", "same text here", "SAME TEXT HERE!!", "Other."],
            "score": [1.0, 5.0, 3.0, 0.0],
            "created": ["2020-05-01", "2019-01-01", "2021-01-01", "2018-01-01"],
        }
    )
    kept = lambda **kw: ExactDedup(ExactConfig(id_column="id", **kw)).run(data).data["id"].to_list()  # noqa: E731
    assert kept() == ["a", "d"]
    assert kept(keep="longest") == ["c", "d"]
    assert kept(keep="highest_score", score_column="score") == ["b", "d"]
    assert kept(keep="oldest", time_column="created") == ["b", "d"]
    with pytest.raises(ValueError, match="score_column"):
        ExactConfig(keep="highest_score")


@pytest.mark.parametrize("method", ["exact", "near"])
def test_result_does_not_depend_on_input_order(method):
    data = near_corpus()
    data = pl.concat(
        [
            data,
            frame(["the comittee approved the new budget after a long debate on tuesday evening"]).with_columns(
                id=pl.lit("r999")
            ),
        ]
    )
    cfg = {"id_column": "id", "keep": "longest"}
    first = dedup_step(method, cfg).run(data)
    for seed in range(3):
        shuffled = data.sample(fraction=1.0, shuffle=True, seed=seed)
        again = dedup_step(method, cfg).run(shuffled)
        assert dup_map(again) == dup_map(first)
        assert sorted(again.data["id"]) == sorted(first.data["id"])
        assert again.data["id"].to_list() == [
            i for i in shuffled["id"] if i in set(first.data["id"])
        ]  # input order kept


def test_semantic_result_does_not_depend_on_input_order():
    data, _ = planted_vectors(n=1500, dups=80, seed=2)
    cfg = SemanticConfig(id_column="id", threshold=0.95, exact_below=100, cluster_size=150, keep="longest")
    first = dup_map(SemanticDedup(cfg).run(data))
    shuffled = data.sample(fraction=1.0, shuffle=True, seed=1)
    assert dup_map(SemanticDedup(cfg).run(shuffled)) == first


@pytest.mark.parametrize("method", ["exact", "near"])
def test_every_id_once_on_a_noisy_corpus(method):
    rng = np.random.default_rng(11)
    texts = []
    for _ in range(400):
        base = BASE[rng.integers(len(BASE))]
        words = base.split()
        for _ in range(rng.integers(0, 4)):
            words.pop(int(rng.integers(len(words))))
        texts.append(" ".join(words) if rng.random() < 0.9 else "")
    data = frame(texts)
    result = dedup_step(method, {"id_column": "id"}).run(data)
    assert_every_id_once(data, result)
    assert result.account.extra["clusters"] >= 1


def test_row_number_is_the_id_without_an_id_column():
    result = ExactDedup().run(pl.DataFrame({"text": ["a", "b", "A", "a."]}))
    assert dup_map(result) == {2: 0, 3: 0}


def test_repeated_ids_are_refused():
    with pytest.raises(Exception, match="repeated"):
        ExactDedup(ExactConfig(id_column="id")).run(pl.DataFrame({"id": [1, 1], "text": ["a", "b"]}))


def test_report_has_cluster_statistics_and_examples_for_the_card():
    result = NearDedup(NearConfig(id_column="id")).run(near_corpus())
    stats = result.account.extra
    assert stats["clusters"] == 5 and stats["removed"] == 5 and stats["largest_cluster"] == 2
    assert stats["cluster_sizes"]["2"] == 5
    example = stats["examples"][0]
    assert {"id", "text", "duplicate_of", "kept_text", "similarity"} <= set(example)
    section = card_section(result.account)
    assert "5 removed" in section.body and "| removed | kept | similarity |" in section.body


def test_dedup_step_in_a_run_context_resumes_from_the_cache(tmp_path):
    from pipelines.engine.cache import StepCache
    from pipelines.engine.runtime import RunContext

    data = near_corpus()
    first = RunContext("t", tmp_path, cache=StepCache(tmp_path / "c")).apply_result(
        NearDedup(NearConfig(id_column="id")), data
    )
    ctx = RunContext("t", tmp_path, cache=StepCache(tmp_path / "c"))
    again = ctx.apply_result(NearDedup(NearConfig(id_column="id")), data)
    assert dup_map(again) == dup_map(first)  # the removed rows come back from the cache too
    assert ctx.report.step("dedup_near").dropped == {"duplicate_near": 5}


def test_the_screen_and_the_estimate_spare_the_exact_check_of_background_pairs_and_change_no_cluster():
    """Candidates whose screen bits or MinHash estimate lie 5 standard errors below the threshold are
    dropped before the true-Jaccard check; on the loose LSH (many background candidates) the clusters
    are the same as with every candidate checked exactly."""
    from pipelines.methods.dedup.minhash import estimate_cutoff

    assert estimate_cutoff(0.6, 128, 5.0) == pytest.approx(0.6 - 5 * (0.24 / 128) ** 0.5)
    assert estimate_cutoff(0.6, 128, None) is None
    data = near_corpus()
    loose = NearConfig(id_column="id", bands=64, rows=1, num_perm=64)
    with_estimate = NearDedup(loose).run(data)
    every_pair = NearDedup(loose.model_copy(update={"estimate_sd": None})).run(data)
    params, every = with_estimate.account.extra["params"], every_pair.account.extra["params"]
    assert params["screened_out"] > 0 and params["below_estimate"] > 0
    # the screen counts a pair once per band that found it, so it drops at least as many as it counts
    assert every["candidate_pairs"] - params["screened_out"] <= params["candidate_pairs"] < every["candidate_pairs"]
    assert params["pairs_linked"] == every["pairs_linked"]
    assert "below_estimate" not in every and "screened_out" not in every
    assert dup_map(with_estimate) == dup_map(every_pair)
    assert duplicates_table(with_estimate.dropped_rows).equals(duplicates_table(every_pair.dropped_rows))


def test_estimated_jaccard_follows_the_true_jaccard():
    """The 16-bit sketch estimate agrees with true Jaccard within 4 standard errors over pairs
    from disjoint to identical (a plain set computation, not our CSR code)."""
    from pipelines.methods.dedup.minhash import estimated_jaccard, permutations, signatures, sketch

    rng = np.random.default_rng(3)
    sets, truth = [], []
    for k in range(40):
        base = rng.choice(2**32, size=400, replace=False).astype(np.uint32)
        share = int(k * 10)
        other = np.concatenate([base[:share], rng.choice(2**32, size=400 - share, replace=False).astype(np.uint32)])
        sets += [np.unique(base), np.unique(other)]
        truth.append(len(set(base.tolist()) & set(other.tolist())) / len(set(base.tolist()) | set(other.tolist())))
    offsets = np.concatenate([[0], np.cumsum([len(s) for s in sets])])
    a, b = permutations(256, 5)
    sk = sketch(signatures(offsets, np.concatenate(sets), a, b))
    est = estimated_jaccard(sk, sk, np.arange(0, 80, 2), np.arange(1, 80, 2))
    truth = np.array(truth)
    sd = np.sqrt(np.maximum(truth * (1 - truth), 1e-3) / 256)
    assert (np.abs(est - truth) <= 4 * sd + 1e-9).all(), np.abs(est - truth).max()
    assert est[-1] == pytest.approx(truth[-1], abs=0.1) and est[0] <= 0.02


def _fmix32(h: int) -> int:
    h ^= h >> 16
    h = (h * 0x85EBCA6B) & 0xFFFFFFFF
    h ^= h >> 13
    h = (h * 0xC2B2AE35) & 0xFFFFFFFF
    return h ^ (h >> 16)


@pytest.mark.parametrize("num_perm", [128, 100])
def test_screen_bits_equal_a_plain_computation(num_perm):
    """Bit p of a row is bit 0 of its value p mixed by murmur3's finaliser, computed value by value
    with Python integers (100 permutations: a half-used second word, its unused bits 0)."""
    from pipelines.methods.dedup.minhash import screen_bits

    sig = np.random.default_rng(5).integers(0, 2**32, size=(60, num_perm), dtype=np.uint32)
    bits = screen_bits(sig)
    assert bits.shape == (60, 2) and bits.dtype == np.uint64
    plain = [[_fmix32(int(v)) & 1 for v in row] for row in sig]
    assert all([(int(bits[r, p // 64]) >> (p % 64)) & 1 for p in range(num_perm)] == plain[r] for r in range(60))
    if num_perm < 128:
        assert (bits[:, 1] >> np.uint64(num_perm - 64) == 0).all()
    assert 0.45 < np.mean(plain) < 0.55


def test_screen_limit_is_the_binomial_tail_at_the_estimates_odds():
    """The limit is the smallest count of differing bits that a pair exactly at the threshold
    (Binomial(n, (1 - t) / 2)) passes with odds no higher than the normal tail at `sd`, from the
    exact tail (a sum of Python fractions here, not the code's floats)."""
    from fractions import Fraction
    from math import comb, erfc, sqrt

    from pipelines.methods.dedup.minhash import screen_limit

    for t, n, sd in [(0.6, 128, 5.0), (0.6, 64, 5.0), (0.8, 256, 4.0), (0.5, 128, 3.0)]:
        m = screen_limit(t, n, sd)
        q = Fraction((1 - t) / 2)
        tail = [float(sum(comb(n, j) * q**j * (1 - q) ** (n - j) for j in range(k + 1, n + 1))) for k in (m - 1, m)]
        assert tail[1] <= 0.5 * erfc(sd / sqrt(2)) * (1 + 1e-9) < tail[0], (t, n, sd, m)
    assert screen_limit(0.6, 128, 5.0) == 50 and screen_limit(0.6, 128, None) is None


def test_the_screen_keeps_short_pairs_at_the_threshold():
    """Pairs of tiny shingle sets exactly at Jaccard 0.6 (3 of 5 shingles shared) pass the screen:
    their few distinct minima would make unmixed value bits move together (a shingle's parity for
    many permutations), and 89 of these 3,000 (3.0%) would fail; mixed, none may."""
    from pipelines.methods.dedup.minhash import pairs_in_buckets, permutations, screen_bits, screen_limit, signatures

    rng = np.random.default_rng(8)
    a, b = permutations(128, 1)
    sets = []
    for _ in range(3_000):
        five = rng.choice(2**32, size=5, replace=False).astype(np.uint32)
        sets += [np.sort(five[:3]), np.sort(five)]
    offsets = np.concatenate([[0], np.cumsum([len(x) for x in sets])])
    sig = signatures(offsets, np.concatenate(sets), a, b)
    pairs = np.arange(0, len(sets), 2)
    buckets = np.arange(len(sets)) // 2  # each pair in a bucket of its own
    limit = screen_limit(0.6, 128, 5.0)
    left, _, screened = pairs_in_buckets(buckets, np.arange(len(sets)), 32, screen_bits(sig), limit)
    assert screened == 0 and np.array_equal(left, pairs)
    low_bits = (sig & 1).astype(bool)  # the unmixed bit: the check above is not vacuous
    assert ((low_bits[pairs] != low_bits[pairs + 1]).sum(1) > limit).mean() > 0.01


@pytest.mark.parametrize("screened", [False, True])
@pytest.mark.parametrize("ranked", [False, True])
def test_bucket_pairs_equal_a_plain_enumeration(screened, ranked):
    """All pairs of a bucket up to max_bucket members; above, its member of the smallest rank (by
    default the member itself) to each other one; each pair kept when at most `limit` screen bits
    differ: equal, as unordered pairs, to a loop over the buckets in Python (buckets of 1 to 40
    members, max_bucket 8, members and ranks in shuffled numberings, unsorted in a bucket)."""
    from pipelines.methods.dedup.minhash import pairs_in_buckets, screen_bits

    rng = np.random.default_rng(4)
    sizes = np.concatenate([rng.integers(1, 12, size=300), [9, 40, 8, 1, 2, 33]])
    keys = np.repeat(rng.permutation(10**6)[: len(sizes)].astype(np.uint64), sizes)
    members = rng.permutation(len(keys)).astype(np.int64)
    order = np.argsort(keys, kind="stable")
    keys, members = keys[order], members[order]
    rank = rng.permutation(len(keys)) if ranked else np.arange(len(keys))
    sig = rng.integers(0, 2**32, size=(len(keys), 128), dtype=np.uint32)
    sig[1::2] = np.where(rng.random((len(keys) // 2, 128)) < 0.6, sig[0::2][: len(keys) // 2], sig[1::2])
    bits = screen_bits(sig)
    differ = {}
    for key in dict.fromkeys(keys.tolist()):
        m = members[keys == key].tolist()
        if len(m) > 8:
            anchor = min(m, key=lambda x: rank[x])
            pairs = [(anchor, x) for x in m if x != anchor]
        else:
            pairs = [(x, y) for k, x in enumerate(m) for y in m[k + 1 :]]
        for i, j in pairs:
            differ[frozenset((i, j))] = sum(bin(int(x) ^ int(y)).count("1") for x, y in zip(bits[i], bits[j]))
    limit = int(np.median(list(differ.values()))) if screened else None  # many pairs at the limit itself
    plain = {p for p, d in differ.items() if limit is None or d <= limit}
    dropped = len(differ) - len(plain)
    left, right, screened_out = pairs_in_buckets(
        keys, members, 8, bits if screened else None, limit, rank=rank if ranked else None
    )
    assert len(left) == len(plain) and {frozenset(p) for p in zip(left.tolist(), right.tolist())} == plain
    assert screened_out == dropped and (dropped > 100) == screened


def test_estimated_jaccard_counts_equal_values_of_mapped_rows(tmp_path):
    """The compiled estimate is the share of equal values, exactly as numpy counts it on gathered
    rows, with the right sketch memory-mapped from a file (as the verify stage reads it)."""
    from pipelines.methods.dedup.minhash import estimated_jaccard

    rng = np.random.default_rng(11)
    left_sk = rng.integers(0, 4, size=(300, 128), dtype=np.uint16)  # few values: many agree
    np.save(tmp_path / "right.npy", rng.integers(0, 4, size=(500, 128), dtype=np.uint16))
    right_sk = np.load(tmp_path / "right.npy", mmap_mode="r")
    left, right = rng.integers(0, 300, size=5_000), rng.integers(0, 500, size=5_000)
    expected = np.count_nonzero(left_sk[left] == np.asarray(right_sk)[right], axis=1) / 128
    assert np.array_equal(estimated_jaccard(left_sk, right_sk, left, right), expected)
    assert len(estimated_jaccard(left_sk, right_sk, left[:0], right[:0])) == 0


def _unit(angle_deg: float) -> list[float]:
    a = np.radians(angle_deg)
    return [float(np.cos(a)), float(np.sin(a))]


def test_semantic_clusters_do_not_chain():
    """a ~ b and b ~ c, but a and c are far apart: attached to representatives, c stays; with
    `connected`, the chain removes it."""
    data = pl.DataFrame({"id": ["a", "b", "c"], "text": ["a", "b", "c"], "embedding": [_unit(0), _unit(25), _unit(50)]})
    threshold = float(np.cos(np.radians(30)))  # 25 degrees apart: similar; 50: not
    result = SemanticDedup(SemanticConfig(id_column="id", threshold=threshold)).run(data)
    assert result.data["id"].to_list() == ["a", "c"] and dup_map(result) == {"b": "a"}
    assert result.account.extra["params"]["clusters"] == "representative"
    chained = SemanticDedup(SemanticConfig(id_column="id", threshold=threshold, clusters="connected")).run(data)
    assert chained.data["id"].to_list() == ["a"] and dup_map(chained) == {"b": "a", "c": "a"}


@pytest.mark.parametrize("keep", ["first", "longest"])
def test_every_removed_row_is_within_the_threshold_of_its_kept_row(keep):
    rng = np.random.default_rng(3)
    centers = rng.normal(size=(40, 16))
    vectors = np.concatenate([c + rng.normal(scale=0.35, size=(12, 16)) for c in centers])  # dense blobs: chains
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    ids = [f"r{i:04d}" for i in range(len(vectors))]
    data = pl.DataFrame(
        {"id": ids, "text": [i * (1 + n % 3) for n, i in enumerate(ids)], "embedding": vectors.tolist()}
    )
    for clusters in ("representative", "connected"):
        cfg = SemanticConfig(id_column="id", threshold=0.8, keep=keep, clusters=clusters)
        result = SemanticDedup(cfg).run(data)
        assert_every_id_once(data, result)
        sims = result.dropped_rows["_dup_similarity"]
        if clusters == "representative":
            assert sims.min() >= 0.8 - 1e-6, sims.min()
        else:  # chains link rows below the threshold to the kept one: what the default avoids
            assert sims.min() < 0.8


def test_an_embedding_column_of_lists_or_of_the_wrong_kind():
    from schemas.errors import CurateError

    lists = pl.DataFrame({"id": ["a", "b"], "text": ["x", "y"], "embedding": [[1.0, 0.0], [1.0, 0.01]]})
    assert dup_map(SemanticDedup(SemanticConfig(id_column="id")).run(lists)) == {"b": "a"}
    ragged = lists.with_columns(pl.Series("embedding", [[1.0, 0.0], [1.0]]))
    with pytest.raises(CurateError, match="same length"):
        SemanticDedup(SemanticConfig(id_column="id")).run(ragged)
    text = lists.with_columns(pl.Series("embedding", ["1,0", "1,0"]))
    with pytest.raises(CurateError, match="not embeddings"):
        SemanticDedup(SemanticConfig(id_column="id")).run(text)


def test_exact_keep_first_equals_an_independent_group_by_at_scale():
    """The exact step's fast path (first row per key by arg_unique, kept rows of the duplicates found
    by a join) against a plain Python dict over the same normalised keys, on 60,000 rows with nulls,
    repeats in groups of 2..5 and ids out of order: the same kept ids, duplicate_of and cluster sizes."""
    import random

    from pipelines.methods.dedup.normalize import normalize_texts

    rng = random.Random(5)
    base = [f"Sentence {i} about {rng.choice(['cats', 'dogs', 'rain'])}." for i in range(40_000)]
    texts = []
    for t in base:
        texts.append(t)
        if rng.random() < 0.15:
            texts += [rng.choice([t.upper(), t + "  ", t.replace(".", " !")]) for _ in range(rng.randint(1, 4))]
    texts += [None] * 50
    rng.shuffle(texts)
    ids = rng.sample(range(10_000_000), len(texts))
    data = pl.DataFrame({"id": ids, "text": texts})
    cfg = ExactConfig(id_column="id")
    result = ExactDedup(cfg).run(data)
    keys = normalize_texts(data["text"], cfg.normalize).to_list()
    first: dict = {}
    expected_of = {}
    for rid, key in zip(ids, keys):
        if key is None:
            continue  # a null text is its own cluster
        if key in first:
            expected_of[rid] = first[key]
        else:
            first[key] = rid
    kept_ids = [rid for rid in ids if rid not in expected_of]
    assert result.data["id"].to_list() == kept_ids
    dup = result.dropped_rows
    assert dict(zip(dup["_dup_id"].to_list(), dup["_dup_of"].to_list())) == expected_of
    sizes = pl.Series(list(expected_of.values())).value_counts()["count"] + 1
    stats = result.account.extra
    assert stats["clusters"] == sizes.len() and stats["largest_cluster"] == sizes.max()
    assert stats["rows_in_clusters"] == sizes.sum() and len(expected_of) > 5_000
    assert result.account.rows_in == result.account.kept + stats["removed"]
