"""A small OpenAI-compatible chat completions server for the instrumentation tests.

Every conversation goes the same way: without a tool result yet, the model asks for
get_weather({"city": "Paris"}) (1000 prompt, 200 completion tokens); with one, it answers
"Sunny in Paris." (1500 prompt, 100 completion tokens). Streaming requests get the same answers
as server-sent chunks.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MODEL = "gpt-4o-mini-2024-07-18"
TOOL_CALL_USAGE = (1000, 200)
ANSWER_USAGE = (1500, 100)
ANSWER = "Sunny in Paris."
ARGUMENTS = '{"city": "Paris"}'


def free_port() -> int:
    """A TCP port nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def completion(messages: list[dict[str, Any]]) -> dict[str, Any]:
    """The chat completion the conversation so far gets."""
    answered = any(message.get("role") == "tool" for message in messages)
    if answered:
        message: dict[str, Any] = {"role": "assistant", "content": ANSWER}
        finish, (prompt, output) = "stop", ANSWER_USAGE
    else:
        message = {"role": "assistant", "content": None, "tool_calls": [{
            "id": "call_1", "type": "function",
            "function": {"name": "get_weather", "arguments": ARGUMENTS},
        }]}  # fmt: skip
        finish, (prompt, output) = "tool_calls", TOOL_CALL_USAGE
    return {
        "id": "chatcmpl-2" if answered else "chatcmpl-1", "object": "chat.completion",
        "created": 1_790_000_000, "model": MODEL,
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
        "usage": {"prompt_tokens": prompt, "completion_tokens": output,
                  "total_tokens": prompt + output},
    }  # fmt: skip


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if not self.path.endswith("/chat/completions"):
            self.send_error(404, "only /v1/chat/completions here")
            return
        answer = completion(body["messages"])
        if body.get("stream"):
            self._stream(answer)
            return
        data = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _stream(self, answer: dict[str, Any]) -> None:
        """The answer as one delta chunk and a usage chunk."""
        choice = answer["choices"][0]
        delta = dict(choice["message"])
        if "tool_calls" in delta:
            delta["tool_calls"] = [{"index": 0, **delta["tool_calls"][0]}]
        base = {key: answer[key] for key in ("id", "created", "model")}
        chunks = [
            {**base, "object": "chat.completion.chunk", "choices": [
                {"index": 0, "delta": delta, "finish_reason": choice["finish_reason"]}]},
            {**base, "object": "chat.completion.chunk", "choices": [], "usage": answer["usage"]},
        ]  # fmt: skip
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        for chunk in chunks:
            self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
        self.wfile.write(b"data: [DONE]\n\n")

    def log_message(self, *args: Any) -> None:
        """Quiet."""


@contextmanager
def llm_server() -> Iterator[str]:
    """Serve on a free loopback port; yields the base URL (ending in /v1)."""
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()
