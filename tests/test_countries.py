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
