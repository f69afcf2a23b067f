"""Country values harmonized to ISO 3166 with the raw value kept; the fixed-width cut
"Philippin" of Johnson's IPIP files maps to the Philippines (a unique prefix)."""

from __future__ import annotations

import polars as pl

from sources.countries import harmonize, harmonize_column


def test_codes_names_aliases_and_cut_names():
    assert harmonize("Philippin") == ("PH", "Philippines")
    assert harmonize("Philippines") == ("PH", "Philippines")
    assert harmonize("UK") == ("GB", "United Kingdom")
    assert harmonize("USA") == ("US", "United States")
    assert harmonize(" germany ") == ("DE", "Germany")
    assert harmonize("DEU") == ("DE", "Germany")
    assert harmonize("United") == (None, "United")  # a prefix of several countries: left as written
    assert harmonize("Atlantis") == (None, "Atlantis")
    assert harmonize("") == (None, None)


def test_column_keeps_the_raw_value():
    frame = harmonize_column(pl.DataFrame({"country": ["Philippin", "Philippines", None, "Atlantis"]}))
    assert frame["country"].to_list() == ["Philippines", "Philippines", None, "Atlantis"]
    assert frame["country_code"].to_list() == ["PH", "PH", None, None]
    assert frame["country_raw"].to_list() == ["Philippin", "Philippines", None, "Atlantis"]


def test_johnsons_sample_lists_each_country_once():
    from sources.ipip import read_responses

    raw = read_responses("sources/samples/personality/IPIP120.dat")
    assert "Philippin" in raw.frame["country_raw"].to_list()
    assert "Philippin" not in raw.frame["country"].to_list()
    counts = raw.frame.group_by("country_code").agg(pl.col("country").n_unique())
    assert counts["country"].max() == 1


def test_values_groups_count_each_country_once(tmp_path):
    """Two spellings of one country in the microdata are one group, named by ISO 3166; the card and
    report.json list the spellings."""
    from tests.test_survey_design import build_values

    data = tmp_path / "survey.csv"
    rows = ["id,country,w,q1"] + [f"{i},{'USA' if i % 2 else 'United States'},1,{1 + i % 2}" for i in range(40)]
    rows += [f"{100 + i},Philippin,1,1" for i in range(35)]
    data.write_text("\n".join(rows) + "\n")
    book = tmp_path / "codebook.yaml"
    book.write_text("survey: S\nweight: w\nrespondent_id: id\ngroups: [country]\n"
                    "questions:\n  - {var: q1, options: {1: Yes, 2: No}}\n")
    ctx, out = build_values(tmp_path, [data, book], min_n=30)
    groups = out.tables["distributions"].filter(pl.col("group_attr") == "country")
    assert sorted(groups["group_value"]) == ["Philippines", "United States"]
    assert groups.filter(pl.col("group_value") == "United States")["n"].item() == 40
    assert ctx.report.facts["country_spellings"]["country"] == {
        "Philippin": "Philippines", "USA": "United States", "United States": "United States"}
    card = "\n".join(s.body for s in out.sections)
    assert "Philippin -> Philippines" in card
    assert out.card.limitations[0].startswith("Intervals use Kish's effective sample size only")  # no design
