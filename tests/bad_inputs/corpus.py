"""A corpus of hostile inputs for every recipe, each case with its expected outcome: the exact error
line (`error: ...`, `{case}` standing for the case's folder), or a run that succeeds with the given
rows quarantined (file, row, field) and nothing lost. `python -m tests.bad_inputs.corpus DIR` writes
it (cases.json and one folder per case); tests/integration/test_bad_inputs.py runs it."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import orjson

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "sources" / "samples"

# the fuller samples of the shipped recipes: (files, config); their demo samples are a few rows each
FULLER = {
    "personality": (["personality/ipip120_responses.csv"], "personality/config.yaml"),
    "values": (["values/values_w1.csv", "values/codebook.yaml"], "values/config.yaml"),
    "norms": (["norms/RS_2023-01.zst", "norms/RC_2023-01.zst"], "norms/config.yaml"),
    "expand": (["expand/items.csv"], "expand/config.yaml"),
    "preferences": (["preferences/personas.jsonl", "preferences/prompts.jsonl"], "preferences/config.yaml"),
    "translate": (["translate/moral_stories/data/train-00000-of-00001.parquet"], "translate/config.yaml"),
}
# the numeric option each shipped recipe's option cases use; another recipe's: its first numeric option
NUMERIC = {
    "personality": "min_answered_fraction",
    "values": "min_n",
    "norms": "min_words",
    "expand": "scenarios_per_item",
    "preferences": "max_words",
    "translate": "max_demonstrations",
}


def _rel(path: Path) -> str:
    return str(path.relative_to(SAMPLES)) if path.is_relative_to(SAMPLES) else str(path)


def registry_samples() -> dict[str, tuple[list[str], str | None]]:
    """Every recipe the registry finds (a new folder included) -> its sample: the fuller one above for a
    shipped recipe, else what it declares for the demo (`Recipe.demo_inputs`, `<samples>/<name>/config.yaml`)."""
    from pipelines.recipes import SHIPPED, available, get_recipe

    out = {}
    for name, folder in available().items():
        if name in FULLER and folder.parent == SHIPPED:
            out[name] = FULLER[name]
            continue
        files, config = get_recipe(name).demo_run(SAMPLES)
        if files:  # a recipe that ships no sample has no baseline to break
            out[name] = ([_rel(f) for f in files], _rel(config) if config else None)
    return out


def numeric_option(name: str) -> str | None:
    """The option the non-finite and negative cases set: a shipped recipe's above, else the first int
    or float option of the recipe's own Config (none: those cases are left out for it)."""
    if name in NUMERIC:
        return NUMERIC[name]
    from pipelines.recipes import RecipeConfig, get_recipe

    for field, info in get_recipe(name).Config.model_fields.items():
        if field not in RecipeConfig.model_fields and info.annotation in (int, float):
            return field
    return None


def bounded(name: str, option: str) -> bool:
    """The option has a lower bound (Field(ge=...) or gt), so -3 is refused."""
    from pipelines.recipes import get_recipe

    info = get_recipe(name).Config.model_fields[option]
    return any(hasattr(m, "ge") or hasattr(m, "gt") for m in info.metadata)


BASE = registry_samples()
# the config of a recipe whose sample has none: a license, as the shipped samples set it
DEFAULT_CONFIG = "license: cc0-1.0\n"


class Corpus:
    def __init__(self, root: Path):
        self.root = root
        self.cases: list[dict] = []

    def case(
        self,
        cid: str,
        recipe: str,
        expect: dict,
        *,
        inputs: list[str] | None = None,
        config: str | None | bool = True,
        files: dict[str, bytes | str] | None = None,
        copy: bool = True,
        setup: str | None = None,
        allow_existing: bool = False,
    ) -> None:
        folder = self.root / cid
        folder.mkdir(parents=True)
        base_inputs, base_config = BASE[recipe]
        if copy:
            for rel in base_inputs:
                shutil.copy(SAMPLES / rel, folder / Path(rel).name)
            if base_config:
                shutil.copy(SAMPLES / base_config, folder / "config.yaml")
            else:  # a recipe whose sample has no config: the defaults, said in a file the cases can edit
                (folder / "config.yaml").write_text(DEFAULT_CONFIG)
        for name, content in (files or {}).items():
            target = folder / name
            target.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, str):
                content = content.encode()
            if content is None:
                target.mkdir(exist_ok=True)
            else:
                target.write_bytes(content)
        names = inputs if inputs is not None else [Path(r).name for r in base_inputs]
        cfg = "config.yaml" if config is True else (config or None)
        self.cases.append(
            {
                "id": cid,
                "recipe": recipe,
                "inputs": names,
                "config": cfg,
                "expect": expect,
                "setup": setup,
                "allow_existing": allow_existing,
            }
        )

    def write(self) -> list[dict]:
        (self.root / "cases.json").write_bytes(orjson.dumps(self.cases, option=orjson.OPT_INDENT_2))
        return self.cases


def sample_text(rel: str) -> str:
    return (SAMPLES / rel).read_text(encoding="utf-8")


def config_text(recipe: str, *drop: str) -> str:
    """The sample's config without dataset_name and `drop` (cases set their own: a key given twice is
    an error)."""
    return "".join(
        line
        for line in (sample_text(BASE[recipe][1]) if BASE[recipe][1] else DEFAULT_CONFIG).splitlines(keepends=True)
        if not line.startswith(tuple(f"{k}:" for k in ("dataset_name", *drop)))
    )


def err(text: str) -> dict:
    return {"error": f"error: {text}"}


def ok(**more) -> dict:
    return {"ok": True, **more}


def generic_cases(c: Corpus) -> None:
    """The same hostile moves against every recipe: files, options, output folders."""
    for r in BASE:
        main = Path(BASE[r][0][0]).name
        cfg = config_text(r)
        c.case(f"{r}-sample", r, ok(sample=True))  # the baseline: rows read from the shipped sample
        c.case(
            f"{r}-missing-input",
            r,
            err(f"{{case}}/nothere{Path(main).suffix}: file not found"),
            inputs=[f"nothere{Path(main).suffix}"],
        )
        c.case(f"{r}-empty-input", r, err(f"{{case}}/{main}: file is empty"), files={main: b""})
        c.case(
            f"{r}-directory-input",
            r,
            err("{case}/adir: is a directory, expected a file"),
            inputs=["adir"],
            files={"adir": None},
        )
        c.case(
            f"{r}-config-duplicate-key",
            r,
            err(
                "{case}/config.yaml: configuration for recipe " + r + " is not valid YAML: line 2: duplicate key "
                "'license' (first at line 1)"
            ),
            files={"config.yaml": "license: mit\nlicense: cc0-1.0\n"},
        )
        opt = numeric_option(r)
        cfg = config_text(r, *([opt] if opt else []))
        if opt:  # non-finite numbers are errors for every numeric option
            for value, shown, kind in (
                (".nan", "nan", "NaN (not a number)"),
                (".inf", "inf", "infinite"),
                ("-.inf", "-inf", "infinite"),
            ):
                c.case(
                    f"{r}-config-{opt}-{shown}",
                    r,
                    err(
                        f"{{case}}/config.yaml: invalid configuration for recipe {r}: {opt}: must be a finite "
                        f"number, not {shown}: {kind}"
                    ),
                    files={"config.yaml": f"{cfg}\n{opt}: {value}\n"},
                )
        if opt and (r in NUMERIC or bounded(r, opt)):  # below its bound
            c.case(
                f"{r}-config-{opt}-negative",
                r,
                {"error_starts": f"error: {{case}}/config.yaml: invalid configuration for recipe {r}: {opt}: "},
                files={"config.yaml": f"{cfg}\n{opt}: -3\n"},
            )
        c.case(
            f"{r}-config-bad-license",
            r,
            err(
                f"{{case}}/config.yaml: invalid configuration for recipe {r}: config: Value error, 'gpl-99' is not a "
                "Hugging Face Hub license id (e.g. cc-by-4.0, cc0-1.0, mit, apache-2.0, unknown); for another "
                "license: license: other, license_name: NAME"
            ),
            files={"config.yaml": "license: gpl-99\n"},
        )
        c.case(
            f"{r}-config-other-license-unnamed",
            r,
            err(
                f"{{case}}/config.yaml: invalid configuration for recipe {r}: config: Value error, license: other "
                "needs the license's name on one line (license_name: NAME)"
            ),
            files={"config.yaml": "license: other\n"},
        )
        c.case(
            f"{r}-config-unknown-option",
            r,
            {"error_starts": f"error: {{case}}/config.yaml: invalid configuration for recipe {r}: colour: "},
            files={"config.yaml": f"{cfg}\ncolour: blue\n"},
        )
        c.case(
            f"{r}-config-list",
            r,
            err(f"{{case}}/config.yaml: configuration for recipe {r} must be a YAML mapping of option: value"),
            files={"config.yaml": "- license\n- mit\n"},
        )
        c.case(
            f"{r}-config-latin1",
            r,
            err(
                "{case}/config.yaml: not UTF-8 text: byte 0xf4 at line 1, column 16 "
                "(Latin-1 or Windows-1252?); save it as UTF-8 (or UTF-16 with a byte-order mark)"
            ),
            files={"config.yaml": "dataset_name: Cte\n".replace("C", "C\xf4").encode("latin-1")},
        )
        c.case(
            f"{r}-config-utf16",
            r,
            ok(card_has=["# Côte d'Ivoire sample", "license: other", "license_name: Lab licence 1.0"]),
            files={
                "config.yaml": (
                    cfg + "\ndataset_name: Côte d'Ivoire sample\nlicense: other\nlicense_name: Lab licence 1.0\n"
                )
                .replace("license: cc0-1.0\n", "")
                .encode("utf-16")
            },
        )
        c.case(
            f"{r}-card-injection",
            r,
            ok(
                card_has=["&lt;script&gt;alert(1)&lt;/script&gt; --- license: mit # injected"],
                card_lacks=["<script>", "\n# injected"],
            ),
            files={
                "config.yaml": cfg + '\ndataset_name: "<script>alert(1)</script>\\n---\\nlicense: mit\\n# injected"\n'
            },
        )
        c.case(
            f"{r}-output-is-a-file",
            r,
            err("{case}/out: exists and is not a folder; --output must be a (new or curate-written) folder"),
            files={"out": b"my file"},
            setup="keep",
        )
        c.case(
            f"{r}-output-foreign",
            r,
            err(
                "{case}/out: exists and is not a dataset folder written by curate (no "
                ".curate-manifest.json); choose a new folder, or pass --allow-existing to "
                "add the dataset to it (its other files are kept)"
            ),
            files={"out/notes.txt": "mine", "out/data/mine.csv": "a\n1\n"},
            setup="keep",
        )
        c.case(
            f"{r}-output-foreign-allowed",
            r,
            ok(kept_files={"out/notes.txt": "mine", "out/data/mine.csv": "a\n1\n"}),
            files={"out/notes.txt": "mine", "out/data/mine.csv": "a\n1\n"},
            setup="keep",
            allow_existing=True,
        )
        c.case(
            f"{r}-rerun-keeps-user-files",
            r,
            ok(kept_files={"out/data/extra/mine.txt": "x", "out/plots/mine.png": "p"}),
            setup="rerun-with-user-files",
        )


def csv_cases(c: Corpus) -> None:
    """Text tables (personality, values, expand): encodings, headers, columns."""
    for r in ("personality", "values", "expand"):
        main = Path(BASE[r][0][0]).name
        text = sample_text(BASE[r][0][0])
        header, first, *rest = text.split("\n")
        c.case(
            f"{r}-latin1-csv",
            r,
            {"error_starts": f"error: {{case}}/{main}: not UTF-8 text: byte 0xf4 at line 2, "},
            files={
                main: (
                    header + "\n" + first.replace(first.split(",")[-1], "C\xf4te", 1) + "\n" + "\n".join(rest)
                ).encode("latin-1")
            },
        )
        c.case(f"{r}-utf16-csv", r, ok(same_as_sample=True, encoding="utf-16"), files={main: text.encode("utf-16")})
        c.case(f"{r}-utf8-bom-csv", r, ok(same_as_sample=True, encoding="utf-8-sig"), files={main: "\ufeff" + text})
        c.case(f"{r}-crlf-csv", r, ok(same_as_sample=True), files={main: text.replace("\n", "\r\n")})
        cols = header.split(",")
        dup = ",".join(cols + [cols[1]])
        c.case(
            f"{r}-duplicate-column",
            r,
            err(
                f"{{case}}/{main}: column '{cols[1].lower()}' appears twice (names are "
                "matched ignoring case and surrounding spaces); rename one"
            ),
            files={main: dup + "\n" + "\n".join(line + ",x" if line else line for line in [first, *rest])},
        )
        collide = ",".join(cols + [f" {cols[1].upper()} "])
        c.case(
            f"{r}-case-colliding-columns",
            r,
            err(
                f"{{case}}/{main}: column '{cols[1].lower()}' appears as '{cols[1]}' and ' {cols[1].upper()} ' (names "
                "are matched ignoring case and surrounding spaces); rename one"
            ),
            files={main: collide + "\n" + "\n".join(line + ",x" if line else line for line in [first, *rest])},
        )
        c.case(f"{r}-header-only-csv", r, {"clean": True}, files={main: header + "\n"})
        c.case(
            f"{r}-xlsx-input",
            r,
            {"error_starts": "error: {case}/items.xlsx: "},
            inputs=["items.xlsx"],
            files={"items.xlsx": b"PK\x03\x04 not really"},
        )


def csv_editor(rel: str):
    """(header, *rows, with_cell): the sample's lines, and a function giving its text with one cell
    (1-based data row, column name) replaced."""
    header, *rows = [line for line in sample_text(rel).split("\n") if line]
    cols = header.split(",")

    def with_cell(row: int, col: str, value: str) -> str:
        cells = rows[row - 1].split(",")
        cells[cols.index(col)] = value
        out = list(rows)
        out[row - 1] = ",".join(cells)
        return "\n".join([header, *out]) + "\n"

    return header, *rows, with_cell


def personality_cases(c: Corpus) -> None:
    header, *rows, with_cell = csv_editor("personality/ipip120_responses.csv")
    main = "ipip120_responses.csv"
    for cid, row, col, value in [
        ("answer-7", 2, "i3", "7"),
        ("answer-x", 3, "i9", "x"),
        ("answer-2.5", 4, "i1", "2.5"),
        ("answer-nan", 5, "i2", "NaN"),
        ("answer-inf", 6, "i4", "inf"),
        ("answer-neg", 7, "i5", "-1"),
        ("age-1e9", 2, "age", "1e9"),
        ("age-nan", 3, "age", "NaN"),
        ("age-inf", 4, "age", "inf"),
        ("age-neg", 5, "age", "-5"),
        ("age-text", 6, "age", "forty"),
    ]:
        c.case(
            f"personality-{cid}",
            "personality",
            ok(quarantine=[[main, row, col]]),
            files={main: with_cell(row, col, value)},
        )
    c.case(
        "personality-duplicate-case",
        "personality",
        ok(quarantine=[[main, len(rows) + 1, "case"]]),
        files={main: "\n".join([header, *rows, rows[0]]) + "\n"},
    )
    dat = (SAMPLES / "personality" / "IPIP120.dat").read_bytes().split(b"\n")
    c.case(
        "personality-dat-short-line",
        "personality",
        ok(quarantine=[["IPIP120.dat", 2, "line"]]),
        inputs=["IPIP120.dat"],
        files={"IPIP120.dat": b"\n".join([dat[0], dat[1][:50], *dat[2:]])},
    )
    identity_cases(c, header, rows)
    c.case(
        "personality-sav-garbage",
        "personality",
        {"error_starts": "error: {case}/bad.sav: "},
        inputs=["bad.sav"],
        files={"bad.sav": b"$FL2 this is not SPSS"},
    )
    c.case(
        "personality-dta-garbage",
        "personality",
        {"error_starts": "error: {case}/bad.dta: "},
        inputs=["bad.dta"],
        files={"bad.dta": b"<stata_dta> no"},
    )


def identity_cases(c: Corpus, header: str, rows: list[str]) -> None:
    """Inputs are named as given: one file name in two folders is two inputs (records name each);
    one file given twice is refused; respondents without a case number are `file:row`, no collision."""
    main = "ipip120_responses.csv"
    no_case = "\n".join(",".join(line.split(",")[1:]) for line in [header, *rows]) + "\n"
    pair = ["d1/" + main, "d2/" + main]
    c.case(
        "personality-same-file-name-two-folders",
        "personality",
        ok(record_files={"respondents": pair}),
        inputs=pair,
        files={p: no_case for p in pair},
        copy=True,
    )
    c.case(
        "personality-same-case-two-folders",
        "personality",
        ok(quarantine=[[main, 1, "case"]], quarantine_error_has=[f"first seen in {{case}}/d1/{main} row 1"]),
        inputs=pair,
        files={p: "\n".join([header, *rows]) + "\n" for p in pair},
    )
    c.case(
        "personality-same-file-given-twice",
        "personality",
        err(
            f"{{case}}/d1/../{main}: is given twice (as {{case}}/{main} and {{case}}/d1/../{main}); give each input once"
        ),
        inputs=[main, f"d1/../{main}"],
        files={"d1/keep.txt": "x"},
    )
    w1 = "values_w1.csv"
    c.case(
        "values-same-file-name-two-folders",
        "values",
        err(
            f"{{case}}/codebook.yaml: the codebook's `files` entry '{w1}' fits {{case}}/d1/{w1}, {{case}}/d2/{w1}; "
            "name the file as given on the command line"
        ),
        inputs=[f"d1/{w1}", f"d2/{w1}", "codebook.yaml"],
        files={f"d1/{w1}": sample_text(f"values/{w1}"), f"d2/{w1}": sample_text(f"values/{w1}")},
    )


def values_cases(c: Corpus) -> None:
    header, *rows, with_cell = csv_editor("values/values_w1.csv")
    main = "values_w1.csv"
    for cid, row, col, value in [
        ("weight-nan", 2, "weight", "NaN"),
        ("weight-inf", 3, "weight", "inf"),
        ("weight-neg", 4, "weight", "-1"),
        ("weight-text", 5, "weight", "heavy"),
        ("weight-1e400", 6, "weight", "1e400"),
        ("code-77", 7, "q1", "77"),
        ("code-text", 8, "q3", "lots"),
    ]:
        c.case(f"values-{cid}", "values", ok(quarantine=[[main, row, col]]), files={main: with_cell(row, col, value)})
    book = sample_text("values/codebook.yaml")
    c.case(
        "values-codebook-duplicate-key",
        "values",
        err("{case}/codebook.yaml: codebook is not valid YAML: line 7: duplicate key 'weight' (first at line 5)"),
        files={"codebook.yaml": book.replace("respondent_id: resp_id\n", "respondent_id: resp_id\nweight: q6\n", 1)},
    )
    c.case("values-codebook-utf16", "values", ok(same_as_sample=True), files={"codebook.yaml": book.encode("utf-16")})
    c.case(
        "values-codebook-latin1",
        "values",
        {"error_starts": "error: {case}/codebook.yaml: not UTF-8 text: "},
        files={"codebook.yaml": book.replace("Sample Values Survey", "Sample Valeurs Enqu\xeate").encode("latin-1")},
    )
    c.case(
        "values-confidence-1.5",
        "values",
        {"error_starts": "error: {case}/config.yaml: invalid configuration for recipe values: confidence: "},
        files={"config.yaml": config_text("values") + "confidence: 1.5\n"},
    )
    c.case(
        "values-two-codebooks",
        "values",
        {"error_starts": "error: "},
        inputs=["values_w1.csv", "codebook.yaml", "cb2.yaml"],
        files={"cb2.yaml": book},
    )


def norms_cases(c: Corpus) -> None:
    sys.path.insert(0, str(REPO))
    from sources.reddit.writer import write_dump
    from tests.reddit_dumps import post

    def dump(name: str, records: list) -> bytes:
        tmp = c.root / f".{name}"
        write_dump(tmp, records)
        data = tmp.read_bytes()
        tmp.unlink()
        return data

    for cid, field, value in [
        ("created-nan", "created_utc", "NaN"),
        ("created-inf", "created_utc", "inf"),
        ("created-1e30", "created_utc", 1e30),
        ("created-neg", "created_utc", -1),
        ("score-1e40", "score", 1e40),
        ("score-neg-inf", "score", "-inf"),
        ("comments-neg", "num_comments", -3),
        ("edited-1e30", "edited", 1e30),
        ("retrieved-1e300", "retrieved_on", 1e300),
        ("created-text", "created_utc", "soon"),
    ]:
        c.case(
            f"norms-{cid}",
            "norms",
            ok(quarantine=[["RS_2023-02.zst", 2, field]]),
            inputs=["RS_2023-02.zst"],
            files={"RS_2023-02.zst": dump(cid, [post("a1"), post("a2", **{field: value}), post("a3")])},
        )
    c.case(
        "norms-bad-json-line",
        "norms",
        ok(quarantine=[["RS_2023-02.zst", 2, None]]),
        inputs=["RS_2023-02.zst"],
        files={"RS_2023-02.zst": dump("j", [post("a1"), b'{"id": "a2", "title": "cut', post("a3")])},
    )
    c.case(
        "norms-not-an-object",
        "norms",
        ok(quarantine=[["RS_2023-02.zst", 2, None]]),
        inputs=["RS_2023-02.zst"],
        files={"RS_2023-02.zst": dump("o", [post("a1"), b"[1, 2]", post("a3")])},
    )
    c.case(
        "norms-not-zstd",
        "norms",
        err("{case}/RS_2023-02.zst: not a zstd-compressed Reddit dump (no zstd frame at the start)"),
        inputs=["RS_2023-02.zst"],
        files={"RS_2023-02.zst": b'{"id": 1}\n'},
    )
    good = dump("t", [post(f"a{i}") for i in range(1, 6)])
    c.case("norms-truncated", "norms", {"clean": True}, inputs=["RS_2023-02.zst"], files={"RS_2023-02.zst": good[:-7]})


def table_cases(c: Corpus) -> None:
    """translate (parquet, JSON Lines) and preferences (JSON Lines)."""
    import polars as pl

    src = SAMPLES / BASE["translate"][0][0]
    data = src.read_bytes()
    name = src.name
    c.case(
        "translate-corrupt-parquet",
        "translate",
        {"error_starts": f"error: {{case}}/{name}: "},
        files={name: data[: len(data) // 2]},
    )
    c.case(
        "translate-parquet-garbage",
        "translate",
        {"error_starts": f"error: {{case}}/{name}: "},
        files={name: b"PAR1" + b"\x00" * 64 + b"PAR1"},
    )
    frame = pl.read_parquet(src)
    rows = frame.to_dicts()
    lines = []
    for i, row in enumerate(rows):
        row = dict(row)
        row["ID"] = i if i % 2 else str(row["ID"])  # IDs of mixed type: numbers and strings
        lines.append(orjson.dumps(row).decode())
    c.case(
        "translate-mixed-type-ids",
        "translate",
        {"clean": True},
        inputs=["stories.jsonl"],
        files={"stories.jsonl": "\n".join(lines) + "\n"},
    )
    c.case(
        "translate-missing-column",
        "translate",
        {"clean": True},
        inputs=["stories.jsonl"],
        files={"stories.jsonl": "\n".join(orjson.dumps({"ID": r["ID"]}).decode() for r in rows) + "\n"},
    )
    for cid, body in [
        ("bad-line", '{"prompt_id": "q9", "prompt": "unterminated\n'),
        ("not-object", "[1, 2]\n"),
        ("latin1-line", None),
    ]:
        prompts = sample_text("preferences/prompts.jsonl")
        if body is None:
            payload = prompts.encode() + '{"prompt_id": "q10", "prompt": "C\xf4te"}\n'.encode("latin-1")
            c.case(
                f"preferences-{cid}",
                "preferences",
                {"error_starts": "error: {case}/prompts.jsonl: not UTF-8 text: "},
                files={"prompts.jsonl": payload},
            )
        else:
            c.case(f"preferences-{cid}", "preferences", {"clean": True}, files={"prompts.jsonl": prompts + body})
    c.case(
        "preferences-utf16",
        "preferences",
        ok(same_as_sample=True, encoding="utf-16"),
        files={"prompts.jsonl": sample_text("preferences/prompts.jsonl").encode("utf-16")},
    )


def build(root: Path) -> list[dict]:
    c = Corpus(root)
    generic_cases(c)
    csv_cases(c)
    personality_cases(c)
    values_cases(c)
    norms_cases(c)
    table_cases(c)
    return c.write()


if __name__ == "__main__":
    target = Path(sys.argv[1])
    if target.exists():
        shutil.rmtree(target)
    cases = build(target)
    print(json.dumps({"cases": len(cases), "root": str(target)}))
