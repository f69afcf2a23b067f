"""Prompt templates: versioned Jinja2 files in pipelines/prompts/, each with a `system` and a `user`
block. A template's hash (of its file's bytes) goes into every output's provenance and into the
completion cache key, so editing a prompt never reuses completions made with the old one.

Untrusted text (Reddit, the web, dataset fields) goes through the `data` filter: it is put inside a
block whose tag carries a hash of the text, and anything in the text that looks like such a tag is
defused, so an input cannot close its block early and speak as the prompt. The templates tell the
model that block contents are data to work on, never instructions.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import jinja2
import orjson

PROMPTS_DIR = Path(__file__).resolve().parent.parent / "prompts"
_TAG_LIKE = re.compile(r"<\s*/?\s*data[-_][^>]*>?", re.IGNORECASE)


def data_block(text, label: str = "input") -> str:
    text = "" if text is None else str(text)
    tag = "data-" + hashlib.blake2b(text.encode(), digest_size=4).hexdigest()
    safe = _TAG_LIKE.sub("[tag removed]", text)
    label = re.sub(r"[^A-Za-z0-9_ -]", "", str(label))
    return f'<{tag} label="{label}">\n{safe}\n</{tag}>'


def _json(value) -> str:
    return orjson.dumps(value, option=orjson.OPT_INDENT_2).decode()


@lru_cache(maxsize=1)
def _env() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(PROMPTS_DIR),
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

    def render(self, **variables) -> list[dict[str, str]]:
        template = _env().get_template(f"{self.name}.j2")
        context = template.new_context(variables)
        messages = []
        for role in ("system", "user"):
            if role in template.blocks:
                text = "".join(template.blocks[role](context)).strip()
                if text:
                    messages.append({"role": role, "content": text})
        return messages


def load_template(name: str) -> PromptTemplate:
    path = PROMPTS_DIR / f"{name}.j2"
    if not path.exists():
        known = ", ".join(sorted(p.stem for p in PROMPTS_DIR.glob("*.j2")))
        raise FileNotFoundError(f"no prompt template {name!r} in {PROMPTS_DIR} (known: {known})")
    digest = hashlib.blake2b(path.read_bytes(), digest_size=8).hexdigest()
    return PromptTemplate(name, f"{name}@{digest}")
