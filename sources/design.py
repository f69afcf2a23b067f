"""The `design:` section of a codebook, as declared: strata, PSUs and a finite population
correction, or replicate weights (BRR, Fay, jackknife, bootstrap) with their coefficients. The
estimator that uses them is `pipelines/methods/survey_design.py`; the declaration is data about the source,
so it lives with the codebook (sources must not import the pipelines)."""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator


class Replicates(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    method: Literal["brr", "fay", "jackknife", "bootstrap"]
    columns: list[str] = []  # the replicate weight columns, or
    prefix: str | None = None  # every column starting with it, in the file's order
    fay: float = Field(0.0, ge=0, lt=1)  # Fay's rho (method fay; BRR is rho = 0)
    coefficients: list[float] | None = None  # c_r, one per replicate (e.g. JKn's (n_h - 1)/n_h)
    mse: bool = False  # centre on the full-sample estimate instead of the replicates' mean
    df: int | None = None  # degrees of freedom of the interval (default: R/2 for BRR/Fay, else R - 1)

    @model_validator(mode="after")
    def _given(self) -> Replicates:
        if not self.columns and not self.prefix:
            raise ValueError("replicates: give `columns` or `prefix`")
        if self.method == "fay" and not self.fay:
            raise ValueError("replicates: method fay needs `fay` (rho, e.g. 0.5)")
        return self

    def coefs(self, r: int) -> np.ndarray:
        if self.coefficients is not None:
            if len(self.coefficients) != r:
                raise ValueError(f"{len(self.coefficients)} replicate coefficients for {r} replicates")
            return np.asarray(self.coefficients, dtype=np.float64)
        if self.method in ("brr", "fay"):
            return np.full(r, 1 / (r * (1 - self.fay) ** 2))
        if self.method == "jackknife":
            return np.full(r, (r - 1) / r)
        return np.full(r, 1 / r)

    def degrees_of_freedom(self, r: int) -> int:
        if self.df is not None:
            return self.df
        return r // 2 if self.method in ("brr", "fay") else r - 1


LONELY_PSU = ("fail", "skip", "adjust", "certainty", "combine")


class Design(BaseModel):
    """The `design:` section of a codebook (column names lower-cased). `lonely_psu`: what a stratum
    with one PSU does to the variance, as R's `options(survey.lonely.psu)` and samplics' `single_psu`
    name it: `fail` (the default of both: the run stops naming the stratum), `skip` (it contributes
    nothing: samplics' skip), `adjust` (its PSU is centred at the population mean rather than the
    stratum's: R's adjust), `certainty` (its respondents are its units: samplics' certainty without
    second-stage units), `combine` (strata merged as `combine_strata` maps them: samplics' combine)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    strata: str | None = None
    psu: str | None = None
    fpc: str | None = None  # population PSUs per stratum (> 1), or the sampling fraction (<= 1)
    replicates: Replicates | None = None
    lonely_psu: Literal["fail", "skip", "adjust", "certainty", "combine"] = "fail"
    combine_strata: dict[str, str] | None = None  # stratum value -> the stratum it joins (lonely_psu: combine)

    @model_validator(mode="before")
    @classmethod
    def _stratum_names(cls, data):  # stratum values are compared as text (a YAML 3 is the file's "3")
        if isinstance(data, dict) and isinstance(data.get("combine_strata"), dict):
            data = {**data, "combine_strata": {str(k): str(v) for k, v in data["combine_strata"].items()}}
        return data

    @model_validator(mode="after")
    def _one_kind(self) -> Design:
        if self.replicates and (self.strata or self.psu or self.fpc):
            raise ValueError("design: declare strata/psu/fpc or replicate weights, not both")
        if not (self.replicates or self.strata or self.psu):
            raise ValueError("design: declare strata and/or psu, or replicates")
        if self.lonely_psu == "combine" and not self.combine_strata:
            raise ValueError("design: lonely_psu combine needs combine_strata (stratum: the stratum it joins)")
        if self.combine_strata and self.lonely_psu != "combine":
            raise ValueError("design: combine_strata is for lonely_psu: combine")
        return self

    def describe(self) -> str:
        if self.replicates:
            r = self.replicates
            kind = {
                "brr": "BRR",
                "fay": f"Fay's BRR (rho {r.fay})",
                "jackknife": "jackknife",
                "bootstrap": "bootstrap",
            }[r.method]
            return f"{kind} replicate weights" + (" (MSE form)" if r.mse else "")
        parts = [
            f"strata `{self.strata}`" if self.strata else None,
            f"PSUs `{self.psu}`" if self.psu else None,
            f"finite population correction `{self.fpc}`" if self.fpc else None,
        ]
        return "Taylor linearization with " + ", ".join(p for p in parts if p)
