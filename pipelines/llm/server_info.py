"""What kind of server is behind an OpenAI-compatible URL, found by asking it (never guessed from the
URL): which engine, how many requests it runs at once, how it takes a JSON schema, and whether the
model has a chat template of its own (a base model has none: it gets plain-text prompts).

- llama.cpp: `GET /props` answers with `total_slots` and the chat template; JSON schemas go in the
  request's own `json_schema` field (converted to a grammar by the server).
- vLLM: `GET /v1/models` says `owned_by: vllm`; `GET /version` tells whether it takes
  `structured_outputs` (0.10.2 and later) or the older `guided_json`; its running-sequence limit is
  read from `/metrics` when the server exports it.
- anything else (hosted APIs, TGI): OpenAI `response_format`.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

import httpx

log = logging.getLogger("curate.llm")
_MARKER = re.compile(r"<[|]?[A-Za-z_][A-Za-z0-9_]*[|]?>")


@dataclass
class ServerInfo:
    engine: str = "openai-compatible"  # llama.cpp | vllm | openai-compatible
    capacity: int | None = None  # requests the server runs at once
    guided: str = "response_format"  # json_schema | structured_outputs | guided_json | response_format
    chat_template: bool = True  # False: a base model without a template of its own
    version: str = ""


def _root(base_url: str) -> str:
    return base_url.rstrip("/").removesuffix("/v1")


def _version_tuple(text: str) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", text)[:3])


def probe(base_url: str, headers: dict[str, str], models: dict, timeout: float = 10.0) -> ServerInfo:
    """`models` is the server's answer to GET /v1/models (already fetched to discover the model)."""
    root = _root(base_url)
    owner = str(((models.get("data") or [{}])[0]).get("owned_by", "")).lower()
    with httpx.Client(headers=headers, timeout=timeout) as http:
        if owner == "vllm":
            return _vllm(http, root)
        try:
            props = http.get(f"{root}/props")
            data = props.json() if props.status_code == 200 else {}
        except (httpx.HTTPError, ValueError):
            data = {}
        if isinstance(data, dict) and "total_slots" in data:
            return ServerInfo(
                "llama.cpp",
                int(data["total_slots"]),
                "json_schema",
                _has_own_template(http, root, data.get("chat_template") or ""),
                str(data.get("build_info", "")),
            )
    return ServerInfo()


def _has_own_template(http: httpx.Client, root: str, template: str) -> bool:
    """llama.cpp falls back to a ChatML template when the GGUF has none. A template is the model's
    own when its turn markers are single special tokens of the model's vocabulary."""
    markers = sorted(set(_MARKER.findall(template)))
    if not markers:
        return False
    try:
        resp = http.post(f"{root}/tokenize", json={"content": markers[0], "add_special": False, "parse_special": True})
        return len(resp.json().get("tokens", [])) == 1
    except (httpx.HTTPError, ValueError, AttributeError):
        return True  # cannot tell: trust the server's template


def _vllm(http: httpx.Client, root: str) -> ServerInfo:
    info = ServerInfo("vllm", guided="guided_json")
    try:
        info.version = str(http.get(f"{root}/version").json().get("version", ""))
    except (httpx.HTTPError, ValueError, AttributeError):
        pass
    if info.version and _version_tuple(info.version) >= (0, 10, 2):
        info.guided = "structured_outputs"
    try:
        metrics = http.get(f"{root}/metrics").text
        found = re.search(r'max_num_seqs="(\d+)"', metrics)
        info.capacity = int(found.group(1)) if found else None
    except httpx.HTTPError:
        pass
    return info
