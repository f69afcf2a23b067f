"""The norms recipe's steps: read_reddit (files in parallel on Dask, subreddit and time filters while
streaming) -> privacy (keyed pseudonyms, masks; pipelines.methods.privacy) -> dedupe_items -> select_situations
(Scruples' filters) -> detect_language -> select_comments (top-level, no bots) -> parse_verdicts
(YTA/NTA/ESH/NAH/INFO, one vote a comment)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import polars as pl
from pydantic import Field

from pipelines.engine.steps import Account, Step, StepConfig, StepResult, split_by_reason
from pipelines.methods.privacy import CODE_MODULES as PRIVACY_MODULES
from pipelines.methods.privacy import redact_raw
from schemas.quarantine import empty_quarantine, quarantine_frame
from sources.reddit.dumps import ROW_SCHEMA, DumpFilter
from sources.reddit.parallel import DumpReader

VERDICTS = ("YTA", "NTA", "ESH", "NAH", "INFO")
# the first verdict in a comment is its vote; INFO only in capitals (it is also an English word)
VERDICT_PATTERN = r"\b((?i:ywnbta|ywbta|yta|nta|esh|nah)|INFO)\b"
VERDICT_ALIASES = {"YWBTA": "YTA", "YWNBTA": "NTA"}
META_TITLE = r"(?i)^\s*[\[(]?\s*(meta|mod post|announcement)\b"


def epoch(value: date | datetime | None) -> int | None:
    if value is None:
        return None
    if not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return int(value.timestamp())


class ReadConfig(StepConfig):
    subreddits: tuple[str, ...] = ()
    start_utc: int | None = None
    end_utc: int | None = None


class ReadDumps(Step):
    """Stream every dump file (one Dask partition a file), keeping the configured subreddits and
    time range; malformed lines go to the quarantine with their raw text redacted."""

    name = "read_reddit"
    needs = ("dask",)
    depends_on = (*DumpReader.modules, *PRIVACY_MODULES)  # redact_raw

    def run(self, data: pl.DataFrame) -> StepResult:
        keep = DumpFilter(self.config.subreddits, self.config.start_utc, self.config.end_utc)
        reads = DumpReader(keep, redact_raw).read_all(data["path"], self.dask)
        rows = pl.concat([r.rows for r in reads]) if reads else pl.DataFrame(schema=ROW_SCHEMA)
        dropped: dict[str, int] = {}
        for r in reads:
            for reason, n in r.dropped.items():
                dropped[reason] = dropped.get(reason, 0) + n
        quarantine = pl.concat([r.quarantine for r in reads]) if reads else empty_quarantine()
        files = {r.path: r.facts for r in reads}  # kind, lines, compressed and decompressed bytes
        account = Account(
            self.name,
            sum(r.facts["lines"] for r in reads),
            rows.height,
            dropped,
            quarantine.height,
            extra={"files": files},
        )
        return StepResult(rows, account, quarantine_frame(quarantine, step=self.name))


class DedupeItems(Step):
    """One row per Reddit id: a post or comment in two dumps (overlapping months, Pushshift and
    Arctic Shift) keeps the copy with its text, then the latest retrieved."""

    name = "dedupe_items"

    def run(self, data: pl.DataFrame) -> StepResult:
        ranked = data.with_row_index("_order").sort(
            [pl.col("content_state").is_not_null(), pl.col("retrieved_utc").fill_null(0), "_order"],
            descending=[False, True, False],
        )
        first = ranked.select(pl.struct("kind", "id").is_first_distinct()).to_series()
        reason = pl.when(~pl.Series(first)).then(pl.lit("duplicate_id"))
        result = split_by_reason(self.name, ranked, reason)
        result.data = result.data.sort("_order").drop("_order")
        return result


class SituationConfig(StepConfig):
    min_words: int = Field(16, ge=0)  # Scruples: situations of fewer words are dropped


class SelectSituations(Step):
    """Scruples' filters on posts, then titles and texts normalized."""

    name = "select_situations"

    def run(self, data: pl.DataFrame) -> StepResult:
        posts = data.with_columns(normalize("title"), normalize("selftext"))
        words = pl.col("selftext").fill_null("").str.count_matches(r"\S+")
        is_self = pl.col("is_self").fill_null(pl.col("selftext").fill_null("") != "")
        reason = (
            pl.when(pl.col("content_state").is_not_null() | pl.col("title").is_null())
            .then(pl.lit("deleted_or_removed"))
            .when(pl.col("author_state").is_not_null())
            .then(pl.lit("author_deleted"))
            .when(~is_self)
            .then(pl.lit("not_self_post"))
            .when(pl.col("stickied").fill_null(False))
            .then(pl.lit("stickied"))
            .when(
                pl.col("title").str.contains(META_TITLE)
                | (pl.col("distinguished") == "moderator")
                | pl.col("link_flair_text").fill_null("").str.to_lowercase().str.contains("meta")
            )
            .then(pl.lit("meta_post"))
            .when(words < self.config.min_words)
            .then(pl.lit("too_short"))
        )
        return split_by_reason(self.name, posts.with_columns(words.alias("word_count")), reason)


class LanguageConfig(StepConfig):
    languages: tuple[str, ...] = ("en",)
    seed: int = 0


class DetectLanguage(Step):
    """langdetect on title + text of every situation, seeded so a rerun gives the same answer;
    situations in other languages are dropped as non_target_language."""

    name = "detect_language"
    needs = ("dask",)
    chunk = 2000  # situations per Dask task

    def run(self, data: pl.DataFrame) -> StepResult:
        texts = pl.col("title").fill_null("") + "\n" + pl.col("selftext").fill_null("")
        values = data.select(texts).to_series().to_list()
        chunks = [values[i : i + self.chunk] for i in range(0, len(values), self.chunk)]
        if self.dask is not None and len(chunks) > 1:
            detected = self.dask.map(detect_languages, chunks, seed=self.config.seed)
        else:
            detected = [detect_languages(c, seed=self.config.seed) for c in chunks]
        langs = [lang for part in detected for lang, _ in part]
        probs = [p for part in detected for _, p in part]
        tagged = data.with_columns(
            pl.Series("lang", langs, pl.String), pl.Series("lang_probability", probs, pl.Float64)
        )
        seen = tagged["lang"].fill_null("unknown").value_counts(sort=True)
        reason = (
            pl.when(pl.col("lang").is_null())
            .then(pl.lit("language_undetected"))
            .when(~pl.col("lang").is_in(list(self.config.languages)))
            .then(pl.lit("non_target_language"))
        )
        result = split_by_reason(self.name, tagged, reason)
        result.account.extra["languages_detected"] = {k: int(n) for k, n in seen.iter_rows()}
        return result


def detect_languages(texts: list[str], seed: int = 0) -> list[tuple[str | None, float | None]]:
    from langdetect import DetectorFactory, detect_langs
    from langdetect.lang_detect_exception import LangDetectException

    DetectorFactory.seed = seed
    out = []
    for text in texts:
        try:
            best = detect_langs(text)[0]
            out.append((best.lang, round(best.prob, 4)))
        except LangDetectException:
            out.append((None, None))
    return out


class SelectComments(Step):
    """Top-level comments (`parent_id == link_id`) of selected posts, without bots or deleted text.
    Expects `_post_selected` (the recipe joins it from the situations)."""

    name = "select_comments"

    def run(self, data: pl.DataFrame) -> StepResult:
        comments = data.with_columns(normalize("body"))
        reason = (
            pl.when(~pl.col("_post_selected"))
            .then(pl.lit("post_not_selected"))
            .when(pl.col("parent_id") != pl.col("link_id"))
            .then(pl.lit("not_top_level"))
            .when(pl.col("author_is_bot"))
            .then(pl.lit("bot_author"))
            .when(pl.col("content_state").is_not_null() | (pl.col("body").fill_null("") == ""))
            .then(pl.lit("deleted_or_removed"))
        )
        result = split_by_reason(self.name, comments, reason)
        result.data = result.data.drop("_post_selected")
        return result


class VerdictConfig(StepConfig):
    verdict_subreddits: tuple[str, ...] = ("AmItheAsshole",)  # where comments carry YTA/NTA/... votes


class ParseVerdicts(Step):
    """The first verdict code in a comment is its one vote (as Scruples counted); no vote when a
    comment has none or its subreddit does not vote."""

    name = "parse_verdicts"

    def run(self, data: pl.DataFrame) -> StepResult:
        voting = pl.col("subreddit").str.to_lowercase().is_in([s.lower() for s in self.config.verdict_subreddits])
        code = pl.col("body").str.extract(VERDICT_PATTERN, 1).str.to_uppercase()
        code = code.replace(VERDICT_ALIASES)
        out = data.with_columns(pl.when(voting).then(code).alias("verdict"))
        votes = out["verdict"].drop_nulls().value_counts(sort=True)
        extra = {
            "votes": {k: int(n) for k, n in votes.iter_rows()},
            "comments_without_vote": int(out["verdict"].null_count()),
        }
        return StepResult(out, Account(self.name, data.height, out.height, extra=extra))


def normalize(column: str) -> pl.Expr:
    """Unicode NFKC, the HTML entities Reddit stores (&amp; &lt; &gt;), no zero-width characters,
    runs of spaces as one, at most one blank line, no outer white space."""
    text = (
        pl.col(column)
        .str.normalize("NFKC")
        .str.replace_many(["&amp;", "&lt;", "&gt;", "&quot;", "&#39;", "&nbsp;"], ["&", "<", ">", '"', "'", " "])
        .str.replace_all("[\u200b\u200c\u200d\ufeff]", "")
        .str.replace_all(r"\r\n?", "\n")
        .str.replace_all(r"[ \t]+", " ")
        .str.replace_all(r" ?\n ?", "\n")
        .str.replace_all(r"\n{3,}", "\n\n")
        .str.strip_chars()
    )
    return text.alias(column)
