"""A fork server for the crash test's workers: imports the gateway once, then forks one worker process
per request, so each of the many kill-and-restart runs skips the interpreter's import time.

Protocol (one JSON line each way on stdin/stdout): {"env": {...}, "log": path} → {"pid": n};
{"wait": pid} → {"pid": n, "status": raw waitpid status}. A forked worker is a process like any other:
SIGKILL ends it without a chance to clean up, and its restart is a new fork with nothing remembered.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

# What a worker needs, imported before any fork (the sqlite driver and alembic are imported lazily).
import aiosqlite  # noqa: F401
import alembic.command  # noqa: F401
import sqlalchemy.dialects.sqlite.aiosqlite  # noqa: F401

from tests.sync import crash_worker


def _child(request: dict[str, Any]) -> None:
    """In the forked process: become a worker with the requested environment, never return."""
    code = 70
    try:
        log = os.open(request["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        os.dup2(log, 1)
        os.dup2(log, 2)
        os.close(log)
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.close(devnull)
        os.environ.clear()
        os.environ.update(request["env"])
        try:
            crash_worker.main()
            code = 0
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else 1
    except BaseException:  # a worker that failed says why in its log, and exits non-zero
        import traceback

        traceback.print_exc()
        code = 1
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def serve() -> None:
    print(json.dumps({"ready": os.getpid()}), flush=True)
    for line in sys.stdin:
        request = json.loads(line)
        if "wait" in request:
            pid, status = os.waitpid(int(request["wait"]), 0)
            print(json.dumps({"pid": pid, "status": status}), flush=True)
            continue
        sys.stdout.flush()
        pid = os.fork()
        if pid == 0:
            _child(request)
        print(json.dumps({"pid": pid}), flush=True)


if __name__ == "__main__":
    serve()
