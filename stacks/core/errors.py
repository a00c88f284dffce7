"""The one error type of secrets-plane: where, what, and how to fix it."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from .text import one_line


@dataclass(frozen=True)
class Location:
    """A place in an input file: file name, dotted key path, and 1-based line when known."""

    file: str
    path: str = ""
    line: int | None = None

    def __str__(self) -> str:
        text = self.file
        if self.line is not None:
            text += f":{self.line}"
        if self.path:
            text += f": {self.path}"
        return text


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the input. `severity` is "error" or "warning"."""

    location: Location
    message: str
    hint: str = ""
    severity: str = "error"

    def render(self) -> str:
        """One line: a name or key read from the input cannot break it or drive the terminal."""
        text = f"{self.location}: {self.severity}: {self.message}"
        if self.hint:
            text += f" (fix: {self.hint})"
        return one_line(text)

    def describe(self) -> str:
        """The problem without its severity, for a list that already says what kind it holds."""
        return one_line(f"{self.location}: {self.message}" + (f" (fix: {self.hint})" if self.hint else ""))


class PlaneError(Exception):
    """Raised for every bad input; carries one or more problems, each with location and hint.

    The message never includes a secret value: callers build problems from names and paths only.
    """

    def __init__(self, problems: Sequence[Problem] | Problem):
        if isinstance(problems, Problem):
            problems = [problems]
        self.problems: list[Problem] = list(problems)
        super().__init__("\n".join(p.render() for p in self.problems))

    @classmethod
    def at(cls, file: str, path: str, message: str, hint: str = "", line: int | None = None) -> PlaneError:
        return cls(Problem(Location(file, path, line), message, hint))


class CloudflareOperationError(Exception):
    """A Cloudflare call failed after retries: the message says what, on which Worker, and what to
    do, and never carries a value. (Defined here, free of the SDK, so commands that never call the
    API never import it.) The message quotes the API's own words and names it returned: whatever
    control characters those hold are shown as escapes, wherever the message is printed."""

    def __init__(self, message: str = "", *rest: object):
        super().__init__(one_line(str(message)), *rest)


class ProblemCollector:
    """Accumulates problems so one run reports all of them, not just the first."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def error(self, location: Location, message: str, hint: str = "") -> None:
        self.problems.append(Problem(location, message, hint, "error"))

    def warning(self, location: Location, message: str, hint: str = "") -> None:
        self.problems.append(Problem(location, message, hint, "warning"))

    def extend(self, problems: Iterable[Problem]) -> None:
        self.problems.extend(problems)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]

    def raise_if_errors(self) -> None:
        if self.errors:
            raise PlaneError(self.errors)


def shown_name(name: str, known: Iterable[str]) -> str | None:
    """A name a person gave, as a message may show it: when it is one of `known`, or a near miss
    of one (a typo). Anything else may be a value typed or pasted where a name goes (a token on
    its own line, the second line of a key), and is never shown: the message says where instead."""
    known = list(known)
    if name in known:
        return name
    from .naming import is_secret_name

    if is_secret_name(name) and did_you_mean(name, known):
        return name
    return None


def did_you_mean(name: str, candidates: Iterable[str]) -> str:
    """A "did you mean X?" phrase for a misspelt name, or "" when nothing is close."""
    import difflib

    matches = difflib.get_close_matches(name, sorted(candidates), n=1, cutoff=0.6)
    if not matches:
        # Case-only differences fall under the cutoff for short names; check them explicitly.
        lowered = {c.lower(): c for c in candidates}
        if name.lower() in lowered:
            matches = [lowered[name.lower()]]
    return f"did you mean '{matches[0]}'?" if matches else ""
