"""A real HTTP receiver on 127.0.0.1 (port 0) that checks each request's signature as a customer's
server would (with the README's own recipe, not the project's signing code), answers with a scripted status
and can hold a request open."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_verify() -> Any:
    """The ``verify`` function of the README's receiver recipe, run as a customer would copy it."""
    text = README.read_text(encoding="utf-8")
    start = text.index("```python", text.index("A receiver checks a request like this"))
    code = text[start + len("```python") : text.index("```", start + 3)]
    namespace: dict[str, Any] = {}
    exec(compile("\n".join(line.removeprefix("  ") for line in code.splitlines()), str(README), "exec"), namespace)  # noqa: S102
    return namespace["verify"]


verify = readme_verify()


def _valid(secret: str, headers: Any, body: bytes) -> bool:
    try:
        return bool(verify(secret, headers, body))
    except (KeyError, ValueError):  # a header missing or not a number
        return False


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    valid_signature: bool
    answered: int
    path: str = ""

    @property
    def json(self) -> Any:
        return json.loads(self.body)


class Receiver:
    def __init__(self, *, answers: list[int] | None = None, hold: set[int] | None = None) -> None:
        """``answers``: the status of the 1st, 2nd, ... request (200 after the list); ``hold``: the
        request numbers (1-based) kept open until ``release()``."""
        self.secret = ""
        self.answers = list(answers or [])
        self.hold = hold or set()
        self.requests: list[Received] = []
        self.arrived = threading.Event()
        self.released = threading.Event()
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with receiver._lock:
                    number = len(receiver.requests) + 1
                    answer = receiver.answers[number - 1] if number <= len(receiver.answers) else 200
                    receiver.requests.append(
                        Received(
                            headers=dict(self.headers.items()),
                            body=body,
                            valid_signature=_valid(receiver.secret, self.headers, body),
                            answered=answer,
                            path=self.path,
                        )
                    )
                receiver.arrived.set()
                if number in receiver.hold:
                    receiver.released.wait(120)
                self.send_response(answer)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Receiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.released.set()
        self.server.shutdown()
        self.server.server_close()

    def release(self) -> None:
        self.released.set()
