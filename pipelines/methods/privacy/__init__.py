"""Privacy for text from people: keyed pseudonyms for authors, normalized text, typed masks.

- `step`: keyed pseudonyms, the `privacy` step, the redaction of quarantined raw lines.
- `normalize`: HTML entities, NFKC, invisible controls: the form that is masked and published.
- `engine`: Presidio's analyzer and anonymizer with spaCy NER; placeholders per entity type.
- `recognizers`: our recognizers (Reddit names, obfuscated e-mails, URL secrets, addresses...).
"""

from pipelines.methods.privacy.engine import NER_MODEL, PLACEHOLDERS, Masker, mask_chunk, masker
from pipelines.methods.privacy.normalize import normalize_text
from pipelines.methods.privacy.step import (
    CODE_MODULES,
    KEY_ENV,
    MaskConfig,
    MaskOptions,
    MaskText,
    PrivacyConfig,
    PrivacyOptions,
    Pseudonymize,
    PseudonymKey,
    handle_like,
    mask_columns,
    mask_records,
    mask_text,
    mask_text_answers,
    redact_raw,
)

__all__ = [
    "CODE_MODULES",
    "KEY_ENV",
    "NER_MODEL",
    "PLACEHOLDERS",
    "MaskConfig",
    "MaskOptions",
    "MaskText",
    "Masker",
    "PrivacyConfig",
    "PrivacyOptions",
    "Pseudonymize",
    "PseudonymKey",
    "handle_like",
    "mask_chunk",
    "mask_columns",
    "mask_records",
    "mask_text",
    "mask_text_answers",
    "masker",
    "normalize_text",
    "redact_raw",
]
