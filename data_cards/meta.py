"""What a card says beyond the measured facts: a recipe's own metadata and sections."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class CardSection:
    title: str
    body: str  # markdown


@dataclass
class CardMeta:
    pretty_name: str
    license: str
    languages: list[str]
    task_categories: list[str]
    tags: list[str] = field(default_factory=list)
    source_datasets: list[str] = field(default_factory=list)
    summary: str = ""
    citation: str = ""
    limitations: list[str] = field(default_factory=list)
    personal_information: str = ""
    fields: dict[str, dict[str, str]] = field(default_factory=dict)  # config -> column -> description
    columns: dict[str, str] = field(default_factory=dict)  # column -> description in any config (`fields` wins)
