"""A loopback OpenAI-compatible chat server for tests: answers from a script, records requests.

It speaks enough of /v1/chat/completions for the real `ChatOpenAI` client: each scripted answer is the
arguments (a dict, or a raw string for malformed JSON) of one function call to the tool the client
offered.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class OpenAIStub:
    def __init__(self, answers: list[dict[str, Any] | str] | Callable[[dict[str, Any]], Any]):
        """`answers`: scripted function arguments in order, or a function of the request body."""
        self.answers = answers if callable(answers) else list(answers)
        self.requests: list[dict[str, Any]] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                stub.requests.append(body)
                if callable(stub.answers):
                    answer = stub.answers(body)
                elif stub.answers:
                    answer = stub.answers.pop(0)
                else:
                    self.send_response(500)
                    self.end_headers()
                    return
                tool = body["tools"][0]["function"]["name"]
                args = answer if isinstance(answer, str) else json.dumps(answer)
                payload = {
                    "id": f"chatcmpl-{len(stub.requests)}", "object": "chat.completion",
                    "created": 0, "model": body["model"],
                    "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {
                        "role": "assistant", "content": None,
                        "tool_calls": [{"id": f"call_{len(stub.requests)}", "type": "function",
                                        "function": {"name": tool, "arguments": args}}]}}],
                    "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
                }
                data = json.dumps(payload).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def __enter__(self) -> OpenAIStub:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()
