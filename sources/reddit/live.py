"""Live Reddit through PRAW, written as dump files so the norms recipe reads them like the dumps.

Credentials come from the environment (REDDIT_CLIENT_ID, REDDIT_CLIENT_SECRET, REDDIT_USER_AGENT) and
are never printed. Fetching is incremental: a JSON state file keeps, per subreddit and listing, the
newest `created_utc` fetched and the ids seen at that second, so a scheduled run asks only for what
is new. The state is written after the output files, so a run killed in between fetches the same
items again next time (the recipe's dedupe step drops the repeats) instead of losing them.
PRAW waits on Reddit's rate-limit headers itself; a 429 that still gets through is retried after
the server's Retry-After.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from schemas.errors import CurateError
from sources.reddit.writer import write_dump

log = logging.getLogger(__name__)
ENV = ("REDDIT_CLIENT_ID", "REDDIT_CLIENT_SECRET", "REDDIT_USER_AGENT")
SUBMISSION_FIELDS = (
    "id",
    "title",
    "selftext",
    "score",
    "num_comments",
    "over_18",
    "created_utc",
    "is_self",
    "stickied",
    "edited",
    "distinguished",
    "link_flair_text",
    "removed_by_category",
)
COMMENT_FIELDS = ("id", "link_id", "parent_id", "body", "score", "created_utc", "edited", "stickied", "distinguished")


def reddit_from_env(**kwargs: Any):
    """A read-only praw.Reddit from the environment; names the missing variables, never values."""
    import praw

    missing = [name for name in ENV if not os.environ.get(name)]
    if missing:
        raise CurateError(f"Reddit API credentials missing: set {', '.join(missing)} in the environment")
    return praw.Reddit(
        client_id=os.environ["REDDIT_CLIENT_ID"],
        client_secret=os.environ["REDDIT_CLIENT_SECRET"],
        user_agent=os.environ["REDDIT_USER_AGENT"],
        check_for_updates=False,
        **kwargs,
    )


# -- PRAW objects -> dump rows --------------------------------------------------------------------


def _author(data: dict) -> str:
    author = data.get("author")
    if author is None:  # PRAW gives None for a deleted account
        return "[deleted]"
    return getattr(author, "name", None) or str(author)


def _subreddit(data: dict) -> str | None:
    sub = data.get("subreddit")
    return getattr(sub, "display_name", None) or (str(sub) if sub is not None else None)


def submission_row(submission) -> dict:
    """The dump's submission fields from a praw Submission, read from what PRAW already holds (an
    attribute PRAW lacks would make it fetch: no request is made here)."""
    data = vars(submission)
    row = {name: data.get(name) for name in SUBMISSION_FIELDS}
    row.update(author=_author(data), subreddit=_subreddit(data), retrieved_utc=int(time.time()))
    return row


def comment_row(comment) -> dict:
    data = vars(comment)
    row = {name: data.get(name) for name in COMMENT_FIELDS}
    row.update(author=_author(data), subreddit=_subreddit(data), retrieved_utc=int(time.time()))
    return row


# -- incremental state ----------------------------------------------------------------------------


@dataclass
class FetchState:
    """Newest item fetched per (subreddit, listing): {"askreddit": {"submissions": {"created_utc": .., "ids": [..]}}}."""

    path: Path
    data: dict[str, dict[str, dict]] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path) -> FetchState:
        if not path.exists():
            return cls(path)
        try:
            return cls(path, orjson.loads(path.read_bytes()))
        except orjson.JSONDecodeError:
            raise CurateError(f"{path}: not a fetch state file (invalid JSON); move it away to start afresh") from None

    def newest(self, subreddit: str, listing: str) -> tuple[float, set[str]]:
        entry = self.data.get(subreddit.lower(), {}).get(listing)
        return (entry["created_utc"], set(entry["ids"])) if entry else (float("-inf"), set())

    def is_new(self, subreddit: str, listing: str, created: float, id_: str) -> bool:
        newest, ids = self.newest(subreddit, listing)
        return created > newest or (created == newest and id_ not in ids)

    def update(self, subreddit: str, listing: str, rows: list[dict]) -> None:
        if not rows:
            return
        top = max(r["created_utc"] for r in rows)
        newest, ids = self.newest(subreddit, listing)
        at_top = {r["id"] for r in rows if r["created_utc"] == top}
        if top == newest:
            at_top |= ids
        if top >= newest:
            self.data.setdefault(subreddit.lower(), {})[listing] = {"created_utc": top, "ids": sorted(at_top)}

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.tmp")
        tmp.write_bytes(orjson.dumps(self.data, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS))
        tmp.replace(self.path)


# -- fetching -------------------------------------------------------------------------------------


def _listing(reddit, subreddit: str, listing: str, limit: int) -> Iterable:
    sub = reddit.subreddit(subreddit)
    return sub.new(limit=limit) if listing == "submissions" else sub.comments(limit=limit)


def fetch_listing(
    reddit, subreddit: str, listing: str, state: FetchState, limit: int = 1000, retries: int = 3, sleep=time.sleep
) -> list[dict]:
    """New items of one listing, newest first as Reddit lists them, until one already fetched."""
    from prawcore.exceptions import TooManyRequests

    to_row = submission_row if listing == "submissions" else comment_row
    for attempt in range(retries + 1):
        rows = []
        try:
            for item in _listing(reddit, subreddit, listing, limit):
                row = to_row(item)
                if not state.is_new(subreddit, listing, row["created_utc"], row["id"]):
                    break
                rows.append(row)
            return rows
        except TooManyRequests as e:
            if attempt == retries:
                raise CurateError(f"r/{subreddit}: Reddit kept answering 429 Too Many Requests") from None
            wait = float(getattr(e.response, "headers", {}).get("retry-after", 60))
            log.warning("r/%s: rate limited, waiting %.0fs", subreddit, wait)
            sleep(wait)
    return []


def fetch_to_dumps(
    reddit, subreddits: list[str], state_path: Path, out_dir: Path, limit: int = 1000, now: datetime | None = None
) -> list[Path]:
    """Fetch what is new since the state file, write RS_live_*/RC_live_* dumps, then the state."""
    state = FetchState.load(state_path)
    found: dict[str, list[dict]] = {"submissions": [], "comments": []}
    for subreddit in subreddits:
        for listing in found:
            rows = fetch_listing(reddit, subreddit, listing, state, limit)
            log.info("r/%s %s: %d new", subreddit, listing, len(rows))
            found[listing].extend(rows)
            state.update(subreddit, listing, rows)
    stamp = (now or datetime.now(UTC)).strftime("%Y-%m-%dT%H%M%S")
    written = []
    for listing, prefix in (("submissions", "RS"), ("comments", "RC")):
        if found[listing]:
            rows = sorted(found[listing], key=lambda r: (r["created_utc"], r["id"]))
            written.append(write_dump(out_dir / f"{prefix}_live_{stamp}.zst", rows))
    state.save()
    return written
