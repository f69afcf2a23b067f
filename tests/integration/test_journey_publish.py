"""Journey 1, as the README tells it, with its relative paths: run, publish 1.0.0, run with
`--publish-to` 1.1.0, `versions`, load each version back; nothing new publishes nothing."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from pipelines.engine.publish import load_version
from tests import personality_data as pdata
from tests.conftest import all_splits, curate_bin

pytestmark = pytest.mark.integration


def curate(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    proc = subprocess.run([str(curate_bin()), *args], cwd=cwd, capture_output=True, text=True, timeout=600)
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    return proc


def project(tmp_path: Path) -> Path:
    """A user's folder with the README's inputs: IPIP120.csv, and new.csv with other respondents."""
    work = tmp_path / "project"
    work.mkdir()
    pdata.write_csv(work / "IPIP120.csv")
    extra = pdata.frame_120()
    extra["case"] = extra["case"] + 1000
    extra.to_csv(work / "new.csv", index=False)
    return work


def test_publish_journey_with_relative_paths(tmp_path, hf_cache):
    work = project(tmp_path)

    proc = curate(work, "run", "personality", "--input", "IPIP120.csv", "--output", "out/personality")
    assert proc.returncode == 0, proc.stderr[-3000:]
    proc = curate(work, "publish", "out/personality", "--repo", "datasets/big5", "--version", "1.0.0")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "published v1.0.0" in proc.stdout
    proc = curate(
        work,
        "run",
        "personality",
        "-i",
        "IPIP120.csv",
        "-i",
        "new.csv",
        "-o",
        "out/personality",
        "--publish-to",
        "datasets/big5",
        "--version",
        "1.1.0",
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "published v1.1.0 to" in proc.stdout and "(previous: v1.0.0)" in proc.stdout

    proc = curate(work, "versions", "datasets/big5")
    assert proc.returncode == 0 and proc.stdout.split() == ["v1.0.0", "v1.1.0"]
    missing = curate(work, "versions", "datasets/nope")
    assert missing.returncode == 2 and missing.stdout == ""
    assert len(missing.stderr.strip().splitlines()) == 1 and "does not exist" in missing.stderr

    # the same inputs again: the data equals v1.1.0, so no version is made
    proc = curate(
        work,
        "run",
        "personality",
        "-i",
        "IPIP120.csv",
        "-i",
        "new.csv",
        "-o",
        "out/personality",
        "--publish-to",
        "datasets/big5",
        "--version",
        "1.2.0",
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "nothing published: the data equals v1.1.0" in proc.stdout
    assert curate(work, "versions", "datasets/big5").stdout.split() == ["v1.0.0", "v1.1.0"]

    v1 = load_version(work / "datasets/big5", "respondents", "1.0.0", cache_dir=hf_cache)
    v2 = load_version(work / "datasets/big5", "respondents", "1.1.0", cache_dir=hf_cache)
    assert sorted(all_splits(v1, "respondent_id")) == ["1", "2", "3", "5"]
    assert sorted(all_splits(v2, "respondent_id")) == ["1", "1001", "1002", "1003", "1005", "2", "3", "5"]
    # a respondent keeps its split from one version to the next
    split_of = {r: s for s in v1 for r in v1[s]["respondent_id"]}
    assert all(split_of[r] == s for s in v2 for r in v2[s]["respondent_id"] if r in split_of)


def test_quiet_run_prints_the_summary_only(tmp_path):
    pdata.write_csv(tmp_path / "a.csv")
    pdata.write_sav(tmp_path / "b.sav")
    proc = curate(tmp_path, "run", "personality", "-i", "a.csv", "-i", "b.sav", "-o", "out", "--quiet")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.startswith("out: respondents 4 rows") and "key_and_score" in proc.stdout
    # no bars, no Prefect info lines, no dashboard link (warnings may remain: a slow worker's shutdown)
    assert " INFO " not in proc.stderr and "it/s" not in proc.stderr and "dask dashboard" not in proc.stderr, (
        proc.stderr
    )


def readme_publishing_commands() -> list[list[str]]:
    """The local commands of the docs' "Publishing a version" block (docs/operations/publishing.md), as written (an optional
    `[...]` part left out; the Hub line needs a token and the network)."""
    import re
    import shlex

    from tests.conftest import REPO

    text = (REPO / "docs" / "operations" / "publishing.md").read_text()
    block = text.split("## Publishing a version", 1)[1].split("```bash", 1)[1].split("```", 1)[0]
    commands = []
    for line in block.strip().splitlines():
        line = re.sub(r"\[[^\]]*\]", "", line.split("#", 1)[0]).strip()
        if line.startswith("curate ") and "hf://" not in line:
            commands.append(shlex.split(line)[1:])
    return commands


def test_the_docs_publishing_section_twice_ends_with_nothing_published(tmp_path):
    """Run verbatim twice in a row: the second pass publishes nothing and exits 0 at every command;
    the version made without a config (the README's second command) keeps v1.0.0's license."""
    from huggingface_hub import DatasetCard

    commands = readme_publishing_commands()
    assert [c[0] for c in commands] == ["publish", "run", "versions"], commands
    work = project(tmp_path)
    first = curate(work, "run", "personality", "-i", "IPIP120.csv", "-o", "out/personality", "--set", "license=cc0-1.0")
    assert first.returncode == 0, first.stderr[-3000:]
    outputs = []
    for _ in range(2):
        for args in commands:
            proc = curate(work, *args)
            assert proc.returncode == 0, (args, proc.stdout[-2000:], proc.stderr[-3000:])
            outputs.append(proc.stdout)
    assert "published v1.0.0" in outputs[0] and "published v1.1.0" in outputs[1]
    assert outputs[2].split() == outputs[5].split() == ["v1.0.0", "v1.1.0"]
    assert "nothing published: the data equals v1.1.0" in outputs[3]  # out/ holds v1.1.0's data now
    assert "nothing published: the data equals v1.1.0" in outputs[4]
    repo = work / "datasets" / "big5"
    assert DatasetCard.load(repo / "README.md").data.to_dict()["license"] == "cc0-1.0"
    assert "published under `cc0-1.0`" in (repo / "README.md").read_text()
