"""The local engine's normalizer processes (sentinel/ingest/local_engine.py): a fetched page's JSON in, where it
ends and its COPY text out, as the Ray borough normalizers do (actors/normalizer.py).

`NormalizerPool` runs `python -m sentinel.ingest.normalizer_process` processes, each fed by a thread of its own
over its stdin and stdout: a process started so imports only what normalizing needs, where one made by
`multiprocessing` imports its parent's main module first (for `vsentinel`, every command of the CLI). A process
that dies mid-page is replaced and the page given to the new one, once (normalizing is a pure function of the
page); a page that kills two processes fails with the exit codes.

Frames on the pipes: an 8-byte big-endian length, then that many bytes. The pool sends the catalog (pickled) once,
then per page the dataset's name and the body; the process answers each page with a pickled
`(True, (PageMeta, CopyBatch))` or `(False, exception)`.
"""

from __future__ import annotations

import contextlib
import fcntl
import gc
import os
import pickle
import queue
import subprocess
import sys
import threading
from concurrent.futures import Future
from functools import cache
from pathlib import Path
from typing import IO, Any

from sentinel.datasets import DatasetConfig
from sentinel.ingest.heap import keep_freed_memory
from sentinel.ingest.pages import normalize_body

_LENGTH = 8


class NormalizerLostError(RuntimeError):
    """A normalizer process ended while it held a page."""


@cache
def _pipe_max_size() -> int | None:
    """The widest pipe an unprivileged process may make (Linux), None where that cannot be set."""
    if not hasattr(fcntl, "F_SETPIPE_SZ"):
        return None
    try:
        return int(Path("/proc/sys/fs/pipe-max-size").read_bytes())
    except (OSError, ValueError):
        return None


def _widen(pipe: IO[bytes] | None) -> None:
    """A pipe as wide as it may be: a page crosses in a few dozen writes, each waking the other side once, instead
    of two hundred through the default 64 KB."""
    size = _pipe_max_size()
    if pipe is None or size is None:
        return
    with contextlib.suppress(OSError):  # the default width still works
        fcntl.fcntl(pipe.fileno(), fcntl.F_SETPIPE_SZ, size)


def _write_frame(out: IO[bytes], payload: bytes) -> None:
    out.write(len(payload).to_bytes(_LENGTH, "big"))
    out.write(payload)


def _read_frame(source: IO[bytes]) -> bytes | None:
    """A frame's payload; None at the end of the stream (the other side is gone)."""
    header = source.read(_LENGTH)
    if len(header) < _LENGTH:
        return None
    size = int.from_bytes(header, "big")
    payload = source.read(size)
    return payload if len(payload) == size else None


class _Process:
    """One normalizer process and its pipes."""

    def __init__(self, catalog: bytes) -> None:
        command = [sys.executable, "-m", __name__]  # this interpreter and this module: nothing from input
        self.popen = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE)  # noqa: S603
        for pipe in (self.popen.stdin, self.popen.stdout):
            _widen(pipe)
        self._send(catalog)

    def _send(self, *payloads: bytes) -> None:
        stdin = self.popen.stdin
        assert stdin is not None
        for payload in payloads:
            _write_frame(stdin, payload)
        stdin.flush()

    def normalize(self, dataset: str, body: bytes) -> tuple[bool, Any]:
        try:
            self._send(dataset.encode(), body)
        except (BrokenPipeError, OSError):
            answer = None
        else:
            assert self.popen.stdout is not None
            answer = _read_frame(self.popen.stdout)
        if answer is None:
            try:
                code = self.popen.wait(10)
            except subprocess.TimeoutExpired:  # alive but not answering: the frames are out of step
                self.popen.kill()
                code = self.popen.wait()
            raise NormalizerLostError(f"a normalizer process exited with code {code} during a page of {dataset}")
        return pickle.loads(answer)  # noqa: S301 -- written by this pool's own child process

    def stop(self) -> None:
        if self.popen.stdin is not None:
            self.popen.stdin.close()  # the process ends at its stdin's end
        try:
            self.popen.wait(10)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait()
        if self.popen.stdout is not None:
            self.popen.stdout.close()


class NormalizerPool:
    """`size` normalizer processes; `submit` gives a Future of `(PageMeta, CopyBatch)`. Close it to end them."""

    def __init__(self, size: int, catalog: dict[str, DatasetConfig]) -> None:
        self.size = size
        self._catalog = pickle.dumps(catalog)
        self._jobs: queue.SimpleQueue[tuple[Future, str, bytes] | None] = queue.SimpleQueue()
        # The processes start with the pool, not with the first pages: which thread takes a page is the queue's
        # choice, and a pool of N is N processes whatever the pages.
        self._threads = [
            threading.Thread(target=self._serve, args=(self._start(),), name=f"vs-normalizer-{n}", daemon=True)
            for n in range(size)
        ]
        for thread in self._threads:
            thread.start()

    def submit(self, dataset: str, body: bytes) -> Future:
        future: Future = Future()
        self._jobs.put((future, dataset, body))
        return future

    def close(self) -> None:
        for _ in self._threads:
            self._jobs.put(None)
        for thread in self._threads:
            thread.join()

    def _start(self) -> _Process | None:
        try:
            return _Process(self._catalog)
        except OSError:
            return None  # started again with the first page, whose future then carries the error

    def _serve(self, process: _Process | None) -> None:
        try:
            while (job := self._jobs.get()) is not None:
                future, dataset, body = job
                del job
                if not future.set_running_or_notify_cancel():
                    continue
                lost: list[str] = []
                while True:
                    try:
                        process = process or _Process(self._catalog)
                        ok, value = process.normalize(dataset, body)
                    except NormalizerLostError as error:
                        process = None
                        lost.append(str(error))
                        if len(lost) < 2:
                            continue  # a pure function of the page: the next process does it again
                        future.set_exception(NormalizerLostError("; ".join(lost)))
                    except BaseException as error:  # the process could not even start: the run stops with it
                        future.set_exception(error)
                    else:
                        (future.set_result if ok else future.set_exception)(value)
                    break
                del future, body
        finally:
            if process is not None:
                process.stop()


def _serve(source: IO[bytes], out: IO[bytes]) -> None:
    """A normalizer process's loop: the catalog, then pages until the pool closes the pipe."""
    catalog_frame = _read_frame(source)
    if catalog_frame is None:
        return
    catalog: dict[str, DatasetConfig] = pickle.loads(catalog_frame)  # noqa: S301 -- from the parent pool
    # What the process imported lives as long as it: out of the cyclic GC's sight, its full collections stop
    # rescanning it.
    gc.freeze()
    keep_freed_memory()
    while (dataset := _read_frame(source)) is not None and (body := _read_frame(source)) is not None:
        try:
            answer = (True, normalize_body(catalog[dataset.decode()], body))
        except Exception as error:
            answer = (False, error)
        del body
        try:
            payload = pickle.dumps(answer)
        except Exception as error:  # an exception that does not pickle goes back as its text
            payload = pickle.dumps((False, RuntimeError(f"{type(error).__name__}: {error}")))
        del answer
        _write_frame(out, payload)
        out.flush()


if __name__ == "__main__":
    # The frames own stdout: anything printed goes to stderr instead.
    frames_out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    _serve(sys.stdin.buffer, frames_out)
