"""Every shipped instrument scores as a plain reimplementation from its published key does.

The keys below are typed in from the publications (not read from sources/data/instruments/), and the
reference scorer is a loop over them; production scores the YAML definitions with numpy (packed codes
for facet-nested instruments, a membership matrix for the rest). Plus one hand-computed respondent
per instrument, and the IPIP-FFM open data's tab-separated format."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from pipelines.methods.inventory import packable, score_instrument
from sources.instruments import instrument, read_definition, shipped

# scale -> "item, itemR, ..." (R = reverse-keyed); facets as "DOMAIN/facet"
BFI2 = {  # Soto & John (2017)
    "E/Scb": "1, 16R, 31R, 46",
    "E/Asr": "6, 21, 36R, 51R",
    "E/Enr": "11R, 26R, 41, 56",
    "A/Cmp": "2, 17R, 32, 47R",
    "A/Rsp": "7, 22R, 37R, 52",
    "A/Trs": "12R, 27, 42R, 57",
    "C/Org": "3R, 18, 33, 48R",
    "C/Prd": "8R, 23R, 38, 53",
    "C/Rsp": "13, 28R, 43, 58R",
    "N/Anx": "4R, 19, 34, 49R",
    "N/Dep": "9R, 24R, 39, 54",
    "N/Emt": "14, 29R, 44R, 59",
    "O/Aes": "5R, 20, 35, 50R",
    "O/Int": "10, 25R, 40, 55R",
    "O/Crt": "15, 30R, 45R, 60",
}
HEXACO60 = {  # Ashton & Lee (2009), domain scales
    "H": "6, 30R, 54, 12R, 36, 60R, 18, 42R, 24R, 48R",
    "E": "5, 29, 53R, 11, 35R, 17, 41R, 23, 47, 59R",
    "X": "4, 28R, 52R, 10R, 34, 58, 16, 40, 22, 46R",
    "A": "3, 27, 9R, 33, 51, 15R, 39, 57R, 21R, 45",
    "C": "2, 26R, 8, 32R, 14R, 38, 50, 20R, 44R, 56R",
    "O": "1R, 25, 7, 31R, 13, 37, 49R, 19R, 43, 55R",
}
MFQ30 = {  # Graham et al. (2011); 6 and 22 are catch items
    "Harm": "1, 7, 12, 17, 23, 28",
    "Fairness": "2, 8, 13, 18, 24, 29",
    "Ingroup": "3, 9, 14, 19, 25, 30",
    "Authority": "4, 10, 15, 20, 26, 31",
    "Purity": "5, 11, 16, 21, 27, 32",
}
PVQ21 = {  # ESS / Schwartz (2003)
    "SD": "1, 11",
    "PO": "2, 17",
    "UN": "3, 8, 19",
    "AC": "4, 13",
    "SE": "5, 14",
    "ST": "6, 15",
    "CO": "7, 16",
    "TR": "9, 20",
    "HE": "10, 21",
    "BE": "12, 18",
}
PVQRR = {  # Schwartz et al. (2012)
    "SDT": "1, 23, 39",
    "SDA": "16, 30, 56",
    "ST": "10, 28, 43",
    "HE": "3, 36, 46",
    "AC": "17, 32, 48",
    "POD": "6, 29, 41",
    "POR": "12, 20, 44",
    "FAC": "9, 24, 49",
    "SEP": "13, 26, 53",
    "SES": "2, 35, 50",
    "TR": "18, 33, 40",
    "COR": "15, 31, 42",
    "COI": "4, 22, 51",
    "HUM": "7, 38, 54",
    "UNN": "8, 21, 45",
    "UNC": "5, 37, 52",
    "UNT": "14, 34, 57",
    "BEC": "11, 25, 47",
    "BED": "19, 27, 55",
}
SD3 = {  # Jones & Paulhus (2014)
    "MACH": "1, 2, 3, 4, 5, 6, 7, 8, 9",
    "NARC": "10, 11R, 12, 13, 14, 15R, 16, 17R, 18",
    "PSYC": "19, 20R, 21, 22, 23, 24, 25R, 26, 27",
}
FFM = {  # IPIP 50-item markers (Goldberg 1992), in the Open Psychometrics column names
    "EXT": "1, 2R, 3, 4R, 5, 6R, 7, 8R, 9, 10R",
    "EST": "1R, 2, 3R, 4, 5R, 6R, 7R, 8R, 9R, 10R",
    "AGR": "1R, 2, 3R, 4, 5R, 6, 7R, 8, 9, 10",
    "CSN": "1, 2R, 3, 4R, 5, 6R, 7, 8R, 9, 10",
    "OPN": "1, 2R, 3, 4R, 5, 6R, 7, 8, 9, 10",
}
# Johnson's IPIP-NEO: facet f (1..30) holds items f, f+30, ...; domain of item i is NEOAC[(i-1) % 5];
# reverse-keyed items of Johnson's IPIP-NEO-120 scoring (55 items; sources/data/ipip_neo/SOURCE.md).
NEO120_REVERSED = {
    9,
    19,
    24,
    30,
    39,
    40,
    48,
    49,
    51,
    53,
    54,
    60,
    62,
    67,
    68,
    69,
    70,
    73,
    74,
    75,
    78,
    79,
    80,
    81,
    83,
    84,
    85,
    88,
    89,
    90,
    92,
    94,
    96,
    97,
    98,
    99,
    100,
    101,
    102,
    103,
    104,
    105,
    106,
    107,
    108,
    109,
    110,
    111,
    113,
    114,
    115,
    116,
    118,
    119,
    120,
}


def parse(spec: str) -> list[tuple[int, bool]]:
    return [(int(t.strip().rstrip("R")), t.strip().endswith("R")) for t in spec.split(",")]


def plain_scores(
    answers: list[list[float | None]],
    key: dict[str, str],
    lo: int,
    hi: int,
    centered: bool = False,
    reverse_all: bool = False,
    items: int | None = None,
) -> list[dict]:
    """The published key, scored one respondent and one scale at a time: reverse (lo + hi - x),
    mean of the answered items, null under half answered; `centered` subtracts the mean over every
    scored item (Schwartz's MRAT), null when under half of them were answered."""
    out = []
    scored = sorted({n for spec in key.values() for n, _ in parse(spec)})
    for row in answers:

        def keyed(n: int, rev: bool):
            x = row[n - 1]  # noqa: B023  (called within the iteration)
            return None if x is None else (lo + hi - x if rev != reverse_all else x)

        scores = {}
        for scale, spec in key.items():
            got = [keyed(n, r) for n, r in parse(spec)]
            got = [g for g in got if g is not None]
            scores[scale] = sum(got) / len(got) if got and len(got) * 2 >= len(parse(spec)) else None
        if centered:
            allx = [keyed(n, False) for n in scored]
            allx = [x for x in allx if x is not None]
            mrat = sum(allx) / len(allx) if allx and len(allx) * 2 >= len(scored) else None
            scores = {s: (None if v is None or mrat is None else v - mrat) for s, v in scores.items()}
        out.append(scores)
    return out


def random_answers(n_items: int, rows: int, lo: int, hi: int, seed: int) -> list[list[float | None]]:
    rng = np.random.default_rng(seed)
    x = rng.integers(lo, hi + 1, size=(rows, n_items)).astype(float)
    missing = rng.random((rows, n_items)) < np.linspace(0, 0.9, rows)[:, None]
    return [[None if m else float(v) for v, m in zip(r, mr)] for r, mr in zip(x, missing)]


def frame_for(inst, answers, missing_code: int | None) -> pl.DataFrame:
    cols = inst.columns
    data = {c: [(missing_code if a[i] is None else int(a[i])) for a in answers] for i, c in enumerate(cols)}
    return pl.DataFrame(data, schema={c: pl.Int64 for c in cols})


def assert_same(got: pl.DataFrame, want: list[dict], field: str, mapping: dict[str, str] | None = None) -> None:
    for row, expected in zip(got[field].to_list(), want):
        for scale, value in expected.items():
            mine = row[(mapping or {}).get(scale, scale)]
            if value is None:
                assert mine is None, (scale, mine)
            else:
                assert mine == pytest.approx(value, abs=1e-12), (scale, mine, value)


CASES = [  # id, key, lo, hi, missing code, field, options
    ("bfi2", {k: v for k, v in BFI2.items()}, 1, 5, 0, "facet_scores", {}),
    ("hexaco60", HEXACO60, 1, 5, 0, "domain_scores", {}),
    ("mfq30", MFQ30, 0, 5, None, "domain_scores", {}),
    ("pvq21", PVQ21, 1, 6, 8, "domain_scores", {"centered": True, "reverse_all": True}),
    ("pvqrr", PVQRR, 1, 6, 0, "domain_scores", {"centered": True}),
    ("sd3", SD3, 1, 5, 0, "domain_scores", {}),
    ("ipip_ffm50", FFM, 1, 5, 0, "domain_scores", {}),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_every_instrument_scores_as_its_published_key(case):
    name, key, lo, hi, missing, field, options = case
    inst = instrument(name)
    if name == "ipip_ffm50":  # EXT1.. -> item numbers in the definition's order
        offsets = {s: 10 * i for i, s in enumerate(FFM)}
        key = {s: ", ".join(f"{n + offsets[s]}{'R' if r else ''}" for n, r in parse(spec)) for s, spec in key.items()}
    answers = random_answers(len(inst.items), 80, lo, hi, seed=len(name))
    want = plain_scores(answers, key, lo, hi, **options)
    got = score_instrument(frame_for(inst, answers, missing), inst)
    mapping = {k: k.replace("/", "_") for k in key} if field == "facet_scores" else None
    assert_same(got, want, field, mapping)
    if name == "bfi2":  # domains: the mean of all the domain's answered items
        domains = {d: ", ".join(v for k, v in BFI2.items() if k.startswith(d + "/")) for d in "EACNO"}
        assert_same(got, plain_scores(answers, domains, lo, hi), "domain_scores")
        assert packable(inst)  # the packed scorer served it


def test_ipip_neo_scores_as_johnsons_key():
    inst = instrument("ipip_neo_120")
    key = {}
    for f in range(1, 31):
        d = "NEOAC"[(f - 1) % 5]
        key[f"{d}{(f - 1) // 5 + 1}"] = ", ".join(
            f"{i}{'R' if i in NEO120_REVERSED else ''}" for i in range(f, 121, 30)
        )
    answers = random_answers(120, 60, 1, 5, seed=3)
    got = score_instrument(frame_for(inst, answers, 0), inst)
    assert_same(got, plain_scores(answers, key, 1, 5), "facet_scores")
    domains = {d: ", ".join(v for k, v in key.items() if k[0] == d) for d in "NEOAC"}
    assert_same(got, plain_scores(answers, domains, 1, 5), "domain_scores")
    assert {i.item for i in inst.items if i.keyed < 0} == NEO120_REVERSED


def test_mfq_catch_items_are_not_scored_and_are_checked():
    inst = instrument("mfq30")
    base = [3] * 32
    fails_math = base.copy()
    fails_math[5] = 4  # "very relevant": good at math
    fails_good = base.copy()
    fails_good[21] = 2  # disagrees that it is better to do good
    frame = pl.DataFrame([dict(zip(inst.columns, r)) for r in (base, fails_math, fails_good)])
    got = score_instrument(frame, inst)
    assert got["checks_failed"].to_list() == [0, 1, 1]
    assert got["answered"].to_list() == [30, 30, 30]  # the catch items are not scale items
    assert got["domain_scores"].struct.field("Harm").to_list() == [3.0, 3.0, 3.0]


def test_hand_computed_respondents():
    # SD3: every answer 4, except the reversed narcissism item 11 answered 1 (keyed 5) and item 2 blank
    inst = instrument("sd3")
    row = {c: 4 for c in inst.columns} | {"sd3_11": 1, "sd3_2": 0}
    got = score_instrument(pl.DataFrame([row]), inst)["domain_scores"].item()
    # MACH: 8 answered items of 4; NARC: 4*5 + (6-1) + 2*(6-4) ... reversed 15 and 17 answered 4 -> 2
    assert got["MACH"] == 4.0
    assert got["NARC"] == pytest.approx((4 * 6 + 5 + 2 + 2) / 9)
    assert got["PSYC"] == pytest.approx((4 * 7 + 2 + 2) / 9)
    # PVQ-21 (ESS codes: 1 = very much like me): all 3 (keyed 4) except item 1 = 1 (keyed 6) and item 11 = 2 (5)
    inst = instrument("pvq21")
    row = {c: 3 for c in inst.columns} | {"ipcrtiv": 1, "impfree": 2}
    got = score_instrument(pl.DataFrame([row]), inst)["domain_scores"].item()
    mrat = (19 * 4 + 6 + 5) / 21
    assert got["SD"] == pytest.approx(5.5 - mrat)
    assert got["BE"] == pytest.approx(4 - mrat)
    # HEXACO-60: all 5 -> every domain (5 * k + 1 * (10 - k)) / 10 with k forward-keyed items
    inst = instrument("hexaco60")
    got = score_instrument(pl.DataFrame([{c: 5 for c in inst.columns}]), inst)["domain_scores"].item()
    assert got == {"H": 2.6, "E": 3.4, "X": 3.4, "A": 3.4, "C": 2.6, "O": 3.0}


def test_ipip_ffm_open_data_format(tmp_path):
    """Open Psychometrics' IPIP-FFM file: tab-separated, EXT1..OPN10, 1-5, 0 = missing, plus
    response-time and other columns the reader ignores."""
    from sources.ipip import read_responses

    inst = instrument("ipip_ffm50")
    header = inst.columns + [f"{c.upper()}_E" for c in inst.columns[:3]] + ["dateload", "country"]
    answers = [3] * 50
    answers[0], answers[1] = 5, 0  # EXT1 = 5, EXT2 missing
    line = "\t".join([str(a) for a in answers] + ["1234", "2345", "3456", "2016-03-03 02:01:01", "GB"])
    path = tmp_path / "data-final.csv"
    path.write_text("\t".join(c.upper() if c in inst.columns else c for c in header) + "\n" + line + "\n")
    raw = read_responses(path)
    assert raw.instrument == "ipip_ffm50"
    scored = score_instrument(raw.frame, inst)
    ext = scored["domain_scores"].struct.field("EXT").item()
    assert ext == pytest.approx((5 + 3 * 8) / 9)
    assert scored["answered"].item() == 49


def test_every_shipped_definition_is_consistent_and_keeps_restricted_texts_out():
    found = shipped()
    assert set(found) == {
        "ipip_neo_120",
        "ipip_neo_300",
        "ipip_ffm50",
        "bfi2",
        "hexaco60",
        "mfq30",
        "pvq21",
        "pvqrr",
        "sd3",
    }
    for inst in found.values():
        texts = [i.text for i in inst.items if i.text]
        assert bool(texts) == inst.texts.shipped, inst.id
        assert inst.key.source and inst.key.license and inst.reference
    assert not math.isnan(len(found))


def test_a_bad_definition_names_the_file_and_field(tmp_path):
    from schemas.errors import InputFileError

    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "id: x\nname: X\nreference: r\ntexts: {shipped: false, license: l}\nkey: {source: s, license: l}\n"
        "response_scale: {min: 1, max: 5}\nscales: [{code: A, name: A}]\n"
        "items: [{item: 1, scale: B, keyed: 1}]\n"
    )
    with pytest.raises(InputFileError, match="bad.yaml.*scale 'B' is not defined"):
        read_definition(bad)


def test_expand_reads_any_instrument_definition(tmp_path):
    """`expand` takes a definition file as its item table: texts where shipped, the key always."""
    from pipelines.engine.dask_runtime import DaskRuntime
    from pipelines.engine.runtime import RunContext
    from pipelines.recipes import expand
    from sources.instruments import DEFINITIONS, item_table

    ffm = item_table(DEFINITIONS / "ipip_ffm50.yaml")
    assert ffm.height == 50 and ffm["text"].null_count() == 0
    assert ffm.filter(pl.col("item_no") == "2").row(0, named=True)["keyed"] == "-1"
    mfq = item_table(DEFINITIONS / "mfq30.yaml")
    assert mfq.height == 30 and mfq["text"].null_count() == 30  # catch items out; texts not shipped
    ctx = RunContext(recipe="expand", output=tmp_path / "out", cache=None, dask=DaskRuntime(inline=True))
    expand.check_inputs([DEFINITIONS / "sd3.yaml"], expand.Config())
    out = expand.build(ctx, [DEFINITIONS / "ipip_ffm50.yaml", DEFINITIONS / "sd3.yaml"], expand.Config())
    items = out.tables["items"]
    assert items.filter(pl.col("instrument").str.contains("IPIP")).height == 50
    read = ctx.report.step("validate_items")
    assert read.quarantined == 27  # SD3's texts are not shipped: quarantined as empty, not invented


def test_personality_recipe_scores_any_instrument(tmp_path):
    """One run over Johnson's IPIP-NEO sample, a BFI-2 CSV, an MFQ-30 CSV with a failed catch item and
    an IPIP-FFM tab-separated file: each respondent scored by its own key, as the plain scorer says."""
    from pipelines.engine.dask_runtime import DaskRuntime
    from pipelines.engine.runtime import RunContext
    from pipelines.recipes import personality

    files, expected = [], {}
    for name, lo, hi, seed in (("bfi2", 1, 5, 1), ("mfq30", 0, 5, 2), ("ipip_ffm50", 1, 5, 3)):
        inst = instrument(name)
        rng = np.random.default_rng(seed)
        answers = rng.integers(lo, hi + 1, size=(6, len(inst.items)))
        if name == "mfq30":
            answers[:, 5], answers[:, 21] = 0, 5  # catch items passed ...
            answers[0, 5] = 5  # ... except by respondent 1 (math "extremely relevant")
        sep = "\t" if name == "ipip_ffm50" else ","
        path = tmp_path / f"{name}.csv"
        header = ["case", "country"] + [c.upper() for c in inst.columns]
        lines = [sep.join(header)] + [
            sep.join([f"r{k}", "Philippin"] + [str(int(x)) for x in row]) for k, row in enumerate(answers, start=1)
        ]
        path.write_text("\n".join(lines) + "\n")
        files.append(path)
        key = {
            "bfi2": {d: ", ".join(v for k, v in BFI2.items() if k.startswith(d + "/")) for d in "EACNO"},
            "mfq30": MFQ30,
            "ipip_ffm50": None,
        }[name]
        if key is not None:
            expected[inst.name] = plain_scores([list(map(float, r)) for r in answers], key, lo, hi)
    ctx = RunContext(recipe="personality", output=tmp_path / "out", dask=DaskRuntime(inline=True))
    out = personality.build(ctx, files + [Path("sources/samples/personality/IPIP120.dat")], personality.Config())
    resp = out.tables["respondents"]
    assert set(resp["instrument"]) == {
        "Big Five Inventory-2 (BFI-2)",
        "Moral Foundations Questionnaire (MFQ-30)",
        "IPIP Big-Five Factor Markers, 50 items (IPIP-FFM)",
        "IPIP-NEO-120",
    }
    for inst_name, want in expected.items():
        rows = resp.filter(pl.col("instrument") == inst_name).sort("respondent_id")
        got = {r["respondent_id"]: r["domain_scores"][r["instrument_id"]] for r in rows.iter_rows(named=True)}
        for k, scores in enumerate(want, start=1):
            if f"r{k}" not in got:
                assert inst_name.startswith("Moral") and k == 1  # failed the catch item
                continue
            for scale, value in scores.items():
                assert got[f"r{k}"][scale] == pytest.approx(value, abs=1e-12)
    assert ctx.report.step("key_and_score").dropped.get("failed_check") == 1
    assert set(resp["demographics"].struct.field("country").drop_nulls()) >= {"Philippines"}
    items = out.tables["items"]
    assert items.filter(pl.col("instrument") == "HEXACO-60").height == 0
    assert items.filter(pl.col("instrument").str.starts_with("Big Five"))["text"].null_count() == 60
    card = "\n".join(s.body for s in out.sections)
    assert "Philippin (" not in card and "Soto & John (2017)" in card
    # reviewers of a key-only item see what is left to check, not an empty (rejected) required field
    from annotation.settings import spec_for

    bfi = items.filter(pl.col("instrument").str.starts_with("Big Five")).head(1)
    ipip = items.filter(pl.col("instrument") == "IPIP-NEO-120").head(1)
    spec = spec_for("personality", "items", bfi)
    text = spec.fields[0].render(bfi.row(0, named=True))
    assert "text not shipped" in text and "Big Five Inventory-2" in text and "item 1" in text
    assert spec.fields[0].render(ipip.row(0, named=True)) == ipip["text"].item()
    assert spec.embed_text(bfi.row(0, named=True)) is None


def test_hand_computed_bfi2_and_pvqrr():
    # BFI-2: every facet has two reverse-keyed items of four, so all 5s score 3.0 everywhere
    inst = instrument("bfi2")
    got = score_instrument(pl.DataFrame([{c: 5 for c in inst.columns}]), inst)
    assert set(got["facet_scores"].item().values()) == {3.0}
    assert set(got["domain_scores"].item().values()) == {3.0}
    # ... and with item 1 (sociability, forward) = 1 and the rest 3: sociability 2.5, E = 34/12
    got = score_instrument(pl.DataFrame([{c: 3 for c in inst.columns} | {"bfi1": 1}]), inst)
    assert got["facet_scores"].item()["E_Scb"] == 2.5
    assert got["domain_scores"].item()["E"] == pytest.approx(34 / 12)
    # PVQ-RR: all 4 except self-direction-thought (1, 23, 39) = 6; centred on the mean of all 57
    inst = instrument("pvqrr")
    got = score_instrument(pl.DataFrame([{c: 4 for c in inst.columns} | {"pvq1": 6, "pvq23": 6, "pvq39": 6}]), inst)[
        "domain_scores"
    ].item()
    mrat = (54 * 4 + 3 * 6) / 57
    assert got["SDT"] == pytest.approx(6 - mrat)
    assert got["UNN"] == pytest.approx(4 - mrat)
