"""Figures for the data card, drawn from the run's report and its tables (PNG, linked from the card).

A recipe asks for figures with `Plot` specs (a title and the data to draw); this module draws them,
so every card's figures look alike and no recipe needs matplotlib code of its own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

PLOTS_DIR = "plots"


@dataclass
class Plot:
    name: str  # file stem
    title: str
    kind: str  # "bars" (label -> count), "hist" (series name -> values), "stacked" (bar -> {part: count})
    data: dict = field(default_factory=dict)
    xlabel: str = ""


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # no display; must precede pyplot's import
    import matplotlib.pyplot as plt

    return plt


def funnel_plot(report: dict) -> Plot:
    """Each step's input split into kept, dropped by each reason and quarantined: where rows went and why."""
    data = {}
    for s in report["steps"]:
        parts = {
            "kept": s["kept"],
            **{f"dropped: {r}": n for r, n in s["dropped"].items()},
            "quarantined": s["quarantined"],
        }
        data[_step_label(s)] = {k: v for k, v in parts.items() if v}
    return Plot("funnel", "Rows through each step: kept, dropped (by reason), quarantined", "stacked", data, "rows")


def _step_label(step: dict) -> str:
    unit = step.get("extra", {}).get("unit")
    return f"{step['name']} ({unit.split(' (')[0]})" if unit else step["name"]


def language_plots(tables: dict[str, pl.DataFrame]) -> list[Plot]:
    """One figure per config (a sum over configs counts the same text once per config it is in)."""
    plots = []
    for name, frame in tables.items():
        if "lang" in frame.columns and frame.height:
            counts = {lang or "unknown": n for lang, n in frame.group_by("lang").len().sort("lang").iter_rows()}
            plots.append(Plot(f"languages_{name}", f"Records per language, config {name}", "bars", counts))
    return plots


def split_plot(tables: dict[str, pl.DataFrame]) -> Plot | None:
    data = {}
    for name, frame in tables.items():
        if "split" in frame.columns and frame.height:
            data[name] = {s: n for s, n in frame.group_by("split").len().sort("split").iter_rows()}
    return Plot("splits", "Rows per split and config", "stacked", data, "rows") if data else None


def draw(plot: Plot, out_dir: Path) -> dict[str, str]:
    plt = _pyplot()
    if plot.kind == "hist" and len(plot.data) > 1:
        return _small_multiples(plt, plot, out_dir)
    fig, ax = plt.subplots(figsize=(7, 3.6), dpi=110)
    if plot.kind == "stacked":  # bar label -> {part: count}, parts stacked left to right
        names = list(plot.data)
        parts = list(dict.fromkeys(k for v in plot.data.values() for k in v))
        fig.set_size_inches(7, 1.6 + 0.45 * len(names) + 0.25 * ((len(parts) + 1) // 2))
        cmap = plt.get_cmap("tab20")
        left = [0] * len(names)
        y = list(range(len(names)))
        for i, part in enumerate(parts):
            widths = [plot.data[n].get(part, 0) for n in names]
            color = "#3b6ea8" if part == "kept" else "#b0b0b0" if part == "quarantined" else cmap(i % 20)
            ax.barh(y, widths, left=left, color=color, label=part)
            left = [a + b for a, b in zip(left, widths)]
        ax.set_yticks(y, names)
        ax.invert_yaxis()
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.25), ncol=2, frameon=False, fontsize=8)
    elif plot.kind == "bars":
        labels = [str(k) for k in plot.data]
        ax.bar(labels, list(plot.data.values()), color="#3b6ea8")
        ax.tick_params(axis="x", rotation=30 if len(labels) > 6 else 0)
        ax.set_ylabel("count")
    elif plot.kind == "hist":
        for name, values in plot.data.items():
            counts, edges = _binned(values, 30)
            ax.stairs(counts, edges, fill=True, alpha=0.55, label=str(name))
        if len(plot.data) > 1:
            ax.legend(fontsize=8, ncol=min(5, len(plot.data)))
        ax.set_ylabel("count")
    else:
        raise ValueError(f"unknown plot kind {plot.kind!r}")
    ax.set_title(plot.title)
    if plot.xlabel:
        ax.set_xlabel(plot.xlabel)
    return _save(plt, fig, plot, out_dir)


def _small_multiples(plt, plot: Plot, out_dir: Path) -> dict[str, str]:
    """One panel per series on a shared axis: overlaid histograms of five series are unreadable."""
    n = len(plot.data)
    fig, axes = plt.subplots(1, n, figsize=(min(2.2 * n, 12), 2.8), dpi=110, sharex=True, sharey=True)
    for ax, (name, values) in zip(axes, plot.data.items()):
        counts, edges = _binned(values, 20)
        ax.stairs(counts, edges, fill=True, color="#3b6ea8")
        ax.set_title(str(name), fontsize=10)
        if plot.xlabel:
            ax.set_xlabel(plot.xlabel, fontsize=8)
    axes[0].set_ylabel("count")
    fig.suptitle(plot.title)
    return _save(plt, fig, plot, out_dir)


def _binned(values, bins: int):
    """Histogram counts with numpy: matplotlib's own `hist` walks Python lists, seconds per 100k."""
    import numpy as np

    arr = np.asarray([np.nan if v is None else v for v in values] if isinstance(values, list) else values, dtype=float)
    arr = arr[~np.isnan(arr)]
    return np.histogram(arr, bins=bins) if arr.size else (np.zeros(bins), np.linspace(0, 1, bins + 1))


def _save(plt, fig, plot: Plot, out_dir: Path) -> dict[str, str]:
    fig.tight_layout()
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{plot.name}.png"
    fig.savefig(path)
    plt.close(fig)
    return {"title": plot.title, "path": f"{PLOTS_DIR}/{path.name}"}


def draw_all(plots: list[Plot], out_dir: Path, cache_dir: Path | None = None) -> list[dict[str, str]]:
    """Draw each plot into `out_dir`; with `cache_dir`, a figure drawn before from the same data is
    copied from there (a rerun after a crash, or a scheduled run over unchanged data, does not pay
    matplotlib's import and drawing again)."""
    return [_draw_cached(p, out_dir, cache_dir) if cache_dir else draw(p, out_dir) for p in plots]


def plot_digest(plot: Plot) -> str:
    """A hash of everything a figure is drawn from (the spec, the data, this module's code)."""
    import hashlib

    import numpy as np

    h = hashlib.blake2b(digest_size=16)
    h.update(Path(__file__).read_bytes())
    h.update(repr((plot.name, plot.title, plot.kind, plot.xlabel)).encode())
    for key, value in plot.data.items():
        h.update(repr(key).encode())
        if isinstance(value, (np.ndarray, pl.Series)):
            arr = value.to_numpy() if isinstance(value, pl.Series) else value
            h.update(str(arr.dtype).encode() + np.ascontiguousarray(arr).tobytes())
        else:
            h.update(repr(value).encode())
    return h.hexdigest()


def _draw_cached(plot: Plot, out_dir: Path, cache_dir: Path) -> dict[str, str]:
    import os
    import shutil

    cached = cache_dir / f"{plot_digest(plot)}.png"
    target = out_dir / f"{plot.name}.png"
    if cached.exists():
        out_dir.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(cached, target)
        return {"title": plot.title, "path": f"{PLOTS_DIR}/{target.name}"}
    entry = draw(plot, out_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = cached.with_suffix(f".{os.getpid()}.tmp")
    try:
        shutil.copyfile(target, tmp)
    except BaseException:  # out of space: no half PNG left in the cache (the caller says so in one line)
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, cached)  # whole files only: two runs sharing the cache never see half a PNG
    return entry
