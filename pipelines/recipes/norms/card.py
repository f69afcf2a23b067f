"""The norms recipe's card: subreddits, time span, filters, languages, labels, privacy treatment."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from data_cards.hub import HubSpec
from pipelines.methods.privacy import PLACEHOLDERS, PseudonymKey
from pipelines.recipes.base import CardMeta, CardSection, read_columns

from .steps import VERDICTS

# A post's situation and its thread share a split (post_id == thread_id).
HUB = HubSpec(
    class_labels={"situations": {"judgment": list(VERDICTS)}},
    annotations_creators=["found"],
)

COLUMNS = read_columns(Path(__file__).with_name("columns.yaml"))


def _day(ts) -> str:
    return "n/a" if ts is None else datetime.fromtimestamp(int(ts), UTC).strftime("%Y-%m-%d")


def measure(ctx, records, threads, comments, key: PseudonymKey, config) -> list[CardSection]:
    report = ctx.report
    sections = []
    subs = records.group_by("subreddit").len().sort("subreddit")
    csubs = comments.group_by("subreddit").len()
    ccount = dict(csubs.iter_rows())
    lines = [f"- r/{s}: {n} situations, {ccount.get(s, 0)} top-level comments" for s, n in subs.iter_rows()]
    lines.append(f"- configured: {', '.join('r/' + s for s in config.subreddits)}")
    sections.append(CardSection("Subreddits", "\n".join(lines)))

    times = records["created"]
    span = (
        f"Situations were posted from {_day(times.min().timestamp()) if times.len() else 'n/a'} to "
        f"{_day(times.max().timestamp()) if times.len() else 'n/a'} (UTC); comments from "
        f"{_day(comments['created_utc'].min())} to {_day(comments['created_utc'].max())}."
    )
    if config.start or config.end:
        span += f" The run kept items created in [{config.start or '-inf'}, {config.end or '+inf'})."
    sections.append(CardSection("Time span", span))

    filters = ["| step | filter | rows dropped |", "|---|---|---:|"]
    for account in report.accounts:
        for reason, n in sorted(account.dropped.items()):
            filters.append(f"| {account.name} | {reason} | {n} |")
    filters.append("")
    filters.append(
        f"Situations: self posts from the configured subreddits, not deleted or removed, author not "
        f"deleted, not stickied or meta, at least {config.min_words} words (Scruples' filters). "
        "Comments: top-level (`parent_id == link_id`) on a kept situation, bots "
        f"({', '.join(config.bots)} and names matching `{config.bot_pattern}`) and deleted text dropped."
    )
    sections.append(CardSection("Filters", "\n".join(filters)))

    detected = report.step("detect_language").extra.get("languages_detected", {})
    lang_lines = [f"- {lang}: {n}" for lang, n in detected.items()]
    sections.append(
        CardSection(
            "Languages",
            "Detected with langdetect (seed 0) on title and text of each situation; kept: "
            f"{', '.join(config.languages)}. Detected before the language filter:\n" + "\n".join(lang_lines),
        )
    )

    judged = records.group_by("judgment").len().sort("judgment", nulls_last=True)
    votes = report.step("parse_verdicts").extra.get("votes", {})
    label_lines = ["| label | situations (majority) | votes |", "|---|---:|---:|"]
    majority = {k: n for k, n in judged.iter_rows()}
    for v in VERDICTS:
        label_lines.append(f"| {v} | {majority.get(v, 0)} | {votes.get(v, 0)} |")
    label_lines.append(f"| no majority (no votes or a tie) | {majority.get(None, 0)} | |")
    sections.append(
        CardSection(
            "Label distribution",
            "Votes are parsed from top-level comments in "
            f"{', '.join('r/' + s for s in config.verdict_subreddits)}: the first of YTA, NTA, ESH, NAH, INFO "
            "(YWBTA counts as YTA, YWNBTA as NTA) in a comment is its one vote.\n\n" + "\n".join(label_lines),
        )
    )

    masked = report.step("privacy").extra.get("masked", {})
    stable = (
        "The key came from `CURATE_PSEUDONYM_KEY`: the same author has the same pseudonym in every "
        "version built with that key."
        if key.stable
        else "**Pseudonyms are not stable**: `CURATE_PSEUDONYM_KEY` was not set, so a random key was drawn "
        "for this run; the same author has a different pseudonym in another run."
    )
    sections.append(
        CardSection(
            "Privacy treatment",
            "\n".join(
                [
                    "- Authors are replaced by a keyed pseudonym, `u_` + HMAC-SHA256(key, user name); without the key "
                    "no one can go back from a pseudonym to a name. " + stable,
                    f"- Key fingerprint (names the key, reveals nothing): `{key.key_id}`.",
                    "- Reddit's post and comment ids are "
                    + (
                        "published as they are."
                        if config.keep_reddit_ids
                        else "replaced by keyed ids, so that they do not lead back to a post."
                    ),
                    "- Text is normalized (HTML entities, NFKC, zero-width and bidi controls removed) and masked with typed "
                    "placeholders (Presidio"
                    + (" with spaCy en_core_web_sm NER" if config.privacy_ner else ", rules only, no NER")
                    + "); masks in titles, bodies and comments: "
                    + (", ".join(f"{PLACEHOLDERS.get(k, k)} ({k}): {n}" for k, n in masked.items()) or "none")
                    + ".",
                    "- Deleted authors have no pseudonym (null); deleted and removed texts are not published.",
                    "- Quarantined lines are stored with author fields and Reddit ids redacted and the same masks applied.",
                ]
            ),
        )
    )
    return sections


def card_meta(config, key: PseudonymKey) -> CardMeta:
    return CardMeta(
        columns=COLUMNS,
        pretty_name=config.dataset_name or "Reddit norms: situations with community verdicts",
        license=config.license,
        languages=list(config.languages),
        task_categories=["text-classification"],
        tags=["norms", "ethics", "reddit", "aita", "social-chemistry", "scruples", "alignment"],
        summary=(
            "First-person situations from Reddit (r/AmItheAsshole, r/confessions, ...) with the community's "
            "verdict votes as a label distribution, and the threads of top-level comments they drew; built "
            "in the style of Social Chemistry 101 and Scruples, with authors pseudonymized."
        ),
        citation=(
            "Lourie, N., Le Bras, R., & Choi, Y. (2021). Scruples: A Corpus of Community Ethical Judgments "
            "on 32,000 Real-Life Anecdotes. AAAI.\nForbes, M., Hwang, J. D., Shwartz, V., Sap, M., & Choi, Y. "
            "(2020). Social Chemistry 101: Learning to Reason about Social and Moral Norms. EMNLP."
        ),
        limitations=[
            "Reddit users are not a representative sample of any population; r/AmItheAsshole voters skew young, "
            "English-speaking and North American.",
            "Votes are parsed from comment text: sarcasm, quoted verdicts and edits are not understood.",
            "Masks come from patterns and, for names and places, spaCy's small English NER model, which misses "
            "some names (about one in ten in bench/privacy; more in French and German text, where only title "
            "rules such as `je m'appelle` find them); details people write about themselves (jobs, ages, events) "
            "remain.",
            "Texts are verbatim after masking, so a web search can find the original post.",
        ],
        personal_information=(
            "Texts are written by Reddit users about their own lives. Authors are pseudonymized with a keyed HMAC "
            + ("(stable key)" if key.stable else "(random per-run key: pseudonyms are NOT stable across runs)")
            + "; user mentions, e-mail addresses, phone numbers, card and account numbers, IP addresses, "
            "street addresses, personal URL query values"
            + (", names and places" if config.privacy_ner else "")
            + " are masked with typed placeholders. "
            "See 'Privacy treatment'."
        ),
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
