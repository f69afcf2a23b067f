"""Every recipe keeps its contract (its folder's recipe.yaml, `pipelines.engine.contract`), checked by
the base class: driven by the registry, so a recipe added as a folder is held to it too; and each way
of breaking it is refused with one line naming the recipe and what is missing."""

from __future__ import annotations

import os
import subprocess
import sys

import polars as pl
import pytest

from pipelines.engine.contract import RecipeContractError, check_output, read_contract
from pipelines.engine.recipe_folders import available
from pipelines.recipes import get_recipe
from schemas.errors import InputFileError
from tests.conftest import REPO

RECIPE = """
from pipelines.recipes import Recipe, RecipeConfig, RecipeOutput


class Toy(Recipe):
{body}

RECIPE = Toy()
"""
BUILD = "    def build(self, ctx, inputs, config):\n        return None\n"
CONTRACT = "description: toy\noutputs:\n  rows: row_id\ninputs:\n  '*.csv': [text]\n"


@pytest.mark.parametrize("name", list(available()))
def test_each_recipe_keeps_its_contract(name):
    recipe = get_recipe(name)
    contract = read_contract(available()[name])
    assert recipe.name == contract.name == name and recipe.description == contract.description
    assert recipe.uses_llm == contract.uses_llm and recipe.needs_pseudonym_key == contract.needs_pseudonym_key
    assert recipe.hub.split_keys == contract.split_keys() and set(recipe.hub.class_labels) <= set(contract.outputs)


@pytest.fixture
def toy(tmp_path, monkeypatch):
    """A recipe folder on CURATE_RECIPE_PATH, written from (class body, recipe.yaml text)."""
    made = []

    def make(body: str = BUILD, contract: str | None = CONTRACT, name: str = "toy"):
        folder = tmp_path / f"r{len(made)}" / name
        folder.mkdir(parents=True)
        (folder / "__init__.py").write_text(RECIPE.format(body=body))
        if contract is not None:
            (folder / "recipe.yaml").write_text(contract)
        monkeypatch.setenv("CURATE_RECIPE_PATH", str(folder.parent))
        made.append(name)
        return folder

    yield make
    for name in made:
        sys.modules.pop(f"curate_recipes.{name}", None)


@pytest.mark.parametrize(
    ("body", "contract", "says"),
    [
        (BUILD, None, r"recipe toy: .*recipe.yaml is missing"),
        (BUILD, "description: toy\n", "recipe toy: .*recipe.yaml: outputs: Field required"),
        (BUILD, "outputs: {rows: row_id}\n", "recipe toy: .*recipe.yaml: description: Field required"),
        (BUILD, "description: toy\noutputs: {}\n", "recipe toy: .*outputs: .*at least 1"),
        (BUILD, "description: toy\noutputs: {rows: []}\n", "recipe toy: .*outputs: 'rows': a column, a list"),
        (BUILD, "name: other\ndescription: toy\noutputs: {rows: reference}\n", "names it 'other'"),
        (BUILD, CONTRACT + "colour: red\n", "recipe toy: .*colour: Extra inputs are not permitted"),
        ('    name = "toy"\n' + BUILD, CONTRACT, "recipe class Toy sets name: .* recipe.yaml"),
        ("    uses_llm = True\n" + BUILD, CONTRACT, "recipe class Toy sets uses_llm"),
        ("    pass\n", CONTRACT, "recipe toy: Toy does not implement build"),
        ("    Config = dict\n" + BUILD, CONTRACT, "recipe toy: its Config must be a RecipeConfig subclass"),
        (
            "    from data_cards.hub import HubSpec\n    hub = HubSpec(class_labels={'other': {'x': ['a']}})\n" + BUILD,
            CONTRACT,
            "recipe toy: ClassLabel columns for other, which recipe.yaml does not declare",
        ),
        (
            "    from data_cards.hub import HubSpec\n    hub = HubSpec(split_keys={'rows': 'x'})\n" + BUILD,
            CONTRACT,
            "recipe toy: its HubSpec's split keys differ from recipe.yaml outputs",
        ),
    ],
)
def test_a_recipe_breaking_its_contract_is_refused_in_one_line(toy, body, contract, says):
    toy(body, contract)
    with pytest.raises(RecipeContractError, match=says) as e:
        get_recipe("toy")
    assert "\n" not in str(e.value)


def test_the_input_columns_of_the_contract_are_checked_before_any_work(toy, tmp_path):
    toy()
    recipe = get_recipe("toy")
    good, bad, other = tmp_path / "good.csv", tmp_path / "bad.csv", tmp_path / "notes.txt"
    good.write_text("id,Text\n1,a\n")  # names match ignoring case, as the readers match them
    bad.write_text("id,body\n1,a\n")
    other.write_text("anything")  # no pattern matches it: nothing asked of it
    recipe.check([good, other], recipe.Config())
    with pytest.raises(InputFileError, match=r"bad.csv: has no column 'text' \(recipe toy reads text from \*.csv\)"):
        recipe.check([good, bad], recipe.Config())


def test_the_tables_built_are_the_declared_configs_with_their_split_keys():
    contract = read_contract(available()["values"])
    keys = {c: pl.DataFrame({"survey": ["s"], "var_name": ["q"]}) for c in contract.outputs}
    check_output(contract, keys)
    with pytest.raises(RecipeContractError, match=r"recipe values: .*declared but not built: questions"):
        check_output(contract, {"distributions": keys["distributions"]})
    with pytest.raises(RecipeContractError, match=r"built but not declared: extra"):
        check_output(contract, {**keys, "extra": keys["questions"]})
    with pytest.raises(RecipeContractError, match=r"config questions has no column var_name, its split key"):
        check_output(contract, {**keys, "questions": pl.DataFrame({"survey": ["s"]})})


def test_curate_recipes_lists_every_recipe_without_importing_recipe_code(toy):
    folder = toy()
    code = (
        "import sys\nfrom typer.testing import CliRunner\nfrom pipelines.cli.main import app\n"
        "out = CliRunner().invoke(app, ['recipes']).output\n"
        "print(out)\nprint('IMPORTED', sorted(m for m in sys.modules if m.startswith(('pipelines.recipes.', "
        "'curate_recipes.'))))\n"
    )
    env = {**os.environ, "CURATE_RECIPE_PATH": str(folder.parent), "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120, cwd=REPO)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    listed = {line.split()[0]: line.split(None, 1)[1] for line in lines if line.strip() and not line.startswith("IMP")}
    assert listed == {name: read_contract(f).description for name, f in available().items()}
    assert listed["toy"] == "toy" and "values" in listed
    assert lines[-1] == "IMPORTED []"


COLUMN_RECIPE = """
    def build(self, ctx, inputs, config):
        import polars as pl
        from pipelines.recipes import CardMeta, RecipeOutput

        frame = pl.read_csv(inputs[0]).select("text")  # a column the contract does not declare
        return RecipeOutput({"rows": frame}, CardMeta("t", "unknown", ["en"], ["other"]))
"""


def test_a_column_the_code_reads_and_the_input_lacks_is_one_line(toy, tmp_path):
    """Not declared in `inputs`, a missing column still stops the run with one line naming the recipe
    and the column (the flow holds every recipe's build to it), not a polars traceback."""
    from pipelines.engine.request import RunRequest
    from pipelines.flows.run import run_recipe

    toy(COLUMN_RECIPE, "description: toy\noutputs:\n  rows: reference\n")
    data = tmp_path / "in.csv"
    data.write_text("id,body\n1,a\n")
    state = run_recipe.fn(RunRequest(recipe="toy", inputs=(str(data),), output=str(tmp_path / "out"), no_cache=True))
    message = state.message
    assert "\n" not in message and message.startswith("recipe toy: a column it reads is missing from its input:")
    assert '"text"' in message or "text" in message.split(":", 2)[2]
