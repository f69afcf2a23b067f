"""In-process generation with transformers: batches requests itself (left padding, prompts sorted
by length so a batch wastes little padding) on a GPU when there is one, else on the CPU.

Requests are grouped by their sampling parameters (one `generate` call cannot mix them). There is
no guided decoding here: structured output is validated, repaired once, or quarantined.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable

from pipelines.llm.settings import LLMSettings
from pipelines.llm.types import ChatRequest, Completion, Usage
from schemas.errors import CurateError

log = logging.getLogger("curate.llm")


class TransformersBackend:
    name = "transformers"

    def __init__(self, settings: LLMSettings, model=None, tokenizer=None):
        import torch

        self.settings = settings
        self.device = settings.device or ("cuda" if torch.cuda.is_available() else "cpu")
        if model is None or tokenizer is None:
            model, tokenizer = self._load(settings.model)
        self.model_obj = model.to(self.device).eval()
        self.tokenizer = tokenizer
        self.tokenizer.padding_side = "left"  # decoder-only: new tokens follow every prompt's end
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.model = settings.model or getattr(model.config, "name_or_path", "") or "local-model"

    def _load(self, path: str | None):
        from transformers import AutoModelForCausalLM, AutoTokenizer

        if not path:
            raise CurateError("backend 'transformers' needs a model path (CURATE_LLM_MODEL)")
        try:
            tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
            dtype = "bfloat16" if self.device.startswith("cuda") else "float32"
            model = AutoModelForCausalLM.from_pretrained(path, local_files_only=True, dtype=dtype)
        except (OSError, ValueError) as e:
            raise CurateError(f"{path}: cannot load a local transformers model: {str(e).splitlines()[0]}") from None
        return model, tokenizer

    def prompt_text(self, request: ChatRequest) -> str:
        messages = request.message_dicts()
        if getattr(self.tokenizer, "chat_template", None):
            return self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        return "".join(f"{m['role']}: {m['content']}\n\n" for m in messages) + "assistant:"

    def run(
        self, items: list[tuple[int, ChatRequest]], on_done: Callable[[int, Completion], None], usage: Usage
    ) -> None:
        groups: dict[tuple, list[tuple[int, str]]] = defaultdict(list)
        for index, request in items:
            groups[request.params].append((index, self.prompt_text(request)))
        for params, members in groups.items():
            members.sort(key=lambda m: len(m[1]))
            size = self.settings.batch_size
            for start in range(0, len(members), size):
                batch = members[start : start + size]
                for index, completion in zip((i for i, _ in batch), self.generate([t for _, t in batch], dict(params))):
                    usage.requests += 1
                    on_done(index, completion)
        usage.guided_decoding = "none"

    def generate(self, texts: list[str], params: dict) -> list[Completion]:
        import torch

        enc = self.tokenizer(texts, return_tensors="pt", padding=True).to(self.device)
        temperature = float(params.get("temperature", 0.0))
        kwargs = {
            "max_new_tokens": int(params.get("max_tokens", 256)),
            "pad_token_id": self.tokenizer.pad_token_id,
            "do_sample": temperature > 0,
        }
        if temperature > 0:
            kwargs.update(temperature=temperature, top_p=float(params.get("top_p", 1.0)))
            torch.manual_seed(int(params.get("seed", 0)))  # per batch: reproducible for the same batches
        with torch.inference_mode():
            out = self.model_obj.generate(**enc, **kwargs)
        new = out[:, enc["input_ids"].shape[1] :]
        prompt_lens = enc["attention_mask"].sum(dim=1).tolist()
        results = []
        for row, n_prompt in zip(new, prompt_lens):
            n_new = _generated_length(row, self.tokenizer.eos_token_id, self.tokenizer.pad_token_id)
            text = self.tokenizer.decode(row[:n_new], skip_special_tokens=True)
            finish = "length" if n_new == row.shape[0] else "stop"
            results.append(Completion(text, int(n_prompt), int(n_new), finish))
        return results


def _generated_length(row, eos_id, pad_id) -> int:
    """Tokens up to the first end-of-sequence (or padding after it)."""
    stops = {t for t in (eos_id, pad_id) if t is not None}
    for i, token in enumerate(row.tolist()):
        if token in stops:
            return i
    return int(row.shape[0])
