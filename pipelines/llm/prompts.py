"""Prompt templates: versioned Jinja2 files, each with a `system` and a `user` block. A recipe's
templates live in its folder (`pipelines/recipes/<name>/prompts/*.j2`, or `<folder>/prompts/` of a
recipe on $CURATE_RECIPE_PATH); the generic ones (the structured-output repair) in
`pipelines/llm/templates/`. A template is named by its file's stem, and a name belongs to one file:
the same name in two folders is an error naming both.

A template's hash (`name@` + a hash of its file's bytes, not of its path) goes into every output's
provenance and into the completion cache key, so editing a prompt never reuses completions made with
the old one, while moving the file changes nothing.

Untrusted text (Reddit, the web, dataset fields) goes through the `data` filter: it is put inside a
block whose tag carries a hash of the text, and anything in the text that looks like such a tag is
defused, so an input cannot close its block early and speak as the prompt. The templates tell the
model that block contents are data to work on, never instructions.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import jinja2
import orjson

GENERIC_DIR = Path(__file__).resolve().parent / "templates"
_TAG_LIKE = re.compile(r"<\s*/?\s*data[-_][^>]*>?", re.IGNORECASE)


def data_block(text, label: str = "input") -> str:
    text = "" if text is None else str(text)
    tag = "data-" + hashlib.blake2b(text.encode(), digest_size=4).hexdigest()
    safe = _TAG_LIKE.sub("[tag removed]", text)
    label = re.sub(r"[^A-Za-z0-9_ -]", "", str(label))
    return f'<{tag} label="{label}">\n{safe}\n</{tag}>'


def _json(value) -> str:
    return orjson.dumps(value, option=orjson.OPT_INDENT_2).decode()


@cache
def _env(folder: Path) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(folder),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )
    env.filters["data"] = data_block
    env.filters["json"] = _json
    return env


@dataclass(frozen=True)
class PromptTemplate:
    name: str
    hash: str
    path: Path | None = field(default=None, compare=False)  # where it was found

    def render(self, **variables) -> list[dict[str, str]]:
        path = self.path or template_path(self.name)
        template = _env(path.parent).get_template(path.name)
        context = template.new_context(variables)
        messages = []
        for role in ("system", "user"):
            if role in template.blocks:
                text = "".join(template.blocks[role](context)).strip()
                if text:
                    messages.append({"role": role, "content": text})
        return messages


def prompt_dirs() -> list[Path]:
    """The folders templates are found in: the generic one, then each recipe's `prompts/` (the
    recipes `pipelines.recipes.available` finds, $CURATE_RECIPE_PATH included)."""
    from pipelines.engine.recipe_folders import available

    return [GENERIC_DIR, *(folder / "prompts" for folder in available().values())]


def templates() -> dict[str, Path]:
    """Template name -> its file, for every template found; a name in two folders is an error."""
    from schemas.errors import CurateError

    found: dict[str, Path] = {}
    for folder in prompt_dirs():
        for path in sorted(folder.glob("*.j2")) if folder.is_dir() else ():
            if path.stem in found:
                raise CurateError(
                    f"prompt template {path.stem!r} is defined twice: {found[path.stem]} and {path}; "
                    "template names go into provenance and cache keys, so rename one"
                )
            found[path.stem] = path
    return found


def template_path(name: str) -> Path:
    found = templates()
    if name not in found:
        where = ", ".join(str(d) for d in prompt_dirs())
        raise FileNotFoundError(f"no prompt template {name!r} in {where} (known: {', '.join(sorted(found))})")
    return found[name]


def load_template(name: str) -> PromptTemplate:
    path = template_path(name)
    digest = hashlib.blake2b(path.read_bytes(), digest_size=8).hexdigest()
    return PromptTemplate(name, f"{name}@{digest}", path)
