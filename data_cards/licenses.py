"""The license of a dataset, as the Hub takes it: a Hub license id, or `other` with its name."""

from __future__ import annotations

# The license ids the Hugging Face Hub accepts in a card's `license:` (huggingface.co/docs/hub/
# repositories-licenses); any other license is `other` with its name in `license_name`.
HUB_LICENSES = frozenset(
    """
apache-2.0 mit openrail bigscience-openrail-m creativeml-openrail-m bigscience-bloom-rail-1.0
bigcode-openrail-m afl-3.0 artistic-2.0 bsl-1.0 bsd bsd-2-clause bsd-3-clause bsd-3-clause-clear
c-uda cc cc0-1.0 cc-by-2.0 cc-by-2.5 cc-by-3.0 cc-by-4.0 cc-by-sa-3.0 cc-by-sa-4.0 cc-by-nc-2.0
cc-by-nc-3.0 cc-by-nc-4.0 cc-by-nd-4.0 cc-by-nc-nd-3.0 cc-by-nc-nd-4.0 cc-by-nc-sa-2.0
cc-by-nc-sa-3.0 cc-by-nc-sa-4.0 cdla-sharing-1.0 cdla-permissive-1.0 cdla-permissive-2.0 wtfpl
ecl-2.0 epl-1.0 epl-2.0 etalab-2.0 eupl-1.1 eupl-1.2 agpl-3.0 gfdl gpl gpl-2.0 gpl-3.0 lgpl
lgpl-2.1 lgpl-3.0 isc h-research intel-research lppl-1.3c ms-pl apple-ascl apple-amlr mpl-2.0
odc-by odbl openrail++ osl-3.0 postgresql ofl-1.1 ncsa unlicense zlib pddl lgpl-lr
deepfloyd-if-license fair-noncommercial-research-license llama2 llama3 llama3.1 llama3.2 llama3.3
llama4 gemma unknown other
""".split()
)
OTHER = "other:"  # a license outside the list, as carried in records: "other:<its name>"


def check_license(license: str, name: str | None = None) -> str:
    """The Hub license id for the card (lower case), or "other:<name>"; ValueError otherwise."""
    value = license.strip().lower()
    if value == "other" or value.startswith(OTHER):
        name = (name or license.strip()[len(OTHER) :]).strip() if value != "other" or name else ""
        if not name or any(c in name for c in "\r\n"):
            raise ValueError("license: other needs the license's name on one line (license_name: NAME)")
        return OTHER + name
    if name:
        raise ValueError(f"license_name is only for license: other (license is {license!r})")
    if value not in HUB_LICENSES:
        raise ValueError(
            f"{license!r} is not a Hugging Face Hub license id (e.g. cc-by-4.0, cc0-1.0, mit, "
            "apache-2.0, unknown); for another license: license: other, license_name: NAME"
        )
    return value
