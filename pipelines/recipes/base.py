"""What a recipe is: a name, a typed configuration, steps that turn input files into published
tables, the card's facts, the review of each config, and demo inputs, all in one folder
`pipelines/recipes/<name>/` (see `pipelines.recipes` for how folders are found).

The runtime (`pipelines.engine.runtime.RunContext`) does the wiring every recipe shares: it hashes the
input files once (`ctx.read`), hands each step what it needs (`Step.setup`), records each step's
provenance as it runs (`ctx.provenance`), and `Recipe.llm_client` turns "no model configured" into
one note in the report and the card.
"""

from __future__ import annotations

import dataclasses
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
from pipelines.engine.contract import (
    RecipeContractError,
    check_input_columns,
    check_output,
    check_recipe,
    read_contract,
)
from schemas.errors import CurateError

CONTRACT_FIELDS = ("name", "description", "uses_llm", "needs_pseudonym_key")


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
    """Base of every recipe. The folder's `recipe.yaml` is its contract (`pipelines.engine.contract`):
    name (the folder's), description, whether it uses an LLM or the pseudonym key, the configs it
    publishes with their split keys, the columns its inputs must have; the base reads and checks it when
    the recipe is made, so a recipe that breaks it is refused with one line. A subclass sets `Config`,
    `demo_inputs` and `hub` (ClassLabels, creators), and implements `build`; `check_inputs` rejects wrong
    files before the run starts. The review of each config is `SPECS` in the folder's review.py."""

    Config: ClassVar[type[RecipeConfig]] = RecipeConfig
    # demo inputs, relative to the samples folder: globs (a tuple of globs: their files sorted together);
    # the demo's config is <samples>/<name>/config.yaml when there is one
    demo_inputs: ClassVar[tuple[str | tuple[str, ...], ...]] = ()
    # how the published folder is typed (ClassLabels, creators), from its card.py; the split keys come
    # from the contract's outputs
    hub: HubSpec = HubSpec()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        own = sorted(set(CONTRACT_FIELDS) & set(vars(cls)))
        if own:
            raise RecipeContractError(
                f"recipe class {cls.__name__} sets {', '.join(own)}: they belong in its "
                f"folder's recipe.yaml (the contract), not in the code"
            )

    def __init__(self) -> None:
        folder = Path(sys.modules[type(self).__module__].__file__).resolve().parent
        self.folder = folder
        self.contract = read_contract(folder)
        name = self.contract.name
        if not (isinstance(self.Config, type) and issubclass(self.Config, RecipeConfig)):
            raise RecipeContractError(f"recipe {name}: its Config must be a RecipeConfig subclass")
        if type(self).build is Recipe.build:
            raise RecipeContractError(f"recipe {name}: {type(self).__name__} does not implement build")
        spec = type(self).hub
        if spec.split_keys and spec.split_keys != self.contract.split_keys():
            raise RecipeContractError(
                f"recipe {name}: its HubSpec's split keys differ from recipe.yaml outputs; "
                "declare them in recipe.yaml only"
            )
        check_recipe(self.contract, spec.class_labels)
        self.hub = dataclasses.replace(spec, split_keys=self.contract.split_keys())

    @property
    def name(self) -> str:
        return self.contract.name

    @property
    def description(self) -> str:
        return self.contract.description

    @property
    def uses_llm(self) -> bool:
        """It has LLM steps (it calls `llm_client`): `curate run`/`demo` start the embedded engine for it
        when no endpoint is configured."""
        return self.contract.uses_llm

    @property
    def needs_pseudonym_key(self) -> bool:
        """Its output changes with CURATE_PSEUDONYM_KEY: a schedule without a persistent key is refused."""
        return self.contract.needs_pseudonym_key

    def check(self, inputs: list[Path], config: RecipeConfig) -> None:
        """Every check before the run: the contract's input columns, then the recipe's own `check_inputs`."""
        check_input_columns(self.contract, inputs)
        self.check_inputs(inputs, config)

    def check_output(self, output: RecipeOutput) -> None:
        """After `build`: the tables are the contract's configs, each with its split key columns."""
        check_output(self.contract, output.tables)

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
        """The demo's input files (globbed, sorted per entry of `demo_inputs`) and config: in the recipe
        folder's own `samples/` when it has one, else under `samples` (the shipped `sources/samples/`,
        whose `<name>/config.yaml` is the config)."""
        own = self.folder / "samples"
        root, config = (own, own / "config.yaml") if own.is_dir() else (samples, samples / self.name / "config.yaml")
        files: list[Path] = []
        for entry in self.demo_inputs:
            patterns = (entry,) if isinstance(entry, str) else entry
            files += sorted({match for pattern in patterns for match in root.glob(pattern)})
        return files, (config if config.is_file() else None)

    def llm_client(self, ctx, settings, *, steps: tuple[str, ...], missing: str, published: str):
        """(the run's LLM client for these steps, "") or (None, why not) after one note in the
        report and the card that says which steps were skipped, why, and what is published without
        them. The client is also the run's (`ctx.llm`), which steps that need it are given."""
        from pipelines.llm.step import client_for

        if not self.uses_llm:  # else the embedded engine would not have been started for it
            raise CurateError(
                f"recipe {self.name!r} asks for an LLM client but its recipe.yaml does not say `uses_llm: true`"
            )
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
