"""pipelines.methods.distributions: Kish and Wilson numbers, partial sums that add up to the whole, the
per-attribute and joint roll-ups, and the comparison metrics against known values and scipy."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest

from pipelines.methods.distributions import (
    combine_stats,
    compare,
    distributions,
    group_stats,
    js_distance,
    kish_n_eff,
    wasserstein_ordinal,
    wilson_interval,
)


def test_kish_and_wilson_numbers():
    assert kish_n_eff(8.0, 22.0) == pytest.approx(64 / 22)
    assert kish_n_eff(0.0, 0.0) == 0.0
    # Wilson, 2 of 4: (0.1500, 0.8500) as tabulated (e.g. statsmodels' proportion_confint)
    low, high = wilson_interval(0.5, 4)
    assert (low, high) == (pytest.approx(0.15004, abs=1e-5), pytest.approx(0.84996, abs=1e-5))
    assert wilson_interval(0.3, 0) == (None, None)


def test_partition_sums_add_up_to_the_whole():
    rng = np.random.default_rng(3)
    n = 3_000
    frame = pl.DataFrame(
        {
            "g": pl.Series(rng.choice(["a", "b", ""], n)).replace("", None),
            "h": rng.integers(0, 4, n),
            "w": rng.gamma(2.0, 0.5, n),
            "q": pl.Series(rng.integers(0, 5, n), dtype=pl.Int16).set(pl.Series(rng.random(n) < 0.1), None),
        }
    )
    meta = pl.DataFrame({"var_name": ["q"], "n_options": [4], "n_refusals": [1]})
    whole = distributions(group_stats(frame, ["q"], ["g", "h"], weight="w"), meta)
    parts = combine_stats([group_stats(frame.slice(i, 700), ["q"], ["g", "h"], weight="w") for i in range(0, n, 700)])
    split = distributions(parts, meta)
    key = ["group_attr", "group_value", "var_name"]
    joined = whole.join(split, on=key, suffix="_p")
    assert joined.height == whole.height == split.height
    for col in ("n", "n_refused", "n_missing", "w_sum", "n_eff", "refusal_mass"):
        assert np.allclose(joined[col].to_numpy(), joined[f"{col}_p"].to_numpy())
    # and a direct computation for one group
    a = frame.filter((pl.col("g") == "a") & (pl.col("q") < 4))
    row = whole.filter((pl.col("group_attr") == "g") & (pl.col("group_value") == "a")).row(0, named=True)
    expected = [a.filter(pl.col("q") == k)["w"].sum() / a["w"].sum() for k in range(4)]
    assert row["probs"] == pytest.approx(expected)
    assert row["n_eff"] == pytest.approx(a["w"].sum() ** 2 / (a["w"] ** 2).sum())


def test_the_same_data_give_the_same_bits_every_run():
    """Polars' parallel group-by sums added partial sums in any order: two runs on one input differed
    in the last bits, and a recomputed run published as a new version with "changed" rows. The sums
    are now added in row order (np.bincount), the slices' sums in value order."""
    rng = np.random.default_rng(11)
    n = 400_000
    frame = pl.DataFrame(
        {
            "g": rng.integers(0, 30, n),
            "h": rng.integers(0, 7, n),
            "w": rng.gamma(2.0, 0.7, n),
            **{f"q{i}": pl.Series(rng.integers(0, 5, n), dtype=pl.Int16) for i in range(4)},
        }
    )
    meta = pl.DataFrame({"var_name": [f"q{i}" for i in range(4)], "n_options": [4] * 4, "n_refusals": [1] * 4})
    qs = [f"q{i}" for i in range(4)]

    def run() -> str:
        stats = combine_stats([group_stats(part, qs, ["g", "h"], weight="w") for part in frame.iter_slices(90_000)])
        out = distributions(stats, meta).sort("group_attr", "group_value", "var_name")
        return out.select("w_sum", "n_eff", "probs", "refusal_mass").write_ndjson()

    first = run()
    assert all(run() == first for _ in range(4))
    whole = distributions(group_stats(frame, qs, [], weight="w"), meta).filter(pl.col("var_name") == "q0")
    assert whole["w_sum"][0] == pytest.approx(math.fsum(frame.filter(pl.col("q0") < 4)["w"]), rel=1e-12)


def test_per_attribute_passes_match_the_joint_roll_up():
    rng = np.random.default_rng(5)
    frame = pl.DataFrame(
        {
            "g": rng.integers(0, 30, 2000),
            "h": pl.Series(rng.choice(["x", "y", ""], 2000)).replace("", None),
            "k": rng.integers(0, 2, 2000),
            "w": rng.random(2000),
            "q": pl.Series(rng.integers(0, 3, 2000), dtype=pl.Int16),
        }
    )
    args = dict(weight="w", keys=["k"])
    joint = group_stats(frame, ["q"], ["g", "h"], strategy="joint", **args).sort(pl.all())
    passes = group_stats(frame, ["q"], ["g", "h"], strategy="per_attribute", **args).sort(pl.all())
    assert joint.height > 0
    assert joint.drop("w_sum", "w2_sum").equals(passes.drop("w_sum", "w2_sum"))
    assert np.allclose(joint["w_sum"].to_numpy(), passes["w_sum"].to_numpy())
    assert np.allclose(joint["w2_sum"].to_numpy(), passes["w2_sum"].to_numpy())
    assert group_stats(frame, ["q"], [], strategy="per_attribute")["group_attr"].unique().to_list() == ["all"]


def test_wasserstein_ordinal_known_values():
    assert wasserstein_ordinal([1, 0, 0], [0, 0, 1]) == pytest.approx(1.0)  # the ends: the maximum
    assert wasserstein_ordinal([1, 0, 0], [0, 1, 0]) == pytest.approx(0.5)
    assert wasserstein_ordinal([0.2, 0.3, 0.5], [0.2, 0.3, 0.5]) == 0.0
    # mass 0.5 moves one step of 4 (K = 5): 0.5 / 4
    assert wasserstein_ordinal([0.5, 0.5, 0, 0, 0], [0, 1, 0, 0, 0]) == pytest.approx(0.125)
    assert wasserstein_ordinal([2, 2], [1, 0]) == pytest.approx(0.5)  # inputs renormalized


def test_js_distance_known_values():
    assert js_distance([1, 0], [0, 1]) == pytest.approx(1.0)  # disjoint: 1 in base 2
    assert js_distance([0.5, 0.5], [0.5, 0.5]) == 0.0
    # p = (1, 0), q = (1/2, 1/2): M = (3/4, 1/4); JSD = (log2(4/3) + (1/2)log2(2/3) + (1/2)log2(2)) / 2
    jsd = (math.log2(4 / 3) + 0.5 * math.log2(0.5 / 0.75) + 0.5 * math.log2(0.5 / 0.25)) / 2
    assert js_distance([1, 0], [0.5, 0.5]) == pytest.approx(math.sqrt(jsd))


def test_metrics_agree_with_scipy_and_work_in_batches():
    scipy_stats = pytest.importorskip("scipy.stats")
    scipy_distance = pytest.importorskip("scipy.spatial.distance")
    rng = np.random.default_rng(11)
    p, q = rng.dirichlet(np.ones(5), size=20), rng.dirichlet(np.ones(5), size=20)
    batch_w, batch_js = wasserstein_ordinal(p, q), js_distance(p, q)
    for i in range(20):
        ref = scipy_stats.wasserstein_distance(range(5), range(5), p[i], q[i]) / 4
        assert batch_w[i] == pytest.approx(ref)
        assert batch_js[i] == pytest.approx(scipy_distance.jensenshannon(p[i], q[i], base=2))


def test_compare_picks_the_metric_by_the_records_scale():
    record = {"probs": [0.0, 0.0, 1.0], "ordinal": True}
    assert compare([1.0, 0.0, 0.0], record) == pytest.approx(1.0)
    assert compare([0.0, 1.0, 0.0], record) == pytest.approx(0.5)
    assert compare([0.0, 1.0, 0.0], {**record, "ordinal": False}) == pytest.approx(1.0)  # disjoint
    with pytest.raises(ValueError, match="different numbers of options"):
        compare([0.5, 0.5], record)
    with pytest.raises(ValueError, match="non-negative"):
        wasserstein_ordinal([-0.1, 1.1], [0.5, 0.5])
