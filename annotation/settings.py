"""Argilla dataset settings per record type: what annotators see, what they answer, and how.

A `ReviewSpec` says, for one config of one recipe's output (personality `respondents`, norms
`situations`, translate `translations`, preferences `pairs`, ...):
- fields: texts rendered from a row (markdown where the content is a table or a list);
- questions: label, rating, text (corrections) and ranking (preference candidates), each with the
  level of measurement used for its agreement and the rule that resolves it;
- metadata for filtering: common to all (source, file, language, text length, LLM model, dedup
  cluster) plus the type's own columns;
- suggestions: LLM output shown as a pre-filled answer, with the model as agent;
- the text to embed for similarity search (or a vector column the data already has).

`spec_for(recipe, config, frame)` picks the spec; configs without one get a generic accept/reject
review of their text columns. `argilla_settings(spec, ...)` turns a spec into `rg.Settings`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Literal

import polars as pl

Row = dict[str, Any]
Kind = Literal["label", "rating", "text", "ranking"]
Level = Literal["nominal", "ordinal", "interval"]
Rule = Literal["majority", "mean", "median", "mean_rank", "all"]

DEFAULT_RULES: dict[str, Rule] = {"label": "majority", "rating": "mean", "ranking": "mean_rank", "text": "all"}
DEFAULT_LEVELS: dict[str, tuple[Level, ...]] = {
    "label": ("nominal",), "rating": ("ordinal", "interval"), "ranking": ("ordinal",), "text": (),
}
TEXT_LENGTH = "text_length"  # characters of the fields shown, for filtering long items
DEDUP_COLUMNS = ("dedup_cluster", "_dedup_cluster", "cluster_id")
AGENT_BAD = re.compile(r"[^a-zA-Z0-9\-_:./\s]")


@dataclass
class Field:
    name: str
    title: str
    render: Callable[[Row], str | None]
    markdown: bool = False
    required: bool = True


@dataclass
class Question:
    name: str
    kind: Kind
    title: str
    options: list | dict | None = None  # labels, rating values, or ranking values (value -> text)
    required: bool = True
    description: str | None = None
    rule: Rule | None = None  # None: DEFAULT_RULES[kind]
    levels: tuple[Level, ...] | None = None  # None: DEFAULT_LEVELS[kind]

    @property
    def values(self) -> list:
        """The options' values in order (labels, ratings, ranking values)."""
        return list(self.options) if self.options is not None else []

    def resolution_rule(self) -> Rule:
        return self.rule or DEFAULT_RULES[self.kind]

    def agreement_levels(self) -> tuple[Level, ...]:
        return self.levels if self.levels is not None else DEFAULT_LEVELS[self.kind]


@dataclass
class Meta:
    name: str
    kind: Literal["terms", "integer", "float"]
    expr: pl.Expr | None  # None: computed from the rendered fields (text_length)
    title: str | None = None
    hidden: bool = False  # not shown to annotators (what they must judge before seeing); owners and admins see it


@dataclass
class Suggestion:
    """A pre-filled answer to `question` from `value(row)`; the agent is the model that `step`
    recorded in the row's provenance (or `agent` when the value is not a model's)."""

    question: str
    value: Callable[[Row], Any]
    step: str | None = None
    agent: str | None = None
    score: Callable[[Row], Any] | None = None


@dataclass
class ReviewSpec:
    record_type: str
    fields: list[Field]
    questions: list[Question]
    metadata: list[Meta] = field(default_factory=list)
    suggestions: list[Suggestion] = field(default_factory=list)
    embed_text: Callable[[Row], str | None] | None = None  # text for MiniLM vectors
    vector_column: str | None = None  # a column of the data that already holds vectors
    vector_name: str = "embedding"
    guidelines: str = ""

    def question(self, name: str) -> Question:
        for q in self.questions:
            if q.name == name:
                return q
        raise KeyError(name)


# -- small renderers ---------------------------------------------------------------------------


def col(name: str) -> Callable[[Row], str | None]:
    return lambda row: None if row.get(name) is None else str(row[name])


def lines(*pairs: tuple[str, str]) -> Callable[[Row], str]:
    """`**Title:** value` lines for the columns given, skipping empty ones."""
    def render(row: Row) -> str:
        return "\n\n".join(f"**{title}:** {row[c]}" for title, c in pairs if row.get(c) not in (None, "", []))
    return render


def md_table(header: list[str], rows: list[list[Any]]) -> str:
    def cell(v: Any) -> str:
        return str(v).replace("|", "\\|").replace("\n", " ")
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(cell(v) for v in r) + " |" for r in rows]
    return "\n".join(out)


def as_shown(text: str) -> str:
    """Field text as sent to Argilla. Its UI puts field text into the page as HTML (plain fields
    through Vue's v-html, markdown fields through its markdown renderer), so a `<tag>` in a Reddit
    post, a prompt injection or an LLM output would vanish from what annotators see, or act as markup.
    With `&` and `<` escaped, every character shows as written (markdown syntax needs neither)."""
    return text.replace("&", "&amp;").replace("<", "&lt;")


def agent_name(model: str | None) -> str | None:
    if not model:
        return None
    return AGENT_BAD.sub("_", model)[:200]


def step_model(row: Row, step: str | None) -> str | None:
    """The model a step recorded in the row's provenance (the last LLM step when `step` is None)."""
    models = [p.get("model") for p in row.get("provenance") or [] if p.get("model") and (step is None or p["step"] == step)]
    return models[-1] if models else None


# -- metadata every spec carries ---------------------------------------------------------------


def common_metadata(frame: pl.DataFrame) -> list[Meta]:
    meta = []
    if "source" in frame.columns:
        meta += [Meta("source", "terms", pl.col("source").struct.field("dataset"), "Source"),
                 Meta("source_file", "terms", pl.col("source").struct.field("file"), "Source file")]
    if "lang" in frame.columns:
        meta.append(Meta("language", "terms", pl.col("lang"), "Language"))
    if "provenance" in frame.columns:
        models = pl.col("provenance").list.eval(pl.element().struct.field("model")).list.drop_nulls().list.unique(maintain_order=True)
        if frame.select(models.list.len().max()).item():
            meta.append(Meta("llm_model", "terms", models, "LLM model"))
    for name in DEDUP_COLUMNS:
        if name in frame.columns:
            meta.append(Meta("dedup_cluster", "terms", pl.col(name).cast(pl.String), "Dedup cluster"))
            break
    return meta


def _terms(name: str, column: str | None = None, title: str | None = None) -> Meta:
    return Meta(name, "terms", pl.col(column or name).cast(pl.String), title)


def _int(name: str, column: str | None = None, title: str | None = None) -> Meta:
    return Meta(name, "integer", pl.col(column or name).cast(pl.Int64), title)


def _float(name: str, column: str | None = None, title: str | None = None) -> Meta:
    return Meta(name, "float", pl.col(column or name).cast(pl.Float64), title)


def note() -> Question:  # new objects per spec: review settings may change a question's rule
    return Question("note", "text", "Notes (optional)", required=False)


def clarity() -> Question:
    return Question("clarity", "rating", "How clear is it? (1 = unclear, 5 = perfectly clear)", [1, 2, 3, 4, 5])


# -- personality -------------------------------------------------------------------------------


def respondent_spec(frame: pl.DataFrame) -> ReviewSpec:
    def profile(row: Row) -> str:
        demo = row.get("demographics") or {}
        scores = row.get("domain_scores") or {}
        head = ", ".join(f"{k}: {v}" for k, v in demo.items() if v is not None) or "no demographics"
        table = md_table(["domain", "score (1-5)"], [[k, "-" if v is None else f"{v:.2f}"] for k, v in scores.items()])
        return f"**{row.get('instrument')}**, respondent {row.get('respondent_id')} ({head}); " \
               f"{row.get('answered')} items answered.\n\n{table}"

    def answers(row: Row) -> str:
        values = row.get("responses") or []
        blocks = [" ".join("." if v is None else str(v) for v in values[i:i + 30]) for i in range(0, len(values), 30)]
        return "Answers in item order, 30 a line (`.` = missing):\n\n```\n" + "\n".join(blocks) + "\n```"

    return ReviewSpec(
        "RespondentProfile",
        fields=[Field("profile", "Profile", profile, markdown=True), Field("answers", "Answers", answers, markdown=True)],
        questions=[Question("response_quality", "label", "Is this a valid, attentive response?",
                            ["valid", "careless", "unsure"],
                            description="careless: straight-lining, random patterns, contradictory answers"), note()],
        metadata=[_terms("instrument"), _int("answered"), *_demographics(frame)],
        vector_column="domain_scores" if "domain_scores" in frame.columns else None,
        vector_name="domain_scores",
        guidelines="Check each respondent's answers for careless responding before the profile is used.",
    )


def _demographics(frame: pl.DataFrame) -> list[Meta]:
    if not isinstance(frame.schema.get("demographics"), pl.Struct):
        return []
    demo = pl.col("demographics").struct
    return [Meta(name, kind, demo.field(name).cast(pl.Int64 if kind == "integer" else pl.String))
            for name, kind in (("sex", "terms"), ("age", "integer"), ("country", "terms"))
            if name in frame.schema["demographics"].to_schema()]


def inventory_item_spec(frame: pl.DataFrame) -> ReviewSpec:
    return ReviewSpec(
        "InventoryItem",
        fields=[Field("text", "Item", col("text")),
                Field("facet", "Domain and facet", lines(("Domain", "domain"), ("Facet", "facet_name"),
                                                         ("Keyed", "keyed"), ("Scale", "scale")), markdown=True)],
        questions=[Question("keying", "label", "Is the keying (+1 / -1) right for this facet?", ["correct", "reversed", "unsure"]),
                   clarity(), Question("correction", "text", "Corrected item text (optional)", required=False)],
        metadata=[_terms("instrument"), _terms("domain"), _terms("facet_code"), _int("keyed")],
        embed_text=col("text"),
        guidelines="Check that each item reads clearly and is keyed in the direction of its facet.",
    )


def scenario_spec(frame: pl.DataFrame) -> ReviewSpec:
    def options(row: Row) -> str:
        return md_table(["option", "text", "keyed"], [[o["label"], o["text"], o["keyed"]] for o in row.get("options") or []])

    return ReviewSpec(
        "Scenario",
        fields=[Field("item", "Inventory item", lines(("Item", "item_text"), ("Trait", "trait"), ("Facet", "facet_name")),
                      markdown=True),
                Field("question", "Scenario question", col("question")),
                Field("options", "Options (keyed: which pole of the trait)", options, markdown=True)],
        questions=[Question("keyed_correct", "label", "Do the options express the trait's poles as keyed?",
                            ["correct", "wrong", "unsure"]),
                   Question("realism", "rating", "How realistic is the scenario? (1-5)", [1, 2, 3, 4, 5]),
                   Question("correction", "text", "Corrected question or options (optional)", required=False)],
        metadata=[_terms("trait"), _terms("instrument"), _float("judge_agreement")],
        suggestions=[Suggestion("keyed_correct", lambda r: None if r.get("judge_agreement") is None else
                                ("correct" if r["judge_agreement"] >= 1.0 else "wrong"),
                                step="judge_scenarios", score=lambda r: r.get("judge_agreement"))],
        embed_text=col("question"),
        guidelines="An LLM wrote these scenarios and another call judged their keying; its verdict is suggested.",
    )


# -- values ------------------------------------------------------------------------------------


def _options_list(row: Row) -> str:
    opts = "\n".join(f"{i + 1}. {o}" for i, o in enumerate(row.get("options") or []))
    refusals = ", ".join(row.get("refusal_options") or []) or "none"
    return f"{opts}\n\nRefusal options: {refusals}"


def survey_question_spec(frame: pl.DataFrame) -> ReviewSpec:
    return ReviewSpec(
        "SurveyItem",
        fields=[Field("question", "Question", col("question")),
                Field("options", "Answer options", _options_list, markdown=True)],
        questions=[Question("labels_match", "label", "Do the option labels match the question and codebook?", ["yes", "no", "unsure"]),
                   Question("ordinal", "label", "Are the options ordered (ordinal)?", ["ordinal", "nominal"]),
                   Question("correction", "text", "Corrected question or labels (optional)", required=False)],
        metadata=[_terms("survey"), _terms("wave"), _terms("var_name"), _terms("ordinal_in_data", "ordinal")],
        embed_text=col("question"),
        guidelines="Check question wording and answer labels against the codebook.",
    )


def distribution_spec(frame: pl.DataFrame) -> ReviewSpec:
    def table(row: Row) -> str:
        probs, cis = row.get("probs") or [], row.get("ci") or []
        rows = [[o, f"{p:.3f}", f"[{c['low']:.3f}, {c['high']:.3f}]" if c else "-"]
                for o, p, c in zip(row.get("options") or [], probs, cis + [None] * len(probs))]
        return (f"**Group:** {row.get('group_attr')} = {row.get('group_value')} (n = {row.get('n')}, "
                f"n_eff = {row.get('n_eff') or 0:.1f}, refusals {row.get('refusal_mass') or 0:.3f})\n\n"
                + md_table(["option", "share", "95% CI"], rows))

    return ReviewSpec(
        "SurveyDistribution",
        fields=[Field("question", "Question", col("question")), Field("distribution", "Answer distribution", table, markdown=True)],
        questions=[Question("plausible", "label", "Is this distribution plausible for this group?",
                            ["plausible", "implausible", "unsure"]), note()],
        metadata=[_terms("survey"), _terms("wave"), _terms("var_name"), _terms("group_attr"), _terms("group_value"),
                  _int("n"), _float("n_eff")],
        embed_text=col("question"),
        guidelines="Flag group distributions that look wrong (label swaps, weights, tiny groups).",
    )


# -- norms -------------------------------------------------------------------------------------

VERDICTS = ["YTA", "NTA", "ESH", "NAH", "INFO"]


def situation_spec(frame: pl.DataFrame) -> ReviewSpec:
    def story(row: Row) -> str:
        ctx = row.get("context") or {}
        parts = [f"### {row.get('situation')}"]
        if ctx.get("background"):
            parts.append(ctx["background"])
        for a in row.get("actions") or []:
            parts.append(f"- action ({a.get('polarity')}): {a.get('text')}")
        return "\n\n".join(parts)

    return ReviewSpec(
        "NormScenario",
        fields=[Field("situation", "Situation", story, markdown=True),
                Field("norm", "Norm (if stated)", col("norm"), required=False)],
        questions=[Question("verdict", "label", "Your verdict", VERDICTS,
                            description="YTA: you're the one at fault; NTA: the other party is; ESH: everyone; "
                                        "NAH: no one; INFO: not enough information"),
                   clarity(),
                   Question("norm_text", "text", "The rule of thumb at stake (optional)", required=False)],
        metadata=[_terms("subreddit"), Meta("community_judgment", "terms", pl.col("judgment").cast(pl.String), hidden=True), _int("n_votes"), _int("word_count")],
        embed_text=lambda r: r.get("situation"),
        guidelines="Judge each situation yourself before looking at the community's verdict.",
    )


def thread_spec(frame: pl.DataFrame) -> ReviewSpec:
    def turns(row: Row) -> str:
        out = []
        for t in row.get("turns") or []:
            indent = "> " if t.get("parent_id") else ""
            out.append(f"{indent}**{t.get('author_pseudonym')}** (score {t.get('score')}): {t.get('text')}")
        return "\n\n".join(out)

    return ReviewSpec(
        "Thread",
        fields=[Field("thread", "Thread", turns, markdown=True)],
        questions=[Question("keep", "label", "Keep this thread in the dataset?", ["keep", "remove"]),
                   Question("personal_information", "label", "Does it still contain personal information?", ["no", "yes"]),
                   note()],
        metadata=[_terms("subreddit"), _int("n_comments")],
        embed_text=lambda r: (r.get("turns") or [{}])[0].get("text"),
        guidelines="Remove threads that are off-topic or still identify someone.",
    )


# -- LLM recipes -------------------------------------------------------------------------------

STORY_FIELDS = ["norm", "situation", "intention", "moral_action", "moral_consequence", "immoral_action", "immoral_consequence"]


def _story_fields(frame: pl.DataFrame) -> list[str]:
    return [f for f in STORY_FIELDS if f in frame.columns] or [
        c for c, t in frame.schema.items() if t == pl.String and c not in ("record_id", "license", "lang", "split", "parallel_id")]


def translation_spec(frame: pl.DataFrame) -> ReviewSpec:
    names = _story_fields(frame)

    def source(row: Row) -> str:
        src = row.get("source_text") or {}
        return "\n\n".join(f"**{f}:** {src.get(f)}" for f in names if src.get(f))

    def translation(row: Row) -> str:
        return "\n\n".join(f"**{f}:** {row[f]}" for f in names if row.get(f))

    def as_correction(row: Row) -> str:
        return "\n".join(f"{f}: {row[f]}" for f in names if row.get(f))

    quality = pl.col("quality").struct
    meta = [_int("review_priority")]
    if "quality" in frame.columns:
        meta += [Meta("confidence", "float", quality.field("confidence")),
                 Meta("length_ratio", "float", quality.field("length_ratio")),
                 Meta("detected_lang", "terms", quality.field("detected_lang")),
                 Meta("needs_review_first", "terms", quality.field("needs_review_first").cast(pl.String))]
    return ReviewSpec(
        "Translation",
        fields=[Field("original", "Original", source, markdown=True),
                Field("translation", "Translation", translation, markdown=True)],
        questions=[Question("meaning", "rating", "Meaning preserved? (1 = lost, 5 = fully)", [1, 2, 3, 4, 5]),
                   Question("fluency", "rating", "Fluency and syntax (1 = broken, 5 = native)", [1, 2, 3, 4, 5]),
                   Question("names", "label", "Names and cultural context", ["ok", "wrong", "not_applicable"]),
                   Question("correction", "text", "Corrected translation: edit the suggested text (one `field: text` a line)",
                            required=False)],
        metadata=meta,
        suggestions=[Suggestion("correction", as_correction, step="translate")],
        embed_text=lambda r: r.get("situation") or translation(r),
        guidelines="Rate each machine translation as a native speaker (after Histoires Morales), and correct it "
                   "in the text box: the model's translation is pre-filled.",
    )


def story_spec(frame: pl.DataFrame) -> ReviewSpec:
    names = _story_fields(frame)
    return ReviewSpec(
        "MoralStory",
        fields=[Field("story", "Story", lambda r: "\n\n".join(f"**{f}:** {r[f]}" for f in names if r.get(f)), markdown=True)],
        questions=[Question("coherent", "label", "Is the story coherent (norm, actions and consequences fit)?",
                            ["yes", "no", "unsure"]), note()],
        embed_text=lambda r: r.get("situation") or r.get(names[0]),
        guidelines="Check that the source stories are coherent before they are translated.",
    )


def max_candidates(frame: pl.DataFrame) -> int:
    if "candidates" not in frame.columns or not frame.height:
        return 2
    return max(2, int(frame.select(pl.col("candidates").list.len().max()).item() or 0))


def pair_spec(frame: pl.DataFrame) -> ReviewSpec:
    n = max_candidates(frame)
    values = {f"candidate_{i + 1}": f"Candidate {i + 1}" for i in range(n)}

    def candidate(i: int) -> Callable[[Row], str | None]:
        return lambda r: r["candidates"][i]["text"] if i < len(r.get("candidates") or []) else None

    def judge_ranking(row: Row):
        scores = [c.get("score") for c in row.get("candidates") or []]
        if not scores or any(s is None for s in scores):
            return None
        ranked = ranks_from_scores(scores)
        return [{"value": f"candidate_{i + 1}", "rank": r} for i, r in enumerate(ranked)] + \
               [{"value": f"candidate_{i + 1}", "rank": len(scores) + 1} for i in range(len(scores), n)]

    return ReviewSpec(
        "PreferencePair",
        fields=[Field("prompt", "Prompt", col("prompt")),
                Field("persona", "Persona", persona_text, markdown=True),
                *[Field(v, t, candidate(i), required=i < 2) for i, (v, t) in enumerate(values.items())]],
        questions=[Question("ranking", "ranking", "Rank the answers as this persona would (1 = best)", values),
                   Question("rationale", "text", "Why? (optional)", required=False)],
        metadata=[_terms("persona_id"), _terms("prompt_id"), _float("margin")],
        suggestions=[Suggestion("ranking", judge_ranking, step="judge")],
        embed_text=col("prompt"),
        guidelines="Rank the candidate answers from the persona's point of view; the LLM judge's ranking is suggested.",
    )


def persona_text(row: Row) -> str:
    """The persona's description when push joined it in (`persona_description`), else its id."""
    text = row.get("persona_description")
    if not text:
        return f"persona `{row.get('persona_id')}`"
    return f"**{row.get('persona_id')}**\n\n" + text.replace("\n", "\n\n")


def ranks_from_scores(scores: list[float]) -> list[int]:
    """Rank 1 for the highest score; equal scores share a rank (competition ranking)."""
    return [1 + sum(1 for t in scores if t > s) for s in scores]


def persona_spec(frame: pl.DataFrame) -> ReviewSpec:
    def demographics(row: Row) -> str:
        try:
            demo = json.loads(row.get("demographics") or "{}")
        except ValueError:
            return str(row.get("demographics"))
        return ", ".join(f"{k}: {v}" for k, v in demo.items())

    return ReviewSpec(
        "Persona",
        fields=[Field("self_description", "Self-description", col("self_description")),
                Field("demographics", "Demographics", demographics, required=False)],
        questions=[Question("realism", "rating", "How realistic is this persona? (1-5)", [1, 2, 3, 4, 5]),
                   Question("consistent", "label", "Do description and demographics agree?", ["yes", "no"]), note()],
        metadata=[_terms("persona_id"), _terms("synthetic")],
        embed_text=col("self_description"),
        guidelines="Check that personas are plausible people and internally consistent.",
    )


def prompt_spec(frame: pl.DataFrame) -> ReviewSpec:
    return ReviewSpec(
        "Prompt",
        fields=[Field("prompt", "Prompt", col("prompt"))],
        questions=[Question("usable", "label", "Is this a usable prompt?", ["yes", "no"]), note()],
        metadata=[_terms("prompt_id"), _terms("origin")],
        embed_text=col("prompt"),
        guidelines="Keep prompts that invite an opinionated but safe answer.",
    )


# -- anything else -----------------------------------------------------------------------------

ENVELOPE = {"record_id", "license", "lang", "split", "parallel_id", "created_at", "source", "provenance", "review"}


def generic_spec(frame: pl.DataFrame) -> ReviewSpec:
    texts = [c for c, t in frame.schema.items() if t == pl.String and c not in ENVELOPE][:8]
    if not texts:
        texts = [c for c in frame.columns if c not in ENVELOPE][:1]

    def show(c: str) -> Callable[[Row], str | None]:
        return lambda r: None if r.get(c) is None else (r[c] if isinstance(r[c], str) else json.dumps(r[c], default=str))

    return ReviewSpec(
        "Record",
        fields=[Field(c, c, show(c), required=False) for c in texts],
        questions=[Question("accept", "label", "Keep this record?", ["accept", "reject"]), note()],
        embed_text=show(texts[0]) if texts else None,
        guidelines="Accept records that are correct and fit the dataset; reject the others.",
    )


SPECS: dict[tuple[str, str], Callable[[pl.DataFrame], ReviewSpec]] = {
    ("personality", "respondents"): respondent_spec,
    ("personality", "items"): inventory_item_spec,
    ("expand", "items"): inventory_item_spec,
    ("expand", "scenarios"): scenario_spec,
    ("values", "questions"): survey_question_spec,
    ("values", "distributions"): distribution_spec,
    ("norms", "situations"): situation_spec,
    ("norms", "threads"): thread_spec,
    ("translate", "translations"): translation_spec,
    ("translate", "originals"): story_spec,
    ("preferences", "pairs"): pair_spec,
    ("preferences", "personas"): persona_spec,
    ("preferences", "prompts"): prompt_spec,
}


def spec_for(recipe: str | None, config: str, frame: pl.DataFrame) -> ReviewSpec:
    builder = SPECS.get((recipe or "", config), generic_spec)
    spec = builder(frame)
    known = {m.name for m in spec.metadata}
    spec.metadata = [m for m in spec.metadata if _has_columns(frame, m.expr)]
    spec.metadata += [m for m in common_metadata(frame) if m.name not in known]
    spec.metadata.append(Meta(TEXT_LENGTH, "integer", None, "Text length (characters)"))
    taken = {f.name for f in spec.fields} | {q.name for q in spec.questions}
    for m in spec.metadata:  # Argilla wants one name space for fields, questions and metadata
        if m.name in taken:
            m.name = f"{m.name}_meta"
    return spec


def _has_columns(frame: pl.DataFrame, expr: pl.Expr) -> bool:
    return set(expr.meta.root_names()) <= set(frame.columns)


# -- rg.Settings -------------------------------------------------------------------------------


def argilla_question(q: Question, client):
    import argilla as rg

    common = dict(name=q.name, title=q.title, description=q.description, required=q.required, client=client)
    if q.kind == "label":
        return rg.LabelQuestion(labels=q.options, **common)
    if q.kind == "rating":
        return rg.RatingQuestion(values=list(q.options), **common)
    if q.kind == "ranking":
        return rg.RankingQuestion(values=q.options, **common)
    return rg.TextQuestion(use_markdown=False, **common)


def argilla_settings(spec: ReviewSpec, *, min_submitted: int, vector_dims: int | None, client):
    """The `rg.Settings` of a dataset for `spec`; `vector_dims` None: no vector field."""
    import argilla as rg

    meta_types = {"terms": rg.TermsMetadataProperty, "integer": rg.IntegerMetadataProperty, "float": rg.FloatMetadataProperty}
    return rg.Settings(
        fields=[rg.TextField(name=f.name, title=f.title, use_markdown=f.markdown, required=f.required, client=client)
                for f in spec.fields],
        questions=[argilla_question(q, client) for q in spec.questions],
        metadata=[meta_types[m.kind](name=m.name, title=m.title or m.name.replace("_", " "),
                                     visible_for_annotators=not m.hidden, client=client)
                  for m in spec.metadata],
        vectors=[rg.VectorField(name=spec.vector_name, dimensions=vector_dims, _client=client)] if vector_dims else [],
        guidelines=spec.guidelines or None,
        distribution=rg.TaskDistribution(min_submitted=min_submitted),
        allow_extra_metadata=False,
    )
