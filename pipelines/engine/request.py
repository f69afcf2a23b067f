"""One run's options, from the command line, the flow and the schedule alike."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field, field_validator

from pipelines.engine.redaction import conceal


class RunRequest(BaseModel):
    """What to run and how: frozen, so that nothing on the way can change it; passed whole from
    `curate run`/`curate demo` and schedules to the `curate-run` flow (a Prefect parameter)."""

    model_config = {"frozen": True, "extra": "forbid"}

    recipe: str
    inputs: tuple[str, ...]
    output: str
    config_path: str | None = None
    overrides: dict[str, Any] = Field(default_factory=dict)  # recipe options over the config file's (`--set`)
    cache_dir: str | None = None
    no_cache: bool = False
    dask_address: str | None = None
    allow_existing: bool = False  # write into an existing folder curate did not write (`--allow-existing`)
    lock_timeout: float = Field(default=0.0, ge=0)  # seconds to wait for another run on the output folder
    # the terms (license, dataset_name, ...) of the latest version of the repository the run publishes
    # to, for the options the config does not set (`pipelines.engine.publish.PublishPlan`), and that version
    inherited: dict[str, Any] = Field(default_factory=dict)
    inherited_from: str | None = None

    @field_validator("dask_address", mode="before")
    @classmethod
    def _concealed(cls, value: Any) -> Any:
        """Credentials in the address never travel in the request (it is a Prefect parameter, kept in
        Prefect's database): redacted here, revealed only to connect (`pipelines.engine.redaction`)."""
        return conceal(value) if isinstance(value, str) else value
