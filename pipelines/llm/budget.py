"""What an LLM step will cost before it sends anything, and the budget that decides whether it runs.

The estimate of a step: its requests (less those the completion cache answers), their prompt tokens
(the rendered prompts' characters at the tokens per character the probe measured) and at most their
completion tokens (each request's `max_tokens`: the schema-sized or word-sized ceiling, which a small
base model usually reaches), and the engine's speed measured by a probe: the first requests' prompts
with one token to generate (prompt tokens per second), then the same with 16 (tokens generated per
second, the prompts now in the server's prefix cache). Seconds = prompt tokens / prompt speed +
completion tokens / generation speed: an upper bound, said as "at most".

The budget (`llm.budget`, CURATE_LLM_BUDGET): a time ("5m", "90s", "2h") or a number of tokens
("200k tokens"), for the whole run's model work; "none" for none. The embedded engine gets
DEFAULT_EMBEDDED (its 270M base model at ~10 tokens a second would otherwise spend hours on 400
persona texts); a configured endpoint gets none unless one is set. A step over what is left raises
`OverBudget` before its first request: a step that enriches a dataset (persona texts, rules of thumb)
is skipped with a note that gives the estimate and the ways to get it; a recipe whose output is the
model's stops with one line, exit 2.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import asdict, dataclass

from schemas.errors import CurateError

DEFAULT_EMBEDDED = "5m"
PROBE_TOKENS = 16
_UNITS = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600}
_PATTERN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(k|m)?\s*(s|sec|m|min|h|tokens?)?\s*$", re.I)


@dataclass(frozen=True)
class Budget:
    seconds: float | None = None
    tokens: int | None = None

    def __str__(self) -> str:
        if self.seconds is not None:
            return duration(self.seconds)
        return f"{self.tokens:,} tokens" if self.tokens is not None else "none"


def parse_budget(text: str | None) -> Budget | None:
    """ "5m", "90s", "1.5h", "200k tokens", "none" -> a Budget (None: no budget); ValueError otherwise."""
    if text is None or str(text).strip().lower() in ("", "none", "off", "unlimited"):
        return None
    found = _PATTERN.match(str(text))
    if not found:
        raise ValueError(f"budget {text!r}: a time (90s, 5m, 2h), a token count (200k tokens), or none")
    number, scale, unit = float(found.group(1)), (found.group(2) or "").lower(), (found.group(3) or "").lower()
    if unit.startswith("token"):
        factor = {"k": 1_000, "m": 1_000_000}.get(scale, 1)
        return Budget(tokens=int(number * factor))
    if scale == "m" and not unit:  # "5m": minutes
        return Budget(seconds=number * 60)
    if scale or not unit:
        raise ValueError(f"budget {text!r}: say the unit (90s, 5m, 2h, 200k tokens)")
    return Budget(seconds=number * _UNITS[unit])


def duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 90:
        return f"{seconds}s"
    minutes = seconds // 60
    if minutes < 90:
        return f"{minutes}m"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours < 48 else f"{hours // 24} days"


@dataclass
class Speed:
    prompt_tps: float  # prompt tokens processed per second
    decode_tps: float  # tokens generated per second, over the requests in flight together
    chars_per_token: float  # of the probed prompts, to count the others' tokens


@dataclass
class Estimate:
    step: str
    requests: int
    cached: int
    prompt_tokens: int
    completion_tokens: int  # at most: each request's max_tokens
    seconds: float | None  # at most; None without a measured speed
    speed: Speed | None = None

    def line(self) -> str:
        cost = (
            f"{self.step}: {self.requests} requests ({self.cached} from the completion cache), "
            f"~{self.prompt_tokens:,} prompt + at most {self.completion_tokens:,} completion tokens"
        )
        if self.speed is None or self.seconds is None:
            return cost + "; speed not measured yet"
        return (
            cost + f"; measured {self.speed.prompt_tps:,.0f} prompt and {self.speed.decode_tps:,.1f} generated "
            f"tokens/s, so at most {duration(self.seconds)}"
        )

    def as_dict(self) -> dict:
        return asdict(self)


class OverBudget(CurateError):
    """A step whose estimate exceeds what is left of the run's LLM budget; nothing was sent."""

    log_level = logging.WARNING  # not a failure of the step: its recipe skips it or stops the run

    def __init__(self, estimate: Estimate, budget: Budget, left: float | int, model: str):
        self.estimate, self.budget, self.left, self.model = estimate, budget, left, model
        left_text = duration(left) if budget.seconds is not None else f"{int(left):,} tokens"
        super().__init__(
            f"{estimate.line()}: over the LLM budget ({budget}, {left_text} left, model {model}). " + HOW_TO
        )


HOW_TO = (
    "To run it: configure an endpoint (CURATE_LLM_BASE_URL), raise the budget (CURATE_LLM_BUDGET or "
    "`llm: {budget: 2h}`; none for no limit), or cap the rows (CURATE_LLM_MAX_ITEMS or `llm: {max_items: N}`)."
)


class Meter:
    """What a run has spent on the model (seconds in steps, tokens), against its budget."""

    def __init__(self, budget: Budget | None):
        self.budget, self.seconds, self.tokens = budget, 0.0, 0

    def left(self) -> float | int | None:
        if self.budget is None:
            return None
        if self.budget.seconds is not None:
            return self.budget.seconds - self.seconds
        return self.budget.tokens - self.tokens

    def check(self, estimate: Estimate, model: str) -> None:
        left = self.left()
        if left is None:
            return
        cost = (
            estimate.seconds if self.budget.seconds is not None else estimate.prompt_tokens + estimate.completion_tokens
        )
        if cost is None:  # a time budget and no measured speed (probe off): nothing to compare
            logging.getLogger("curate.llm").warning(
                "%s: the speed is not measured (CURATE_LLM_PROBE=0), so the time budget %s is not checked",
                estimate.step,
                self.budget,
            )
            return
        if cost > left:
            raise OverBudget(estimate, self.budget, max(left, 0), model)

    def spend(self, began: float, tokens: int) -> None:
        self.seconds += time.monotonic() - began
        self.tokens += tokens
