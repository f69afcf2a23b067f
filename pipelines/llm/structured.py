"""Structured output: the expected JSON schema comes from a pydantic record type; the server's guided
decoding is asked for it when it has it; every output is validated whatever the server promised;
an invalid one gets one repair request (the error and the schema, in the same conversation); what
is still invalid is returned as a failure with its raw text, for the quarantine."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import orjson
from pydantic import BaseModel, ValidationError

from pipelines.llm.client import LLMClient
from pipelines.llm.prompts import PromptTemplate, load_template
from pipelines.llm.types import ChatRequest, Completion, Usage

_FENCE = re.compile(r"^\s*```(?:json)?\s*(.*?)\s*```\s*$", re.DOTALL)


@dataclass
class Outcome:
    value: Any  # the validated record (a pydantic model) or text; None when it failed
    raw: str | None
    error: str | None = None
    field: str | None = None
    repaired: bool = False


def structured_request(template: PromptTemplate, variables: dict, output: type[BaseModel], params: dict) -> ChatRequest:
    """The request for one record; `max_tokens` is lowered to what the largest valid record can take
    (a base model never stops by itself: the budget is what a complete answer needs, no more)."""
    schema = output.model_json_schema()
    if "max_tokens" in params:
        params = {**params, "max_tokens": min(int(params["max_tokens"]), schema_token_budget(schema))}
    return ChatRequest.make(template.render(**variables), params, schema, output.__name__, template.hash)


CHARS_PER_TOKEN = 3  # conservative for English and French with a large vocabulary
UNBOUNDED_STRING_TOKENS = 256
UNBOUNDED_ARRAY_ITEMS = 8


def schema_token_budget(schema: dict) -> int:
    """Tokens the longest JSON document valid under `schema` can take (bounded by maxLength and
    maxItems; unbounded strings and arrays count as 256 tokens and 8 items), plus room for spacing."""
    defs = schema.get("$defs", {})

    def size(node: dict, depth: int = 0) -> int:
        if depth > 20:
            return UNBOUNDED_STRING_TOKENS
        if "$ref" in node:
            return size(defs.get(node["$ref"].rsplit("/", 1)[-1], {}), depth + 1)
        for key in ("anyOf", "oneOf"):
            if key in node:
                return max(size(n, depth + 1) for n in node[key])
        if "enum" in node or "const" in node:
            values = node.get("enum") or [node.get("const")]
            return max(len(str(v)) for v in values) // CHARS_PER_TOKEN + 3
        kind = node.get("type", "object" if "properties" in node else "string")
        if kind == "string":
            limit = node.get("maxLength")
            return limit // CHARS_PER_TOKEN + 3 if limit else UNBOUNDED_STRING_TOKENS
        if kind in ("integer", "number"):
            return 8
        if kind in ("boolean", "null"):
            return 2
        if kind == "array":
            return 2 + node.get("maxItems", UNBOUNDED_ARRAY_ITEMS) * (size(node.get("items", {}), depth + 1) + 2)
        props = node.get("properties", {})
        return 2 + sum(len(name) // CHARS_PER_TOKEN + 4 + size(sub, depth + 1) for name, sub in props.items())

    tokens = size(schema)
    return int(tokens * 1.25) + 16


def words_token_budget(max_words: int) -> int:
    """Tokens a free-text reply of `max_words` words can take: two a word (a word and its space are
    about six characters, CHARS_PER_TOKEN three), plus room for punctuation. A base model does not
    stop where the prompt says: the budget stops it."""
    return 2 * max_words + 16


def _json_text(text: str) -> str:
    """The JSON object in a reply: without code fences or chatter around the outermost braces."""
    fenced = _FENCE.match(text)
    if fenced:
        text = fenced.group(1)
    start, end = text.find("{"), text.rfind("}")
    return text[start : end + 1] if 0 <= start < end else text


def parse_output(completion: Completion, output: type[BaseModel]) -> Outcome:
    if completion.text is None:
        return Outcome(None, None, completion.error or "no completion", "request")
    if completion.finish_reason == "length":
        hint = " (the reply was cut at max_tokens)"
    else:
        hint = ""
    try:
        data = orjson.loads(_json_text(completion.text))
    except orjson.JSONDecodeError as e:
        return Outcome(None, completion.text, f"not valid JSON: {e}{hint}", "output")
    try:
        return Outcome(output.model_validate(data), completion.text)
    except ValidationError as e:
        errors = e.errors()
        first = ".".join(str(p) for p in errors[0]["loc"]) or "output"
        summary = "; ".join(f"{'.'.join(str(p) for p in err['loc']) or 'output'}: {err['msg']}" for err in errors[:3])
        more = f" (+{len(errors) - 3} more)" if len(errors) > 3 else ""
        return Outcome(None, completion.text, f"does not match {output.__name__}: {summary}{more}{hint}", first)


def repair_request(request: ChatRequest, raw: str, error: str) -> ChatRequest:
    repair = load_template("repair")
    follow_up = repair.render(error=error, schema=request.schema)
    messages = request.message_dicts() + [{"role": "assistant", "content": raw}] + follow_up
    return ChatRequest.make(
        messages, request.param_dict(), request.schema, request.schema_name, f"{request.template_hash}+{repair.hash}"
    )


def complete_structured(
    client: LLMClient, requests: list[ChatRequest], output: type[BaseModel], desc: str = "llm"
) -> tuple[list[Outcome], Usage]:
    completions, usage = client.complete(requests, desc)
    outcomes = [parse_output(c, output) for c in completions]
    # A reply cut at max_tokens would be cut again with the same budget: no repair for it (and a
    # rerun, served from the completion cache, takes the same decision).
    broken = [
        i
        for i, o in enumerate(outcomes)
        if o.value is None and o.raw is not None and completions[i].finish_reason != "length"
    ]
    if broken:
        repairs = [repair_request(requests[i], outcomes[i].raw, outcomes[i].error) for i in broken]
        fixed, repair_usage = client.complete(repairs, f"{desc} (repair)", budgeted=False)
        usage.add(repair_usage)
        usage.repairs += len(broken)
        for i, completion in zip(broken, fixed):
            second = parse_output(completion, output)
            if second.value is not None:
                second.repaired = True
                usage.repaired += 1
                outcomes[i] = second
            else:
                first = outcomes[i]
                outcomes[i] = Outcome(
                    None,
                    f"{first.raw}\n--- repair reply ---\n{second.raw}",
                    f"{second.error} (after one repair)",
                    second.field,
                )
    return outcomes, usage


def complete_text(
    client: LLMClient, requests: list[ChatRequest], desc: str = "llm", min_chars: int = 1
) -> tuple[list[Outcome], Usage]:
    """Free-text replies: kept when they have at least `min_chars` non-blank characters."""
    completions, usage = client.complete(requests, desc)
    outcomes = []
    for c in completions:
        if c.text is None:
            outcomes.append(Outcome(None, None, c.error or "no completion", "request"))
        elif len(c.text.strip()) < min_chars:
            outcomes.append(Outcome(None, c.text, f"reply shorter than {min_chars} characters", "output"))
        else:
            outcomes.append(Outcome(c.text.strip(), c.text))
    return outcomes, usage
