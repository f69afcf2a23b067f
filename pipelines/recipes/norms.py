"""Recipe `norms`: Reddit dumps -> situations with community verdicts, and their threads
(after Social Chemistry 101 and Scruples).

Steps: read_reddit (files in parallel on Dask, subreddit and time filters while streaming) -> privacy
(keyed pseudonyms, masks) -> dedupe_items -> select_situations (Scruples' filters) -> detect_language
-> select_comments (top-level, no bots) -> parse_verdicts (YTA/NTA/ESH/NAH/INFO, one vote a comment).
The raw author name does not survive the privacy step, so nothing after it can leak it.
"""

from __future__ import annotations

from datetime import date, datetime, timezone
from pathlib import Path

import polars as pl
from pydantic import field_validator

from pipelines.privacy import PrivacyConfig, Pseudonymize, PseudonymKey, redact_raw
from pipelines.recipes import CardMeta, CardSection, RecipeConfig, RecipeOutput
from pipelines.runtime import RunContext, file_fingerprint
from pipelines.steps import Account, Step, StepConfig, StepResult, split_by_reason
from schemas.envelope import envelope_columns, provenance_entry, stable_id
from schemas.quarantine import empty_quarantine, quarantine_frame
from sources.reddit.dumps import ROW_SCHEMA, DumpFilter, check_dump
from sources.reddit.parallel import read_dumps

NAME = "norms"
DESCRIPTION = "Reddit dumps (RS_/RC_ .zst) -> AITA/confessions situations with verdict distributions, and threads"
VERDICTS = ("YTA", "NTA", "ESH", "NAH", "INFO")
# the first verdict in a comment is its vote; INFO only in capitals (it is also an English word)
VERDICT_PATTERN = r"\b((?i:ywnbta|ywbta|yta|nta|esh|nah)|INFO)\b"
VERDICT_ALIASES = {"YWBTA": "YTA", "YWNBTA": "NTA"}
META_TITLE = r"(?i)^\s*[\[(]?\s*(meta|mod post|announcement)\b"


class Config(RecipeConfig):
    subreddits: list[str] = ["AmItheAsshole", "confessions"]
    verdict_subreddits: list[str] = ["AmItheAsshole"]  # where comments carry YTA/NTA/... votes
    start: date | datetime | None = None  # created on or after (UTC)
    end: date | datetime | None = None  # created before (UTC)
    languages: list[str] = ["en"]  # langdetect codes kept; others dropped as non_target_language
    min_words: int = 16  # Scruples: situations of fewer words are dropped
    bots: list[str] = ["AutoModerator", "Judgement_Bot_AITA"]
    bot_pattern: str = r"(?i)(?:bot$|[_-]bot[_-])"
    keep_reddit_ids: bool = False  # publish Reddit's own ids (they lead back to a post and author)
    mask_author_names: bool = True  # handle-like author names in text become [user]

    @field_validator("subreddits", "languages")
    @classmethod
    def _not_empty(cls, v: list[str]) -> list[str]:
        if not v:
            raise ValueError("must name at least one")
        return v


def epoch(value: date | datetime | None) -> int | None:
    if value is None:
        return None
    if not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day)
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return int(value.timestamp())


# -- steps ---------------------------------------------------------------------------------------


class ReadConfig(StepConfig):
    subreddits: tuple[str, ...] = ()
    start_utc: int | None = None
    end_utc: int | None = None


class ReadDumps(Step):
    """Stream every dump file (one Dask partition a file), keeping the configured subreddits and
    time range; malformed lines go to the quarantine with their raw text redacted."""

    name = "read_reddit"
    dask = None  # the run's DaskRuntime, set by the recipe

    def run(self, data: pl.DataFrame) -> StepResult:
        keep = DumpFilter(self.config.subreddits, self.config.start_utc, self.config.end_utc)
        reads = read_dumps([Path(p) for p in data["path"]], keep, self.dask, redact=redact_raw)
        rows = pl.concat([r.rows for r in reads]) if reads else pl.DataFrame(schema=ROW_SCHEMA)
        dropped: dict[str, int] = {}
        for r in reads:
            for reason, n in r.dropped.items():
                dropped[reason] = dropped.get(reason, 0) + n
        quarantine = pl.concat([r.quarantine for r in reads]) if reads else empty_quarantine()
        files = {r.path: {"kind": r.kind, "lines": r.lines, "compressed_bytes": r.compressed_bytes,
                          "decompressed_bytes": r.decompressed_bytes} for r in reads}
        account = Account(self.name, sum(r.lines for r in reads), rows.height, dropped, quarantine.height,
                          extra={"files": files})
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
    min_words: int = 16


class SelectSituations(Step):
    """Scruples' filters on posts, then titles and texts normalized."""

    name = "select_situations"

    def run(self, data: pl.DataFrame) -> StepResult:
        posts = data.with_columns(normalize("title"), normalize("selftext"))
        words = pl.col("selftext").fill_null("").str.count_matches(r"\S+")
        is_self = pl.col("is_self").fill_null(pl.col("selftext").fill_null("") != "")
        reason = (
            pl.when(pl.col("content_state").is_not_null() | pl.col("title").is_null()).then(pl.lit("deleted_or_removed"))
            .when(pl.col("author_state").is_not_null()).then(pl.lit("author_deleted"))
            .when(~is_self).then(pl.lit("not_self_post"))
            .when(pl.col("stickied").fill_null(False)).then(pl.lit("stickied"))
            .when(pl.col("title").str.contains(META_TITLE) | (pl.col("distinguished") == "moderator")
                  | pl.col("link_flair_text").fill_null("").str.to_lowercase().str.contains("meta"))
            .then(pl.lit("meta_post"))
            .when(words < self.config.min_words).then(pl.lit("too_short"))
        )
        return split_by_reason(self.name, posts.with_columns(words.alias("word_count")), reason)


class LanguageConfig(StepConfig):
    languages: tuple[str, ...] = ("en",)
    seed: int = 0


class DetectLanguage(Step):
    """langdetect on title + text of every situation, seeded so a rerun gives the same answer;
    situations in other languages are dropped as non_target_language."""

    name = "detect_language"
    dask = None
    chunk = 2000  # situations per Dask task

    def run(self, data: pl.DataFrame) -> StepResult:
        texts = (pl.col("title").fill_null("") + "\n" + pl.col("selftext").fill_null(""))
        values = data.select(texts).to_series().to_list()
        chunks = [values[i:i + self.chunk] for i in range(0, len(values), self.chunk)]
        if self.dask is not None and len(chunks) > 1:
            detected = self.dask.map(detect_languages, chunks, seed=self.config.seed)
        else:
            detected = [detect_languages(c, seed=self.config.seed) for c in chunks]
        langs = [lang for part in detected for lang, _ in part]
        probs = [p for part in detected for _, p in part]
        tagged = data.with_columns(pl.Series("lang", langs, pl.String), pl.Series("lang_probability", probs, pl.Float64))
        seen = tagged["lang"].fill_null("unknown").value_counts(sort=True)
        reason = (pl.when(pl.col("lang").is_null()).then(pl.lit("language_undetected"))
                  .when(~pl.col("lang").is_in(list(self.config.languages))).then(pl.lit("non_target_language")))
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


class CommentConfig(StepConfig):
    pass


class SelectComments(Step):
    """Top-level comments (`parent_id == link_id`) of selected posts, without bots or deleted text.
    Expects `_post_selected` (the recipe joins it from the situations)."""

    name = "select_comments"

    def run(self, data: pl.DataFrame) -> StepResult:
        comments = data.with_columns(normalize("body"))
        reason = (
            pl.when(~pl.col("_post_selected")).then(pl.lit("post_not_selected"))
            .when(pl.col("parent_id") != pl.col("link_id")).then(pl.lit("not_top_level"))
            .when(pl.col("author_is_bot")).then(pl.lit("bot_author"))
            .when(pl.col("content_state").is_not_null() | (pl.col("body").fill_null("") == "")).then(pl.lit("deleted_or_removed"))
        )
        result = split_by_reason(self.name, comments, reason)
        result.data = result.data.drop("_post_selected")
        return result


class VerdictConfig(StepConfig):
    verdict_subreddits: tuple[str, ...] = ("AmItheAsshole",)


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
        extra = {"votes": {k: int(n) for k, n in votes.iter_rows()}, "comments_without_vote": int(out["verdict"].null_count())}
        return StepResult(out, Account(self.name, data.height, out.height, extra=extra))


def normalize(column: str) -> pl.Expr:
    """Unicode NFKC, the HTML entities Reddit stores (&amp; &lt; &gt;), no zero-width characters,
    runs of spaces as one, at most one blank line, no outer white space."""
    text = (
        pl.col(column).str.normalize("NFKC")
        .str.replace_many(["&amp;", "&lt;", "&gt;", "&quot;", "&#39;", "&nbsp;"], ["&", "<", ">", '"', "'", " "])
        .str.replace_all("[\u200b\u200c\u200d\ufeff]", "")
        .str.replace_all(r"\r\n?", "\n")
        .str.replace_all(r"[ \t]+", " ")
        .str.replace_all(r" ?\n ?", "\n")
        .str.replace_all(r"\n{3,}", "\n\n")
        .str.strip_chars()
    )
    return text.alias(column)


# -- recipe --------------------------------------------------------------------------------------


def build(ctx: RunContext, inputs: list[Path], config: Config) -> RecipeOutput:
    key = PseudonymKey.from_env()
    reader = ReadDumps(ReadConfig(subreddits=tuple(config.subreddits), start_utc=epoch(config.start),
                                  end_utc=epoch(config.end)))
    reader.dask = ctx.dask
    paths = pl.DataFrame({"path": [str(p) for p in inputs]})
    rows = ctx.apply(reader, paths, inputs_hash="|".join(file_fingerprint(p) for p in inputs))
    privacy = Pseudonymize(PrivacyConfig(key_id=key.key_id, bots=tuple(config.bots), bot_pattern=config.bot_pattern,
                                         mask_author_names=config.mask_author_names), key)
    rows = ctx.apply(privacy, rows)
    rows = ctx.apply(DedupeItems(), rows)

    situations = SelectSituations(SituationConfig(min_words=config.min_words))
    language = DetectLanguage(LanguageConfig(languages=tuple(config.languages)))
    language.dask = ctx.dask
    posts = ctx.apply(situations, rows.filter(pl.col("kind") == "submission"))
    posts = ctx.apply(language, posts)

    selected = ("t3_" + posts["id"]).to_list()
    comments = rows.filter(pl.col("kind") == "comment").with_columns(
        pl.col("link_id").is_in(selected).alias("_post_selected"))
    comments = ctx.apply(SelectComments(), comments)
    verdicts = ParseVerdicts(VerdictConfig(verdict_subreddits=tuple(config.verdict_subreddits)))
    comments = ctx.apply(verdicts, comments)

    steps = [reader, privacy, DedupeItems(), situations, language, SelectComments(), verdicts]
    provenance = [provenance_entry(s.name, s.code_version(), s.params()) for s in steps]
    ids = _id_mapper(key, config.keep_reddit_ids)
    records = situation_records(ctx, posts, comments, config, provenance, ids)
    threads = thread_records(ctx, posts, comments, config, provenance, ids)
    sections = measure(ctx, records, threads, comments, key, config)
    tables = {"situations": records, "threads": threads}
    from pipelines.llm.rules_of_thumb import rules_of_thumb  # Social Chemistry's LLM step (issue 17)

    if (rules := rules_of_thumb(ctx, records, config.license)) is not None:
        tables["rules_of_thumb"] = rules
    return RecipeOutput(tables, _card(config, key), sections)


def _id_mapper(key: PseudonymKey, keep: bool):
    if keep:
        return lambda fullname: fullname
    return key.keyed_id


def _published(column: pl.Expr, ids) -> pl.Expr:
    return column.map_elements(ids, return_dtype=pl.String)


def vote_table(comments: pl.DataFrame) -> pl.DataFrame:
    """Per post (link_id): votes per verdict, their shares, the majority (null on a tie)."""
    votes = comments.filter(pl.col("verdict").is_not_null())
    counts = votes.group_by("link_id", "verdict").len()
    wide = pl.DataFrame({"link_id": counts["link_id"].unique()}) if counts.height else pl.DataFrame(schema={"link_id": pl.String})
    for v in VERDICTS:
        wide = wide.join(counts.filter(pl.col("verdict") == v).select("link_id", pl.col("len").alias(v)),
                         on="link_id", how="left")
    wide = wide.with_columns([pl.col(v).fill_null(0).cast(pl.Int64) for v in VERDICTS])
    total = pl.sum_horizontal(VERDICTS)
    top = pl.max_horizontal(VERDICTS)
    winners = pl.concat_list([pl.when(pl.col(v) == top).then(pl.lit(v)) for v in VERDICTS]).list.drop_nulls()
    distribution = pl.concat_list([
        pl.struct(pl.lit(v).alias("label"), pl.col(v).alias("count"), (pl.col(v) / total).alias("share"))
        for v in VERDICTS
    ])
    return wide.select(
        "link_id", total.alias("n_votes"), distribution.alias("label_distribution"),
        pl.when(winners.list.len() == 1).then(winners.list.first()).alias("judgment"),
    )


def situation_records(ctx, posts, comments, config, provenance, ids) -> pl.DataFrame:
    votes = vote_table(comments)
    empty_dist = pl.lit([], dtype=pl.List(pl.Struct({"label": pl.String, "count": pl.Int64, "share": pl.Float64})))
    joined = posts.with_columns(("t3_" + pl.col("id")).alias("link_id")).join(votes, on="link_id", how="left")
    action = pl.Struct({"text": pl.String, "polarity": pl.String, "consequence": pl.String})
    records = joined.with_columns(
        pl.struct("subreddit", "created_utc", "title", "selftext").map_elements(
            lambda r: stable_id(NAME, "situation", r["subreddit"], r["created_utc"], r["title"], r["selftext"]),
            return_dtype=pl.String).alias("record_id"),
        _published(pl.col("link_id"), ids).alias("post_id"),
        pl.col("title").alias("situation"),
        pl.lit(None, pl.String).alias("norm"),
        pl.struct(pl.lit(None, pl.String).alias("country"), pl.col("selftext").alias("background")).alias("context"),
        pl.lit(None, pl.String).alias("intention"),
        pl.lit([], dtype=pl.List(action)).alias("actions"),
        pl.col("label_distribution").fill_null(empty_dist),
        pl.col("n_votes").fill_null(0),
        pl.from_epoch("created_utc", time_unit="s").dt.replace_time_zone("UTC").alias("created"),
        *envelope_columns(dataset="reddit", license=config.license, created_at=ctx.created_at,
                          provenance=provenance, file=pl.col("_file"),
                          source_id=_published(pl.col("link_id"), ids), lang=pl.col("lang")),
    )
    return records.select(
        "record_id", "situation", "norm", "context", "intention", "actions", "judgment", "label_distribution",
        "n_votes", "subreddit", "post_id", "author_pseudonym", "created", "score", "num_comments", "word_count",
        "lang_probability",
        "source", "license", "lang", "split", "parallel_id", "provenance", "review", "created_at",
    ).sort("created", "record_id")


def thread_records(ctx, posts, comments, config, provenance, ids) -> pl.DataFrame:
    turn_cols = ["id", "parent_id", "author_pseudonym", "text", "created_utc", "score"]
    post_turns = posts.select(
        ("t3_" + pl.col("id")).alias("link_id"),
        _published("t3_" + pl.col("id"), ids).alias("id"),
        pl.lit(None, pl.String).alias("parent_id"),
        "author_pseudonym",
        pl.concat_str("title", pl.lit("\n\n"), "selftext").alias("text"),
        "created_utc", "score", pl.lit(0).alias("_order"),
    )
    comment_turns = comments.select(
        "link_id",
        _published("t1_" + pl.col("id"), ids).alias("id"),
        _published(pl.col("parent_id"), ids).alias("parent_id"),
        "author_pseudonym", pl.col("body").alias("text"), "created_utc", "score", pl.lit(1).alias("_order"),
    )
    turns = pl.concat([post_turns, comment_turns]).sort("link_id", "_order", "created_utc", "id")
    grouped = turns.group_by("link_id", maintain_order=True).agg(pl.struct(turn_cols).alias("turns"))
    meta = posts.select(("t3_" + pl.col("id")).alias("link_id"), "subreddit", "lang", "_file")
    threads = grouped.join(meta, on="link_id", how="inner").with_columns(
        _published(pl.col("link_id"), ids).alias("thread_id"),
        (pl.col("turns").list.len() - 1).alias("n_comments"),
    )
    threads = threads.with_columns(
        pl.col("turns").map_elements(lambda t: stable_id(NAME, "thread", [(x["text"], x["created_utc"]) for x in t]),
                                     return_dtype=pl.String).alias("record_id"),
        *envelope_columns(dataset="reddit", license=config.license, created_at=ctx.created_at,
                          provenance=provenance, file=pl.col("_file"), source_id=pl.col("thread_id"),
                          lang=pl.col("lang")),
    )
    return threads.select(
        "record_id", "thread_id", "subreddit", "n_comments", "turns",
        "source", "license", "lang", "split", "parallel_id", "provenance", "review", "created_at",
    ).sort("thread_id")


# -- measured facts for the card ----------------------------------------------------------------


def _day(ts) -> str:
    return "n/a" if ts is None else datetime.fromtimestamp(int(ts), timezone.utc).strftime("%Y-%m-%d")


def measure(ctx, records, threads, comments, key: PseudonymKey, config: Config) -> list[CardSection]:
    report = ctx.report
    sections = []
    subs = records.group_by("subreddit").len().sort("subreddit")
    csubs = comments.group_by("subreddit").len()
    ccount = dict(csubs.iter_rows())
    lines = [f"- r/{s}: {n} situations, {ccount.get(s, 0)} top-level comments" for s, n in subs.iter_rows()]
    lines.append(f"- configured: {', '.join('r/' + s for s in config.subreddits)}")
    sections.append(CardSection("Subreddits", "\n".join(lines)))

    times = records["created"]
    span = (f"Situations were posted from {_day(times.min().timestamp()) if times.len() else 'n/a'} to "
            f"{_day(times.max().timestamp()) if times.len() else 'n/a'} (UTC); comments from "
            f"{_day(comments['created_utc'].min())} to {_day(comments['created_utc'].max())}.")
    if config.start or config.end:
        span += f" The run kept items created in [{config.start or '-inf'}, {config.end or '+inf'})."
    sections.append(CardSection("Time span", span))

    filters = ["| step | filter | rows dropped |", "|---|---|---:|"]
    for account in report.accounts:
        for reason, n in sorted(account.dropped.items()):
            filters.append(f"| {account.name} | {reason} | {n} |")
    filters.append("")
    filters.append(f"Situations: self posts from the configured subreddits, not deleted or removed, author not "
                   f"deleted, not stickied or meta, at least {config.min_words} words (Scruples' filters). "
                   "Comments: top-level (`parent_id == link_id`) on a kept situation, bots "
                   f"({', '.join(config.bots)} and names matching `{config.bot_pattern}`) and deleted text dropped.")
    sections.append(CardSection("Filters", "\n".join(filters)))

    detected = report.step("detect_language").extra.get("languages_detected", {})
    lang_lines = [f"- {lang}: {n}" for lang, n in detected.items()]
    sections.append(CardSection(
        "Languages",
        "Detected with langdetect (seed 0) on title and text of each situation; kept: "
        f"{', '.join(config.languages)}. Detected before the language filter:\n" + "\n".join(lang_lines)))

    judged = records.group_by("judgment").len().sort("judgment", nulls_last=True)
    votes = report.step("parse_verdicts").extra.get("votes", {})
    label_lines = ["| label | situations (majority) | votes |", "|---|---:|---:|"]
    majority = {k: n for k, n in judged.iter_rows()}
    for v in VERDICTS:
        label_lines.append(f"| {v} | {majority.get(v, 0)} | {votes.get(v, 0)} |")
    label_lines.append(f"| no majority (no votes or a tie) | {majority.get(None, 0)} | |")
    sections.append(CardSection(
        "Label distribution",
        "Votes are parsed from top-level comments in "
        f"{', '.join('r/' + s for s in config.verdict_subreddits)}: the first of YTA, NTA, ESH, NAH, INFO "
        "(YWBTA counts as YTA, YWNBTA as NTA) in a comment is its one vote.\n\n" + "\n".join(label_lines)))

    masked = report.step("privacy").extra.get("masked", {})
    stable = ("The key came from `CURATE_PSEUDONYM_KEY`: the same author has the same pseudonym in every "
              "version built with that key." if key.stable else
              "**Pseudonyms are not stable**: `CURATE_PSEUDONYM_KEY` was not set, so a random key was drawn "
              "for this run; the same author has a different pseudonym in another run.")
    sections.append(CardSection("Privacy treatment", "\n".join([
        "- Authors are replaced by a keyed pseudonym, `u_` + HMAC-SHA256(key, user name); without the key "
        "no one can go back from a pseudonym to a name. " + stable,
        f"- Key fingerprint (names the key, reveals nothing): `{key.key_id}`.",
        "- Reddit's post and comment ids are " + ("published as they are." if config.keep_reddit_ids else
                                                 "replaced by keyed ids, so that they do not lead back to a post."),
        "- Masked in titles, bodies and comments: " + ", ".join(f"{k}: {n}" for k, n in masked.items()) + ".",
        "- Deleted authors have no pseudonym (null); deleted and removed texts are not published.",
        "- Quarantined lines are stored with author fields redacted and the same masks applied.",
    ])))
    return sections


def _card(config: Config, key: PseudonymKey) -> CardMeta:
    return CardMeta(
        pretty_name=config.dataset_name or "Reddit norms: situations with community verdicts",
        license=config.license,
        languages=list(config.languages),
        task_categories=["text-classification"],
        tags=["norms", "ethics", "reddit", "aita", "social-chemistry", "scruples", "alignment"],
        summary=("First-person situations from Reddit (r/AmItheAsshole, r/confessions, ...) with the community's "
                 "verdict votes as a label distribution, and the threads of top-level comments they drew; built "
                 "in the style of Social Chemistry 101 and Scruples, with authors pseudonymized."),
        citation=("Lourie, N., Le Bras, R., & Choi, Y. (2021). Scruples: A Corpus of Community Ethical Judgments "
                  "on 32,000 Real-Life Anecdotes. AAAI.\nForbes, M., Hwang, J. D., Shwartz, V., Sap, M., & Choi, Y. "
                  "(2020). Social Chemistry 101: Learning to Reason about Social and Moral Norms. EMNLP."),
        limitations=[
            "Reddit users are not a representative sample of any population; r/AmItheAsshole voters skew young, "
            "English-speaking and North American.",
            "Votes are parsed from comment text: sarcasm, quoted verdicts and edits are not understood.",
            "Masks are patterns: names written without `u/` are masked only when they are handle-like names of "
            "this run's own authors; other names, addresses and details people write about themselves remain.",
            "Texts are verbatim after masking, so a web search can find the original post.",
        ],
        personal_information=(
            "Texts are written by Reddit users about their own lives. Authors are pseudonymized with a keyed HMAC "
            + ("(stable key)" if key.stable else "(random per-run key: pseudonyms are NOT stable across runs)")
            + "; user mentions, e-mail addresses, phone numbers and personal URL query values are masked. "
            "See 'Privacy treatment'."),
        fields={
            "situations": {
                "situation": "the post's title, normalized and masked",
                "context": "background: the post's text, normalized and masked",
                "judgment": "majority verdict (YTA, NTA, ESH, NAH, INFO); null without votes or on a tie",
                "label_distribution": "votes per verdict and their share",
                "n_votes": "top-level comments with a verdict",
                "post_id": "keyed id of the post (Reddit's own id when keep_reddit_ids)",
                "author_pseudonym": "keyed pseudonym of the author",
            },
            "threads": {"turns": "the post, then its top-level comments by time; author_pseudonym per turn"},
        },
    )


def check_inputs(inputs: list[Path], config: Config) -> None:
    for path in inputs:
        check_dump(path)
