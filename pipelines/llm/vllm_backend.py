"""vLLM's offline engine in this process: imported only when the `vllm` package is installed (GPU
machines); the same requests, with guided JSON decoding from the record type's schema."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable

from pipelines.llm.settings import LLMSettings
from pipelines.llm.types import ChatRequest, Completion, Usage
from schemas.errors import CurateError


class VLLMBackend:
    name = "vllm"

    def __init__(self, settings: LLMSettings):
        try:
            import vllm
        except ImportError:
            raise CurateError(
                "backend 'vllm' needs the vllm package (GPU machines: `uv pip install vllm`); "
                "or serve the model with `vllm serve` and use the http backend"
            ) from None
        self.vllm = vllm
        self.settings = settings
        self.model = settings.model
        self.engine = vllm.LLM(model=settings.model, seed=settings.seed)

    def sampling(self, params: dict, schema: dict | None):
        kwargs = {
            "temperature": params.get("temperature", 0.0),
            "top_p": params.get("top_p", 1.0),
            "max_tokens": params.get("max_tokens", 256),
            "seed": params.get("seed"),
        }
        if schema is not None:
            try:  # vLLM >= 0.11 names it structured outputs; earlier versions guided decoding
                from vllm.sampling_params import StructuredOutputsParams

                kwargs["structured_outputs"] = StructuredOutputsParams(json=schema)
            except ImportError:
                from vllm.sampling_params import GuidedDecodingParams

                kwargs["guided_decoding"] = GuidedDecodingParams(json=schema)
        return self.vllm.SamplingParams(**kwargs)

    def run(
        self, items: list[tuple[int, ChatRequest]], on_done: Callable[[int, Completion], None], usage: Usage
    ) -> None:
        groups: dict[tuple, list[tuple[int, ChatRequest]]] = defaultdict(list)
        for index, request in items:
            groups[(request.params, repr(request.schema))].append((index, request))
        for members in groups.values():
            first = members[0][1]
            sampling = self.sampling(first.param_dict(), first.schema)
            outputs = self.engine.chat([r.message_dicts() for _, r in members], sampling, use_tqdm=True)
            for (index, _), out in zip(members, outputs):
                usage.requests += 1
                gen = out.outputs[0]
                on_done(
                    index, Completion(gen.text, len(out.prompt_token_ids or []), len(gen.token_ids), gen.finish_reason)
                )
        usage.guided_decoding = "vllm-structured"
