"""What a live command is doing while it reads the account, on stderr: on a terminal, one line kept
up to date (Workers done of total, and any wait for Cloudflare's rate limit); elsewhere (a CI log),
one line per wait and nothing else, so the log shows why a job is quiet and stays short. Names
and counts only, never a value."""

from __future__ import annotations

import sys
from typing import TextIO

from ..api.ratelimit import PACER, Wait


class Progress:
    def __init__(self, what: str, total: int, stream: TextIO | None = None):
        self.what, self.total, self.done = what, total, 0
        self.stream = stream or sys.stderr
        # Its own control sequences bypass the CLI's filter of foreign control characters.
        self.control: TextIO = getattr(self.stream, "unfiltered", self.stream)
        self.tty = self.stream.isatty()
        self._listening = PACER.listen(self._on_wait, this_thread=False)
        self._shown = False

    def __enter__(self) -> Progress:
        self._listening.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._listening.__exit__(None, None, None)
        if self.tty and self._shown:
            self.control.write("\r\033[K")
            self.control.flush()

    def step(self, label: str) -> None:
        """One more of `total` done (`label`: what it was)."""
        self.done += 1
        if self.tty:
            self._line(f"{self.what}: {self.done}/{self.total} {label}")

    def _line(self, text: str) -> None:
        self.control.write("\r\033[K")
        self.stream.write(text)
        self.stream.flush()
        self._shown = True

    def _on_wait(self, wait: Wait) -> None:
        text = f"{self.what}: {self.done}/{self.total} done; {wait.reason} ({wait.seconds:.0f} s)"
        if self.tty:
            self._line(text)
        else:
            print(text, file=self.stream, flush=True)
