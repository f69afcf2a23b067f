"""Hostile inputs, round two (issue 28): cases the first corpus (tests/bad_inputs/corpus.py) lacks, in
five classes: inputs that crashed (`crash`), that hung or blew up memory (`hang`), that changed data
without a word (`silent`), options that were taken though meaningless (`option`) and messages that
did not say what was wrong (`unclear`). Generated for every recipe the registry finds, plus
`curate dedup` and `curate publish`; each case is a `curate` command line run as the console script
runs it (tests/bad_inputs/cli.py), bounded in time, with its expected outcome written here: the one
`error:` line (a regex it must match whole), or a run whose every step accounts for its rows, plus
what else must hold (rows quarantined by file/row/field, files left as they were...)."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import orjson
import polars as pl
import zstandard

from tests.bad_inputs.corpus import BASE, DEFAULT_CONFIG, SAMPLES, numeric_option

Check = Callable[[Path, dict], list[str]]  # (case folder, the baseline's facts) -> problems


@dataclass
class Case:
    id: str
    kind: str  # crash | hang | silent | option | unclear
    target: str  # the recipe, or dedup / publish
    args: list[str]  # curate's arguments; {case} is the case's folder
    error: str | None = None  # the one error line must match this regex whole (after `error: `)
    clean: bool = False  # either a run that succeeds or one error line: both are right
    checks: list[Check] = field(default_factory=list)
    files: dict[str, bytes | str | None] = field(default_factory=dict)  # None: a folder
    links: dict[str, str] = field(default_factory=dict)  # name -> what the symbolic link points to
    fifos: list[str] = field(default_factory=list)
    before: list[list[str]] = field(default_factory=list)  # commands that must succeed first
    prepare: Callable[[Path], None] | None = None  # after `before`
    bound_s: float = 60.0

    def make(self, folder: Path, base_files: dict[str, Path | bytes]) -> None:
        folder.mkdir(parents=True)
        for name, src in base_files.items():
            if isinstance(src, bytes):
                (folder / name).write_bytes(src)
            else:
                shutil.copy(src, folder / name)
        for name, content in self.files.items():
            target = folder / name
            target.parent.mkdir(parents=True, exist_ok=True)
            if content is None:
                target.mkdir(exist_ok=True)
            else:
                target.write_bytes(content.encode() if isinstance(content, str) else content)
        for name, to in self.links.items():
            (folder / name).unlink(missing_ok=True)
            (folder / name).symlink_to(to.replace("{case}", str(folder)))
        for name in self.fifos:
            (folder / name).unlink(missing_ok=True)
            os.mkfifo(folder / name)


# -- checks --------------------------------------------------------------------------------------


def data_digest(out: Path) -> str:
    """The dataset's rows, the run's time aside (a rerun writes its own), the case's folder named
    `{case}` (records name their input as given, and every case has a folder of its own); to the bit
    otherwise (values' sums were not, before 131caf5)."""
    digest = hashlib.sha256()
    root = str(out.parent)
    for path in sorted((out / "data").rglob("*.parquet")):
        frame = pl.read_parquet(path)
        frame = frame.drop([c for c in frame.columns if c in ("created_at",)])
        digest.update(str(path.relative_to(out)).encode())
        digest.update(frame.write_ndjson().replace(root, "{case}").encode())
    return digest.hexdigest()


def same_rows_as_baseline(folder: Path, base: dict) -> list[str]:
    if "rows_in" not in base:
        return ["no baseline to compare with (its case failed)"]
    got = json.loads((folder / "out" / "report.json").read_text())["steps"][0]["in"]
    return [] if got == base["rows_in"] else [f"read {got} rows, the sample {base['rows_in']}"]


def same_data_as_baseline(folder: Path, base: dict) -> list[str]:
    if "digest" not in base:
        return ["no baseline to compare with (its case failed)"]
    got = data_digest(folder / "out")
    return [] if got == base["digest"] else ["the data differ from the sample's run"]


def quarantined(file: str, row: int | None, fld: str | None, error_has: str = "") -> Check:
    def check(folder: Path, base: dict) -> list[str]:
        q = pl.read_parquet(folder / "out" / "quarantine.parquet")
        hits = [
            r
            for r in q.iter_rows(named=True)
            if Path(r["source_file"]).name == file
            and (row is None or r["row"] == row)
            and (fld is None or r["field"] == fld)
            and error_has in r["error"]
        ]
        if hits:
            return []
        rows = q.select("source_file", "row", "field", "error").rows()[:4]
        return [f"({file}, row {row}, {fld}, {error_has!r}) not quarantined; quarantine: {rows}"]

    return check


def quarantine_small(limit: int = 1 << 20) -> Check:
    def check(folder: Path, base: dict) -> list[str]:
        size = (folder / "out" / "quarantine.parquet").stat().st_size
        return [] if size < limit else [f"quarantine.parquet holds {size:,} bytes: a raw line kept whole"]

    return check


def no_text(*needles: str) -> Check:
    """No published text holds these (NUL, a lone surrogate, ...)."""

    def check(folder: Path, base: dict) -> list[str]:
        found = []
        for path in sorted((folder / "out" / "data").rglob("*.parquet")):
            frame = pl.read_parquet(path)
            for name, dtype in frame.schema.items():
                if dtype == pl.String:
                    for needle in needles:
                        if frame[name].str.contains(needle, literal=True).any():
                            found.append(f"{path.parent.name}.{name} holds {needle!r}")
        return found

    return check


def labels_of(question: str, labels: list[str]) -> Check:
    """The published option labels of a values question."""

    def check(folder: Path, base: dict) -> list[str]:
        frame = pl.read_parquet(folder / "out" / "data" / "questions" / "*.parquet")
        got = frame.filter(pl.col("var_name") == question)["options"].to_list()
        return [] if got and got[0] == labels else [f"{question}'s options published as {got[:1]}, not {labels}"]

    return check


def link_intact(name: str, to: str) -> Check:
    def check(folder: Path, base: dict) -> list[str]:
        link = folder / name
        problems = []
        if not link.is_symlink() or os.readlink(link) != to.replace("{case}", str(folder)):
            problems.append(f"{name} is no longer the symbolic link to {to}")
        leftovers = [p.name for p in folder.iterdir() if ".curate-" in p.name or p.name.endswith(".staging")]
        if leftovers:
            problems.append(f"left behind: {leftovers}")
        return problems

    check.always = True  # type: ignore[attr-defined]
    return check


def unchanged(rel: str, digest_of: Callable[[Path], str]) -> Check:
    """What `rel` (a dataset or repository made by `before`) held before the case ran, it holds after."""
    state: dict[str, str] = {}

    def snapshot(folder: Path) -> None:
        state["before"] = digest_of(folder / rel)

    def check(folder: Path, base: dict) -> list[str]:
        return [] if digest_of(folder / rel) == state["before"] else [f"{rel} was changed"]

    check.snapshot = snapshot  # type: ignore[attr-defined]
    check.always = True  # type: ignore[attr-defined]
    return check


def git_state(repo: Path) -> str:
    head = subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True).stdout
    tags = subprocess.run(["git", "-C", str(repo), "tag"], capture_output=True, text=True).stdout
    status = subprocess.run(["git", "-C", str(repo), "status", "--porcelain"], capture_output=True, text=True).stdout
    return head + tags + status


# -- the cases -----------------------------------------------------------------------------------

ALIAS_BOMB = (
    "lol: &a [x, x, x, x, x, x, x, x, x]\n"
    + "".join(f"l{i}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(9))
    + "whatever: *j\n"
)
TEXT_SUFFIXES = (".csv", ".jsonl", ".tsv", ".txt")


def base_files(recipe: str) -> dict[str, Path | bytes]:
    """The recipe's sample inputs and its config (the defaults with a license, where it ships none)."""
    inputs, config = BASE[recipe]
    files: dict[str, Path | bytes] = {Path(rel).name: SAMPLES / rel for rel in inputs}
    files["config.yaml"] = SAMPLES / config if config else DEFAULT_CONFIG.encode()
    return files


def sample_config(recipe: str) -> str:
    _, config = BASE[recipe]
    return (SAMPLES / config).read_text(encoding="utf-8") if config else DEFAULT_CONFIG


def run_args(recipe: str, inputs: list[str] | None = None, *extra: str, out: str = "{case}/out") -> list[str]:
    names = inputs if inputs is not None else [Path(rel).name for rel in BASE[recipe][0]]
    args = ["run", recipe]
    for name in names:
        args += ["-i", name if name.startswith("/") else f"{{case}}/{name}"]
    return [*args, "-o", out, "-c", "{case}/config.yaml", "--cache-dir", "{case}/cache", *extra]


def recipe_cases(recipe: str) -> list[Case]:
    """The moves every recipe must withstand: configs, --set, inputs given oddly, outputs."""
    main = Path(BASE[recipe][0][0]).name
    config = sample_config(recipe)
    opt = numeric_option(recipe)
    r = recipe
    cfg_err = rf"\{{case\}}/config\.yaml: (configuration for recipe {r} is not valid YAML|invalid configuration for recipe {r}): "
    cases = [
        Case(f"{r}-baseline", "silent", r, run_args(r)),  # the facts the other cases compare with
        Case(
            f"{r}-config-cr-only",
            "crash",
            r,
            run_args(r),
            files={"config.yaml": config.replace("\n", "\r")},
            checks=[same_data_as_baseline],
        ),
        Case(
            f"{r}-config-recursive-anchor",
            "crash",
            r,
            run_args(r),
            error=cfg_err + r"line \d+: .*recursive anchor.*",
            files={"config.yaml": config + "\nloop: &x [1, *x]\n"},
        ),
        Case(
            f"{r}-config-alias-bomb-unknown-key",
            "hang",
            r,
            run_args(r),
            error=cfg_err + r".*alias bomb.*",
            files={"config.yaml": config + "\n" + ALIAS_BOMB},
            bound_s=20,
        ),
        Case(
            f"{r}-config-nested-too-deep",
            "crash",
            r,
            run_args(r),
            error=cfg_err + "nested too deeply",
            files={"config.yaml": config + "\ndeep: " + "[" * 20_000 + "]" * 20_000 + "\n"},
            bound_s=30,
        ),
        Case(
            f"{r}-config-impossible-date",
            "crash",
            r,
            run_args(r),
            error=cfg_err + r"line \d+: '2023-02-30' is not a valid date.*",
            files={"config.yaml": config + "\nwhen: 2023-02-30\n"},
        ),
        Case(
            f"{r}-config-nul-byte",
            "unclear",
            r,
            run_args(r),
            error=cfg_err + r".*#x0000.*",
            files={"config.yaml": config + "\nnote: a\x00b\n"},
        ),
        Case(
            f"{r}-config-utf16le-without-bom",
            "unclear",
            r,
            run_args(r),
            error=r"\{case\}/config\.yaml: .*UTF-16 text without a byte-order mark.*",
            files={"config.yaml": config.encode("utf-16-le")},
        ),
        Case(
            f"{r}-config-crlf-bom",
            "crash",
            r,
            run_args(r),
            files={"config.yaml": ("\ufeff" + config.replace("\n", "\r\n")).encode()},
            checks=[same_data_as_baseline],
        ),
        Case(
            f"{r}-set-unknown-option",
            "option",
            r,
            run_args(r, None, "--set", "colour=blue"),
            error=cfg_err + r"colour: .*",
        ),
        Case(
            f"{r}-input-two-symlinks-to-one-file",
            "silent",
            r,
            run_args(r, ["one." + main, "two." + main] + [Path(p).name for p in BASE[r][0][1:]]),
            error=rf"\{{case\}}/two\.{re.escape(main)}: is the same file as \{{case\}}/one\.{re.escape(main)} .*",
            links={"one." + main: "{case}/" + main, "two." + main: "{case}/" + main},
        ),
        Case(
            f"{r}-input-file-and-its-symlink",
            "silent",
            r,
            run_args(r, [Path(p).name for p in BASE[r][0]] + ["again." + main]),
            error=rf"\{{case\}}/again\.{re.escape(main)}: is the same file as \{{case\}}/{re.escape(main)} .*",
            links={"again." + main: "{case}/" + main},
        ),
        Case(
            f"{r}-input-named-pipe",
            "hang",
            r,
            run_args(r, ["pipe" + Path(main).suffix] + [Path(p).name for p in BASE[r][0][1:]]),
            error=rf"\{{case\}}/pipe{re.escape(Path(main).suffix)}: is a named pipe, not a regular file.*",
            fifos=["pipe" + Path(main).suffix],
            bound_s=20,
        ),
        Case(
            f"{r}-input-device",
            "hang",
            r,
            run_args(r, ["/dev/zero"]),
            error=r"/dev/zero: is a device, not a regular file.*",
            bound_s=20,
        ),
        Case(
            f"{r}-input-symlink-loop",
            "unclear",
            r,
            run_args(r, ["loop1" + Path(main).suffix]),
            error=rf"\{{case\}}/loop1{re.escape(Path(main).suffix)}: is a loop of symbolic links.*",
            links={"loop1" + Path(main).suffix: "{case}/loop2", "loop2": "{case}/loop1" + Path(main).suffix},
        ),
        Case(
            f"{r}-input-dangling-symlink",
            "unclear",
            r,
            run_args(r, ["gone" + Path(main).suffix]),
            error=rf"\{{case\}}/gone{re.escape(Path(main).suffix)}: file not found \(a symbolic link to .*\)",
            links={"gone" + Path(main).suffix: "{case}/moved-away"},
        ),
        Case(
            f"{r}-output-symlink-to-a-dataset",
            "silent",
            r,
            run_args(r, None, out="{case}/link"),
            error=r"\{case\}/link: is a symbolic link.*",
            before=[run_args(r, None, out="{case}/real")],
            links={"link": "{case}/real"},
            checks=[link_intact("link", "{case}/real"), unchanged("real", data_digest)],
        ),
        Case(
            f"{r}-output-under-proc",
            "unclear",
            r,
            run_args(r, None, out=f"/proc/curate-hostile-{r}"),
            error=r"/proc/\S*curate-hostile-\S*: (?!.*another run).*",
        ),
        Case(
            f"{r}-rerun-unchanged",
            "silent",
            r,
            run_args(r),
            before=[run_args(r)],
            checks=[unchanged("out", data_digest)],
        ),
    ]
    if opt:  # the numeric option: what the config model must refuse, however it is written
        for tag, value, said in [
            ("inf", "inf", r"must be a finite number, not 'inf': infinite"),
            ("1e400", "1e400", r"must be a finite number, not '1e400': infinite"),
            ("minus-1e400", "-1e400", r"must be a finite number, not '-1e400': infinite"),
            ("nan", "nan", r"must be a finite number, not 'nan': NaN \(not a number\)"),
            ("list", "[1, 2]", r"Input should be a valid (number|integer).*"),
            ("mapping", "{a: 1}", r"Input should be a valid (number|integer).*"),
            ("text", "lots", r"Input should be a valid (number|integer).*"),
        ]:
            cases.append(
                Case(
                    f"{r}-set-{opt}-{tag}",
                    "option",
                    r,
                    run_args(r, None, "--set", f"{opt}={value}"),
                    error=cfg_err + rf"{opt}: {said}",
                )
            )
        cases.append(
            Case(
                f"{r}-set-{opt}-empty",
                "option",
                r,
                run_args(r, None, "--set", f"{opt}="),
                error=rf"--set '{opt}=': no value.*",
            )
        )
        cases.append(
            Case(
                f"{r}-set-{opt}-impossible-date",
                "crash",
                r,
                run_args(r, None, "--set", f"{opt}=2023-02-30"),
                error=rf"--set '{opt}=2023-02-30': '2023-02-30' is not a valid date.*",
            )
        )
    if Path(main).suffix in TEXT_SUFFIXES:
        cases += text_input_cases(r, main)
    return cases


def text_input_cases(r: str, main: str) -> list[Case]:
    """A recipe whose first input is text (CSV, JSON Lines, lines): line ends, encodings, odd lines."""
    text = (SAMPLES / BASE[r][0][0]).read_text(encoding="utf-8")
    lines = text.rstrip("\n").split("\n")
    csv, jsonl = main.endswith(".csv"), main.endswith(".jsonl")
    cases = [
        Case(
            f"{r}-input-cr-only",
            "crash",
            r,
            run_args(r),
            files={main: text.replace("\n", "\r")},
            checks=[same_rows_as_baseline, same_data_as_baseline],
        ),
        Case(
            f"{r}-input-utf16le-without-bom",
            "unclear",
            r,
            run_args(r),
            error=rf"\{{case\}}/{re.escape(main)}: .*UTF-16 text without a byte-order mark.*",
            files={main: text.encode("utf-16-le")},
        ),
        Case(
            f"{r}-input-huge-line",
            "hang",
            r,
            run_args(r),
            clean=True,
            files={main: text + ('{"x": "' + "x" * (40 << 20) + '"}' if jsonl else "x" * (40 << 20)) + "\n"},
            checks=[quarantine_small()],
            bound_s=120,
        ),
    ]
    if csv or jsonl:  # a footer or a cut line is no record (in a text of lines, any line is one)
        garbage = "this line is a footer, not a row" if csv else '{"cut": "a line cut short'
        cases.append(
            Case(
                f"{r}-input-trailing-garbage",
                "unclear",
                r,
                run_args(r),
                files={main: text + garbage + "\n"},
                checks=[quarantined(main, len(lines) + (0 if csv else 1), None)],
            )
        )
    return cases


def preferences_cases() -> list[Case]:
    r = "preferences"
    personas = (SAMPLES / "preferences" / "personas.jsonl").read_text(encoding="utf-8")
    prompts = (SAMPLES / "preferences" / "prompts.jsonl").read_text(encoding="utf-8")
    n_personas = len(personas.rstrip("\n").split("\n"))
    n_prompts = len(prompts.rstrip("\n").split("\n"))

    def persona(**fields) -> str:
        row = {"persona_id": "p-new", "synthetic": True, "self_description": "I like plain answers."}
        row.update(fields)
        return orjson.dumps(row).decode()

    deep = "[" * 300 + "]" * 300
    # (case, class, file, its new last line, the field quarantined; None: the line itself)
    table = [
        ("persona-nested-300-deep", "crash", "personas.jsonl", '{"persona_id": "p-deep", "demographics": {"x": ' + deep + "}}", None),
        ("persona-id-true", "silent", "personas.jsonl", persona(persona_id=True), "persona_id"),
        ("persona-synthetic-text", "silent", "personas.jsonl", persona(synthetic="no"), "synthetic"),
        ("persona-demographics-list", "silent", "personas.jsonl", persona(demographics=[1, 2]), "demographics"),
        ("prompt-source-struct", "crash", "prompts.jsonl", '{"prompt_id": "q-s", "source": {"site": "x"}, "prompt": "Why so?"}', "source"),
        ("prompt-list", "silent", "prompts.jsonl", '{"prompt_id": "q-l", "prompt": ["Why", "so?"]}', "prompt"),
        ("prompt-id-false", "silent", "prompts.jsonl", '{"prompt_id": false, "prompt": "Why so?"}', "prompt_id"),
    ]  # fmt: skip
    sample = {"personas.jsonl": (personas, n_personas), "prompts.jsonl": (prompts, n_prompts)}
    cases = [
        Case(
            f"preferences-{cid}",
            kind,
            r,
            run_args(r),
            files={file: sample[file][0] + line + "\n"},
            checks=[quarantined(file, sample[file][1] + 1, fld)],
        )
        for cid, kind, file, line, fld in table
    ]
    cases.append(
        Case(
            "preferences-prompt-lone-surrogate",
            "silent",
            r,
            run_args(r),
            files={"prompts.jsonl": prompts + '{"prompt_id": "q-u", "prompt": "Is it fair \\ud800 to ask?"}\n'},
            checks=[no_text("\x00", "\ud800")],
        )
    )
    return cases


def norms_cases() -> list[Case]:
    from sources.reddit.writer import write_dump
    from tests.reddit_dumps import post

    r = "norms"

    def dump(*records) -> bytes:
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            return write_dump(Path(tmp) / "RS.zst", list(records)).read_bytes()

    def posts_with(extra) -> dict[str, bytes]:
        return {"RS_2023-01.zst": dump(post("k1"), extra, post("k3"))}

    late = dict(post("x"))
    return [
        Case(
            "norms-set-start-impossible-date",
            "crash",
            r,
            run_args(r, None, "--set", "start=2023-02-30"),
            error=r"--set 'start=2023-02-30': '2023-02-30' is not a valid date.*",
        ),
        Case(
            "norms-start-after-end",
            "option",
            r,
            run_args(r, None, "--set", "start=2023-03-01", "--set", "end=2023-02-01"),
            error=r".*start \(2023-03-01\) must be before end \(2023-02-01\).*",
        ),
        Case(
            "norms-line-nested-300-deep",
            "crash",
            r,
            run_args(r, ["RS_2023-01.zst", "RC_2023-01.zst"]),
            files=posts_with(b'{"id": "deep", "x": ' + b"[" * 300 + b"]" * 300 + b"}"),
            checks=[quarantined("RS_2023-01.zst", 2, None)],
        ),
        Case(
            "norms-id-true",
            "silent",
            r,
            run_args(r, ["RS_2023-01.zst", "RC_2023-01.zst"]),
            files=posts_with({**late, "id": True}),
            checks=[quarantined("RS_2023-01.zst", 2, "id")],
        ),
        Case(
            "norms-title-list",
            "silent",
            r,
            run_args(r, ["RS_2023-01.zst", "RC_2023-01.zst"]),
            files=posts_with({**late, "title": ["AITA", "for this"]}),
            checks=[quarantined("RS_2023-01.zst", 2, "title")],
        ),
        Case(
            "norms-lone-surrogate",
            "silent",
            r,
            run_args(r, ["RS_2023-01.zst", "RC_2023-01.zst"]),
            files=posts_with(orjson.dumps(post("s1")).replace(b'"selftext":"', b'"selftext":"a\\ud800b ', 1)),
            checks=[no_text("\x00", "\ud800")],
        ),
        Case(
            "norms-zstd-bomb-one-line",
            "hang",
            r,
            run_args(r, ["RS_2023-01.zst", "RC_2023-01.zst"]),
            error=r"\{case\}/RS_2023-01\.zst: expands [\d,]+ times .*zstd bomb.*",
            files={
                "RS_2023-01.zst": zstandard.ZstdCompressor(level=19).compress(
                    b'{"id": "' + b"a" * (400 << 20) + b'"}\n'
                )
            },
            bound_s=60,
        ),
        Case(
            "norms-line-over-the-limit",
            "hang",
            r,
            run_args(r, ["RS_2023-01.zst", "RC_2023-01.zst"]),
            files=posts_with(orjson.dumps({**late, "selftext": "word " * (4 << 20)})),
            checks=[quarantined("RS_2023-01.zst", 2, None, "over the limit"), quarantine_small()],
            bound_s=120,
        ),
    ]


def values_cases() -> list[Case]:
    r = "values"
    book = (SAMPLES / "values" / "codebook.yaml").read_text(encoding="utf-8")
    q1 = "options: {1: Very important, 2: Rather important, 3: Not very important, 4: Not at all important}"
    assert q1 in book
    book_err = r"\{case\}/codebook\.yaml: "
    return [
        Case(  # no label: the file's value label, else the code itself (docs/recipes/values.md), never "None"
            "values-codebook-null-label",
            "silent",
            r,
            run_args(r),
            files={"codebook.yaml": book.replace(q1, "options: {1: null, 2: Rather important}")},
            checks=[labels_of("q1", ["1", "Rather important"])],
        ),
        Case(
            "values-codebook-list-label",
            "silent",
            r,
            run_args(r),
            error=book_err + r".*option 2: its label must be text, not list.*",
            files={"codebook.yaml": book.replace(q1, "options: {1: Very important, 2: [a, b]}")},
        ),
        Case(
            "values-codebook-recursive-anchor",
            "crash",
            r,
            run_args(r),
            error=book_err + r".*recursive anchor.*",
            files={"codebook.yaml": book + "\nloop: &x [1, *x]\n"},
        ),
        Case(
            "values-codebook-alias-bomb",
            "hang",
            r,
            run_args(r),
            error=book_err + r".*alias bomb.*",
            files={"codebook.yaml": book + "\n" + ALIAS_BOMB},
            bound_s=20,
        ),
        Case(
            "values-codebook-impossible-date",
            "crash",
            r,
            run_args(r),
            error=book_err + r".*'2023-02-30' is not a valid date.*",
            files={"codebook.yaml": book + "\nfielded: 2023-02-30\n"},
        ),
        Case(
            "values-codebook-cr-only",
            "crash",
            r,
            run_args(r),
            files={"codebook.yaml": book.replace("\n", "\r")},
            checks=[same_data_as_baseline],
        ),
    ]


def translate_cases() -> list[Case]:
    r = "translate"
    src = SAMPLES / BASE[r][0][0]
    frame = pl.read_parquet(src)
    name = src.name
    lines = "".join(orjson.dumps(row).decode() + "\n" for row in frame.to_dicts())

    def parquet(f: pl.DataFrame) -> bytes:
        import io

        buf = io.BytesIO()
        f.write_parquet(buf)
        return buf.getvalue()

    return [
        Case(
            "translate-list-text-column",
            "crash",
            r,
            run_args(r),
            error=rf"\{{case\}}/{re.escape(name)}: .*situation.*",
            files={name: parquet(frame.with_columns(pl.col("situation").map_elements(lambda s: [s, s])))},
        ),
        Case(
            "translate-struct-text-column",
            "crash",
            r,
            run_args(r),
            error=rf"\{{case\}}/{re.escape(name)}: .*norm.*",
            files={name: parquet(frame.with_columns(pl.struct(pl.col("norm").alias("text")).alias("norm")))},
        ),
        Case(  # the same stories with LF line ends first, then CR-only: the same data
            "translate-stories-jsonl-cr-only",
            "crash",
            r,
            run_args(r, ["stories.jsonl"]),
            files={"stories.jsonl": lines},
            before=[run_args(r, ["stories.jsonl"])],
            prepare=lambda f: (f / "stories.jsonl").write_text(lines.replace("\n", "\r")),
            checks=[unchanged("out", data_digest)],
        ),
    ]


# -- dedup and publish ---------------------------------------------------------------------------

DEDUP_ROWS = [(i, f"row {i // 2} says the same thing twice") for i in range(40)] + [(99, "one of a kind")]


def dedup_csv(sep: str = "\n") -> str:
    return "id,text" + sep + sep.join(f"{i},{t}" for i, t in DEDUP_ROWS) + sep


def dedup_args(method: str, input: str = "{case}/in.csv", *extra: str, out: str = "{case}/out") -> list[str]:
    common = "--text-column text --id-column id --engine single --cache-dir {case}/cache".split()
    return ["dedup", "-i", input, "-o", out, "--method", method, *common, *extra]


def removed(n: int) -> Check:
    def check(folder: Path, base: dict) -> list[str]:
        got = json.loads((folder / "out" / "report.json").read_text())["facts"]["dedup"]["removed"]
        return [] if got == n else [f"removed {got}, expected {n}"]

    return check


def dedup_cases() -> list[Case]:
    t = "dedup"
    csv = dedup_csv()
    half = len(DEDUP_ROWS) // 2
    cases = [
        Case(
            "dedup-csv-cr-only",
            "crash",
            t,
            dedup_args("exact"),
            files={"in.csv": dedup_csv("\r")},
            checks=[removed(20)],
        ),
        Case(
            "dedup-folder-input",
            "unclear",
            t,
            dedup_args("exact", "{case}/folder"),
            files={"folder": None},
            prepare=lambda f: pl.DataFrame({"id": [1, 2], "text": ["same", "same"]}).write_parquet(
                f / "folder" / "a.parquet"
            ),
            checks=[removed(1)],
        ),
        Case(
            "dedup-utf16le-without-bom",
            "unclear",
            t,
            dedup_args("exact"),
            error=r"\{case\}/in\.csv: .*UTF-16 text without a byte-order mark.*",
            files={"in.csv": csv.encode("utf-16-le")},
        ),
        Case(
            "dedup-list-text-column",
            "crash",
            t,
            dedup_args("exact", "{case}/in.parquet"),
            error=r"\{case\}/in\.parquet: column text \(List\(String\)\) holds no text.*",
            prepare=lambda f: pl.DataFrame({"id": [1, 2], "text": [["a"], ["a"]]}).write_parquet(f / "in.parquet"),
        ),
        Case(
            "dedup-output-symlink",
            "silent",
            t,
            dedup_args("exact", out="{case}/link"),
            error=r"\{case\}/link: is a symbolic link.*",
            files={"in.csv": csv},
            before=[dedup_args("exact", out="{case}/real")],
            links={"link": "{case}/real"},
            checks=[link_intact("link", "{case}/real"), unchanged("real", data_digest)],
        ),
        Case(
            "dedup-input-two-names",
            "silent",
            t,
            dedup_args("exact", "{case}/alias.csv"),
            files={"in.csv": csv},
            links={"alias.csv": "{case}/in.csv"},
            checks=[removed(half)],
        ),
        Case(
            "dedup-input-named-pipe",
            "hang",
            t,
            dedup_args("exact", "{case}/pipe.csv"),
            error=r"\{case\}/pipe\.csv: is a named pipe, not a regular file.*",
            fifos=["pipe.csv"],
            bound_s=20,
        ),
        Case(
            "dedup-null-ids",
            "silent",
            t,
            dedup_args("exact"),
            files={"in.csv": csv + ",orphan text\n"},
            checks=[quarantined("in.csv", None, "id")],
        ),
        Case(
            "dedup-text-column-missing",
            "unclear",
            t,
            dedup_args("exact"),
            error=r"\{case\}/in\.csv: .*text.*",
            files={"in.csv": "id,body\n1,a\n2,a\n"},
        ),
    ]
    for section, bad, said in [
        ("near", "near: 5\n", r"section `near:` must be a mapping.*"),
        ("semantic", "semantic: [1]\n", r"section `semantic:` must be a mapping.*"),
        ("near", ALIAS_BOMB, r".*alias bomb.*"),
        ("near", "near: {threshold: .inf}\n", r".*threshold: must be a finite number.*"),
        ("near", "near: {threshold: .nan}\n", r".*threshold: must be a finite number.*NaN.*"),
        ("near", "near: {threshold: 1e400}\n", r".*threshold: must be a finite number.*infinite.*"),
        ("exact", "exact: {when: 2023-02-30}\n", r".*'2023-02-30' is not a valid date.*"),
        ("near", "near: &x [1, *x]\n", r".*recursive anchor.*"),
    ]:
        tag = re.sub(r"\W+", "-", bad.split("\n")[0])[:30].strip("-").lower()
        cases.append(
            Case(
                f"dedup-config-{tag}",
                "option" if "finite" in said else "crash",
                t,
                dedup_args(section, "{case}/in.csv", "--config", "{case}/dedup.yaml"),
                error=r"\{case\}/dedup\.yaml: " + said,
                files={"in.csv": csv, "dedup.yaml": bad},
                bound_s=20,
            )
        )
    return cases


def publish_cases(recipes: list[str]) -> list[Case]:
    """Publishing: a repository with a user's edit, another recipe's repository, a version twice."""
    if not {"values", "norms"} <= set(recipes):
        return []
    v, n = run_args("values", out="{case}/run-v"), run_args("norms", out="{case}/run-n")
    files = {k: p if isinstance(p, bytes) else p.read_bytes() for k, p in base_files("values").items()}
    files.update(
        {k: p.read_bytes() for k, p in base_files("norms").items() if k != "config.yaml" and isinstance(p, Path)}
    )
    files["norms.yaml"] = sample_config("norms")

    def norms_args(args: list[str]) -> list[str]:
        return [a.replace("{case}/config.yaml", "{case}/norms.yaml") for a in args]

    def user_edit(folder: Path) -> None:
        card = folder / "repo" / "README.md"
        card.write_text(card.read_text() + "\nmy own note\n")

    def repo_state(folder: Path) -> str:
        return git_state(folder)

    first = ["publish", "{case}/run-v", "--repo", "{case}/repo", "--version", "1.0.0"]
    return [
        Case(
            "publish-dirty-worktree",
            "silent",
            "publish",
            ["publish", "{case}/run-v", "--repo", "{case}/repo", "--version", "1.1.0"],
            error=r"\{case\}/repo: the repository has changes that curate did not make \(README\.md\).*",
            files=files,
            before=[v, first],
            prepare=user_edit,
            checks=[unchanged("repo", repo_state)],
        ),
        Case(
            "publish-another-recipe",
            "silent",
            "publish",
            ["publish", "{case}/run-n", "--repo", "{case}/repo", "--version", "1.1.0"],
            error=r"\{case\}/repo: its versions are `values` datasets \(v1\.0\.0\); a `norms` run .*",
            files=files,
            before=[v, norms_args(n), first],
            checks=[unchanged("repo", repo_state)],
        ),
        Case(
            "publish-version-twice",
            "silent",
            "publish",
            first,
            error=r".*1\.0\.0.*",
            clean=True,
            files=files,
            before=[v, first],
            checks=[unchanged("repo", repo_state)],
        ),
        Case(
            "publish-repo-is-a-file",
            "unclear",
            "publish",
            ["publish", "{case}/run-v", "--repo", "{case}/afile", "--version", "1.0.0"],
            error=r"\{case\}/afile: .*",
            files={**files, "afile": "not a repository"},
            before=[v],
        ),
        Case(
            "publish-version-not-semantic",
            "option",
            "publish",
            ["publish", "{case}/run-v", "--repo", "{case}/repo", "--version", "1.0"],
            error=r"version '1\.0' is not semantic.*",
            files=files,
            before=[v],
        ),
        Case(
            "publish-a-folder-curate-did-not-write",
            "unclear",
            "publish",
            ["publish", "{case}/mine", "--repo", "{case}/repo", "--version", "1.0.0"],
            error=r"\{case\}/mine: not a run folder.*",
            files={"mine/notes.txt": "x"},
        ),
    ]


def build() -> list[Case]:
    from pipelines.recipes import available

    recipes = [r for r in available() if r in BASE]
    cases = [c for r in recipes for c in recipe_cases(r)]
    extra = {
        "preferences": preferences_cases,
        "norms": norms_cases,
        "values": values_cases,
        "translate": translate_cases,
    }
    for r in recipes:
        if r in extra:
            cases += extra[r]()
    cases += dedup_cases()
    cases += publish_cases(recipes)
    ids = [c.id for c in cases]
    assert len(ids) == len(set(ids)), "case ids repeat"
    return cases
