"""An OpenAI-protocol chat-completions server on 127.0.0.1 whose replies are scripted: for tests,
benchmarks and trying a recipe offline. It speaks the real protocol over real HTTP (uvicorn +
Starlette), so the client under test is the one used against vLLM.

A reply is decided per request: first by the scripted queue (`script(match, replies)`: the next
reply for the next request whose prompt contains `match`), else by the `responder` function.
A `Reply` can be a status (429, 500), a malformed body, a delay (slow replies, timeouts) or content.

    python -m tests.llm_loopback --port 8011 --delay 0.01   # fixed replies, for bench/llm
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import orjson
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route


@dataclass
class Reply:
    content: str | None = "ok"
    status: int = 200
    delay: float = 0.0
    body: bytes | None = None  # sent as is (e.g. malformed JSON), instead of a completion
    headers: dict[str, str] = field(default_factory=dict)
    finish_reason: str = "stop"


Responder = Callable[[dict], "Reply | str"]


def prompt_text(body: dict) -> str:
    return "\n".join(str(m.get("content", "")) for m in body.get("messages", []))


class ScriptedServer:
    def __init__(
        self,
        responder: Responder | None = None,
        model: str = "scripted-model",
        host: str = "127.0.0.1",
        port: int = 0,
        api_key: str | None = None,
    ):
        self.responder = responder or (lambda body: Reply("ok"))
        self.model = model
        self.host, self.port = host, port
        self.api_key = api_key
        self.requests: list[dict] = []  # every request body received, in arrival order
        self.headers: list[dict] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._scripts: list[tuple[str | None, list[Reply]]] = []
        self._ids = itertools.count(1)
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    # -- scripting --------------------------------------------------------------------------------

    def script(self, match: str | None, replies: list[Reply]) -> None:
        """The next len(replies) requests whose prompt contains `match` (any request when None)
        get these replies, in order."""
        self._scripts.append((match, list(replies)))

    def _pick(self, body: dict) -> Reply:
        text = prompt_text(body)
        for match, queue in self._scripts:
            if queue and (match is None or match in text):
                return queue.pop(0)
        reply = self.responder(body)
        return reply if isinstance(reply, Reply) else Reply(str(reply))

    # -- HTTP -------------------------------------------------------------------------------------

    def _denied(self, request: Request) -> Response | None:
        if self.api_key and request.headers.get("authorization") != f"Bearer {self.api_key}":
            return Response(b'{"error": {"message": "invalid api key"}}', 401, media_type="application/json")
        return None

    async def _chat(self, request: Request) -> Response:
        denied = self._denied(request)
        if denied:
            return denied
        body = orjson.loads(await request.body())
        self.requests.append(body)
        self.headers.append(dict(request.headers))
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            reply = self._pick(body)
            if reply.delay:
                await asyncio.sleep(reply.delay)
            if reply.body is not None:
                return Response(reply.body, reply.status, headers=reply.headers, media_type="application/json")
            if reply.status != 200:
                err = orjson.dumps({"error": {"message": reply.content or f"status {reply.status}"}})
                return Response(err, reply.status, headers=reply.headers, media_type="application/json")
            return Response(self._completion(body, reply), 200, headers=reply.headers, media_type="application/json")
        finally:
            self.in_flight -= 1

    def _completion(self, body: dict, reply: Reply) -> bytes:
        prompt_tokens = len(prompt_text(body).split())
        completion_tokens = len((reply.content or "").split())
        return orjson.dumps(
            {
                "id": f"chatcmpl-{next(self._ids)}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body.get("model", self.model),
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": reply.content},
                        "finish_reason": reply.finish_reason,
                    }
                ],
                "usage": {
                    "prompt_tokens": prompt_tokens,
                    "completion_tokens": completion_tokens,
                    "total_tokens": prompt_tokens + completion_tokens,
                },
            }
        )

    async def _models(self, request: Request) -> Response:
        denied = self._denied(request)
        if denied:
            return denied
        return Response(
            orjson.dumps({"object": "list", "data": [{"id": self.model, "object": "model"}]}),
            media_type="application/json",
        )

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/v1/chat/completions", self._chat, methods=["POST"]),
                Route("/v1/models", self._models, methods=["GET"]),
            ]
        )

    # -- life cycle -------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    def start(self) -> ScriptedServer:
        config = uvicorn.Config(
            self.app(), host=self.host, port=self.port, log_level="warning", lifespan="off", access_log=False
        )
        self._server = uvicorn.Server(config)
        self._server.install_signal_handlers = lambda: None  # not the main thread
        self._thread = threading.Thread(target=self._server.run, name="scripted-llm-server", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the scripted LLM server did not start")
            time.sleep(0.01)
        self.port = self._server.servers[0].sockets[0].getsockname()[1]
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
            self._thread.join(timeout=10)

    def __enter__(self) -> ScriptedServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8011)
    parser.add_argument("--delay", type=float, default=0.0, help="seconds before each reply (model time)")
    parser.add_argument("--content", default='{"answer": "scripted"}')
    args = parser.parse_args()
    reply = Reply(args.content, delay=args.delay)
    server = ScriptedServer(lambda body: reply, port=args.port)
    config = uvicorn.Config(
        server.app(), host="127.0.0.1", port=args.port, log_level="warning", lifespan="off", access_log=False
    )
    uvicorn.Server(config).run()


if __name__ == "__main__":
    main()
