"""The docs site (mkdocs.yml, docs/) builds with --strict, as scripts/test.sh builds it in CI; and the
strict build fails on a dead link, a broken anchor or a page missing from the nav's files, shown on a
copy."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO

MKDOCS = Path(sys.executable).parent / "mkdocs"


def build(root: Path, site: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(MKDOCS), "build", "--strict", "--site-dir", str(site)],
        cwd=root,
        capture_output=True,
        text=True,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        timeout=300,
    )


def test_the_docs_build_strictly(tmp_path):
    done = build(REPO, tmp_path / "site")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "site" / "developer" / "adding-a-recipe" / "index.html").is_file()


def test_a_dead_link_or_a_missing_page_fails_the_build(tmp_path):
    def copy(name: str) -> Path:
        root = tmp_path / name
        shutil.copytree(REPO / "docs", root / "docs")
        shutil.copy(REPO / "mkdocs.yml", root)
        return root

    dead = copy("dead")
    page = dead / "docs" / "user-guide" / "dedup.md"
    page.write_text(page.read_text() + "\nSee [the old page](../nowhere.md).\n")
    done = build(dead, tmp_path / "s1")
    assert done.returncode != 0 and "nowhere.md" in done.stderr, done.stderr

    anchor = copy("anchor")
    page = anchor / "docs" / "index.md"
    page.write_text(page.read_text() + "\nSee [a section](user-guide/review.md#no-such-section).\n")
    done = build(anchor, tmp_path / "s2")
    assert done.returncode != 0 and "no-such-section" in done.stderr, done.stderr

    missing = copy("missing")
    (missing / "docs" / "operations" / "schedules.md").unlink()
    done = build(missing, tmp_path / "s3")
    assert done.returncode != 0 and "schedules.md" in done.stderr, done.stderr
