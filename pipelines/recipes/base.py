"""What a recipe is: a name, a typed configuration, steps that turn input files into published
tables, the card's facts, the review of each config, and demo inputs, all in one folder
`pipelines/recipes/<name>/` (see `pipelines.recipes` for how folders are found).

The runtime (`pipelines.engine.runtime.RunContext`) does the wiring every recipe shares: it hashes the
input files once (`ctx.read`), hands each step what it needs (`Step.setup`), records each step's
provenance as it runs (`ctx.provenance`), and `Recipe.llm_client` turns "no model configured" into
one note in the report and the card.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import polars as pl
from pydantic import BaseModel, model_validator

from data_cards.hub import HubSpec, SplitOptions
from data_cards.meta import CardMeta, CardSection
from schemas.errors import CurateError


class RecipeConfig(BaseModel):
    """Options every recipe has. A recipe's `Config` adds its own and inherits its steps' option
    models (`StepOptions`), so each option is declared once, in the step that uses it."""

    model_config = {"extra": "forbid", "frozen": True}

    license: str = "unknown"  # a Hub license id for the card; the data's own license, not ours
    license_name: str | None = None  # with license: other, the license's name
    dataset_name: str | None = None
    citation: str | None = None  # how to cite this dataset (the card adds the sources' own citations)
    splits: SplitOptions | None = None  # train/validation/test fractions and grouping keys (data_cards/hub.py)

    @model_validator(mode="after")
    def _hub_license(self):  # checked at load time, so a bad license fails before any work
        from data_cards.licenses import check_license

        object.__setattr__(self, "license", check_license(self.license, self.license_name))  # frozen model
        return self


@dataclass
class RecipeOutput:
    tables: dict[str, pl.DataFrame]  # config name -> records
    card: CardMeta
    sections: list[CardSection] = field(default_factory=list)  # recipe-specific measured facts
    plots: list = field(default_factory=list)  # data_cards.plots.Plot specs, drawn with the card


class Recipe:
    """Base of every recipe. A subclass sets `name`, `description`, `Config`, `demo_inputs` and `hub`,
    and implements `build`; `check_inputs` rejects wrong files before the run starts. The review of each
    config is `SPECS` in the folder's review.py."""

    name: ClassVar[str]
    description: ClassVar[str]
    Config: ClassVar[type[RecipeConfig]] = RecipeConfig
    # demo inputs, relative to the samples folder: globs (a tuple of globs: their files sorted together);
    # the demo's config is <samples>/<name>/config.yaml when there is one
    demo_inputs: ClassVar[tuple[str | tuple[str, ...], ...]] = ()
    # how the published folder is cut and typed (split keys, ClassLabels, creators), from its card.py
    hub: ClassVar[HubSpec] = HubSpec()
    # its output changes with CURATE_PSEUDONYM_KEY (author pseudonyms): a schedule without a persistent key is refused
    needs_pseudonym_key: ClassVar[bool] = False
    # it has LLM steps (it calls `llm_client`): `curate run`/`demo` start the embedded engine for it when no
    # endpoint is configured
    uses_llm: ClassVar[bool] = False

    def check_inputs(self, inputs: list[Path], config: RecipeConfig) -> None:
        """Reject a wrong file before the run starts, naming the file (default: accept)."""

    def build(self, ctx, inputs: list[Path], config: RecipeConfig) -> RecipeOutput:  # pragma: no cover
        raise NotImplementedError

    def review_specs(self) -> dict[str, Callable[[pl.DataFrame], Any]]:
        """Config name -> a function of the config's records that returns its review spec
        (`schemas.review`): `SPECS` of the recipe folder's review.py; none without one."""
        package = sys.modules[type(self).__module__].__package__
        try:
            module = importlib.import_module(f"{package}.review")
        except ModuleNotFoundError as e:
            if e.name == f"{package}.review":
                return {}
            raise
        return dict(getattr(module, "SPECS", {}))

    def guidelines(self, record_type: str) -> str | None:
        """Reviewers' Markdown guidelines with examples for `record_type`: the recipe folder's
        `guidelines/<RecordType>.md` (None without one: the spec's own one-line guideline stays)."""
        path = Path(sys.modules[type(self).__module__].__file__).parent / "guidelines" / f"{record_type}.md"
        return path.read_text() if path.is_file() else None

    def review_context(self, dataset_dir: Path, config: str, frame: pl.DataFrame) -> pl.DataFrame:
        """Columns reviewers of `config` need from other configs of the same run folder, for display
        only (default: none)."""
        return frame

    def demo_run(self, samples: Path) -> tuple[list[Path], Path | None]:
        """The demo's input files (globbed, sorted per entry of `demo_inputs`) and config under `samples`."""
        files: list[Path] = []
        for entry in self.demo_inputs:
            patterns = (entry,) if isinstance(entry, str) else entry
            files += sorted({match for pattern in patterns for match in samples.glob(pattern)})
        config = samples / self.name / "config.yaml"
        return files, (config if config.is_file() else None)

    def llm_client(self, ctx, settings, *, steps: tuple[str, ...], missing: str, published: str):
        """(the run's LLM client for these steps, "") or (None, why not) after one note in the
        report and the card that says which steps were skipped, why, and what is published without
        them. The client is also the run's (`ctx.llm`), which steps that need it are given."""
        from pipelines.llm.step import client_for

        if not self.uses_llm:  # else the embedded engine would not have been started for it
            raise CurateError(f"recipe {self.name!r} asks for an LLM client but does not declare `uses_llm = True`")
        client, reason = client_for(ctx, settings)
        if client is None:
            names = " and ".join(steps)
            which = f"step {names} was" if len(steps) == 1 else f"steps {names} were"
            ctx.report.notes.append(f"No {missing}: the LLM {which} skipped because {reason}. {published}")
            return None, reason
        ctx.llm = client
        return client, ""


def read_columns(path: Path) -> dict[str, str]:
    """A recipe folder's `columns.yaml`: column -> description, for the card (`CardMeta.columns`)."""
    import yaml

    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return {str(k): str(v) for k, v in data.items()}


def options_of(config: BaseModel, options: type[BaseModel], **extra: Any) -> dict[str, Any]:
    """The recipe config's values of the fields `options` (a step's config) declares, plus `extra`
    (what comes from the inputs or the run rather than from the user)."""
    own = {name: getattr(config, name) for name in options.model_fields if hasattr(config, name) and name not in extra}
    return {**own, **extra}


def step_options(config: BaseModel, options: type[BaseModel], **extra: Any) -> Any:
    """`options` (a step's config) from the recipe config's fields of the same names, plus `extra`."""
    return options(**options_of(config, options, **extra))
