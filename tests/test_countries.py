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
    assert frame["country_alpha3"].to_list() == ["PHL", "PHL", None, None]
    assert frame["country_raw"].to_list() == ["Philippin", "Philippines", None, "Atlantis"]


def test_johnsons_sample_lists_each_country_once():
    from sources.ipip import read_responses

    raw = read_responses("sources/samples/personality/IPIP120.dat")
    assert "Philippin" in raw.frame["country_raw"].to_list()
    assert "Philippin" not in raw.frame["country"].to_list()
    counts = raw.frame.group_by("country_code").agg(pl.col("country").n_unique())
    assert counts["country"].max() == 1


def test_personality_respondents_carry_both_iso_codes(tmp_path):
    from pipelines.engine.dask_runtime import DaskRuntime
    from pipelines.engine.runtime import RunContext
    from pipelines.recipes import personality

    ctx = RunContext(recipe="personality", output=tmp_path / "out", dask=DaskRuntime(inline=True))
    out = personality.build(
        ctx, [__import__("pathlib").Path("sources/samples/personality/IPIP120.dat")], personality.Config()
    )
    demo = out.tables["respondents"]["demographics"].struct
    pairs = set(zip(demo.field("country_code").to_list(), demo.field("country_alpha3").to_list()))
    assert ("PH", "PHL") in pairs and all((a is None) == (b is None) for a, b in pairs)


def country_survey(tmp_path, spellings: tuple[str, str], other: str):
    """The values recipe on 40 respondents of one country in two spellings and 35 of `other`."""
    from tests.test_survey_design import build_values

    data = tmp_path / "survey.csv"
    rows = ["id,country,w,q1"] + [f"{i},{spellings[i % 2]},1,{1 + i % 2}" for i in range(40)]
    rows += [f"{100 + i},{other},1,1" for i in range(35)]
    data.write_text("\n".join(rows) + "\n")
    book = tmp_path / "codebook.yaml"
    book.write_text(
        "survey: S\nweight: w\nrespondent_id: id\ngroups: [country]\n"
        "questions:\n  - {var: q1, options: {1: Yes, 2: No}}\n"
    )
    return build_values(tmp_path, [data, book], min_n=30)


def test_values_groups_count_each_country_once(tmp_path):
    """Two spellings of one country in the microdata are one group, named by ISO 3166; the card and
    report.json list the spellings."""
    ctx, out = country_survey(tmp_path, ("USA", "United States"), "Philippin")
    groups = out.tables["distributions"].filter(pl.col("group_attr") == "country")
    assert sorted(groups["group_value"]) == ["Philippines", "United States"]
    assert groups.filter(pl.col("group_value") == "United States")["n"].item() == 40
    assert ctx.report.facts["country_spellings"]["country"] == {
        "Philippin": "Philippines",
        "USA": "United States",
        "United States": "United States",
    }
    card = "\n".join(s.body for s in out.sections)
    assert "Philippin -> Philippines" in card
    assert out.card.limitations[0].startswith("Intervals use Kish's effective sample size only")  # no design


# -- variants, from the libraries' own tables ------------------------------------------------------

LARGEST = "US GB DE FR IT ES NL SE PL RU UA TR CN JP KR IN ID PH VN TH BR MX AR CO CL PE ZA NG EG KE AU CA".split()
SURVEY_LANGUAGES = "de fr es it pt ru zh_CN zh_TW ja ko ar tr pl nl sv id vi th uk hi fa he el cs ro hu".split()


def test_the_variants_users_write_merge():
    from sources.countries import recognize

    same = {
        "KR": ["Republic of Korea", "South Korea", "Korea, Republic of", "Korea"],
        "SZ": ["Swaziland", "Eswatini"],
        "XK": ["XK", "Kosovo", "XKX"],
        "AE": ["UAE", "United Arab Emirates"],
        "DE": ["Deutschland", "Germany", "DEU"],
        "CD": ["DR Congo", "Democratic Republic of the Congo"],
        "RU": ["Russia", "Russian Federation"],
        "VN": ["Vietnam", "Viet Nam"],
        "GB": ["UK", "Great Britain", "England", "Scotland"],
    }
    for code, spellings in same.items():
        found = {s: recognize(s) for s in spellings}
        assert {c.alpha2 for c in found.values()} == {code}, found
        assert len({c.name for c in found.values()}) == 1  # one naming style: one name per country
    assert recognize("Kosovo") == ("XK", "XKX", "Kosovo")
    assert (
        recognize("Vietnam").name == "Viet Nam" and recognize("Russia").name == "Russian Federation"
    )  # ISO short names
    assert recognize("مصر").alpha2 == "EG"  # not Montserrat, whose code "msr" the name folds onto


def test_every_spelling_in_countrynames_table_of_the_largest_survey_countries_merges():
    """The spellings come from countrynames' own table (names in every language and script it lists)."""
    from countrynames.data import DATA

    from sources.countries import recognize

    checked, wrong = 0, []
    for code in LARGEST:
        for name in DATA[code]:
            checked += 1
            if recognize(name).alpha2 != code:
                wrong.append((code, name, recognize(name).alpha2))
    assert checked > 4000 and wrong == []


def test_pycountrys_translations_of_the_largest_survey_countries_merge():
    """The ISO names as pycountry translates them (its own gettext catalogues): every one in the
    major survey languages; over all ~160 languages, where pycountry and countrynames disagree
    (4 of ~5,000: Kannada's Mexico is pycountry's Honduras), no more than 0.1%."""
    import gettext
    from pathlib import Path

    import pycountry

    from sources.countries import recognize

    checked, wrong = 0, []
    for folder in sorted(Path(pycountry.LOCALES_DIR).iterdir()):
        try:
            catalogue = gettext.translation("iso3166-1", pycountry.LOCALES_DIR, languages=[folder.name])
        except OSError:
            continue
        for code in LARGEST:
            local = catalogue.gettext(pycountry.countries.get(alpha_2=code).name)
            checked += 1
            if recognize(local).alpha2 != code:
                wrong.append((folder.name, code, local))
    assert checked > 4000
    assert [w for w in wrong if w[0] in SURVEY_LANGUAGES] == []
    assert len(wrong) <= checked / 1000, wrong


def test_unrecognised_values_are_flagged_not_passed_off_as_countries(tmp_path):
    ctx, out = country_survey(tmp_path, ("Republic of Korea", "South Korea"), "Narnia")
    groups = out.tables["distributions"].filter(pl.col("group_attr") == "country").sort("group_value")
    assert groups.select("group_value", "group_alpha2", "group_alpha3").rows() == [
        ("Korea, Republic of", "KR", "KOR"),
        ("Narnia", None, None),
    ]
    assert out.tables["distributions"].filter(pl.col("group_attr") == "all")["group_alpha2"].to_list() == [None]
    assert ctx.report.facts["unrecognised_countries"] == {"country": ["Narnia"]}
    assert "Narnia" not in ctx.report.facts["country_spellings"]["country"]
    card = "\n".join(s.body for s in out.sections)
    assert "**Not recognised as a country** (kept as written, no ISO code): Narnia" in card
