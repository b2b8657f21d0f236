"""A real `clockwf serve` application on 127.0.0.1 (uvicorn in a thread, an OS-chosen port),
with a fixed clock, for the API and OpenAPI tests."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

import uvicorn

from clockwf.web.app import create_app


@contextmanager
def running_server(db: str, namespace: str, *, now: datetime,
                   no_auth: bool = False) -> Iterator[str]:
    """Serve the store at ``db``; yields the base URL. Stops the server at the end."""
    app = create_app(db, namespace, no_auth=no_auth, now=lambda: now)
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning",
                            access_log=False, lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="clockwf-serve-test", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(30)
