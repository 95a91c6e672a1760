"""A small, strict dotenv reader (sans-IO): text in, (name, value, line) entries out.

What it accepts, as python-dotenv and docker compose read `.env` files:
- `NAME=value`, optionally after `export `; blank lines and `# comment` lines;
- unquoted values end at the line's end, minus a ` # comment` and surrounding blanks;
- 'single quotes' are literal; "double quotes" know \\n \\t \\r \\" \\\\ \\$ \\`;
  either may span lines; after the closing quote only blanks or a comment may follow.
- No `${VAR}` interpolation: a credential is taken exactly as written.
Problems come back per line, without the line's content (it may hold a secret).
"""

from __future__ import annotations

import re

import attrs

NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\", "$": "$", "`": "`"}


@attrs.frozen
class Entry:
    name: str
    value: str
    line: int


@attrs.frozen
class Problem:
    line: int
    message: str


def parse(text: str) -> tuple[list[Entry], list[Problem]]:
    """Every assignment in `text` (in order) and every line that is not one."""
    return _Scanner(text.removeprefix("\ufeff")).run()


class _Scanner:
    def __init__(self, text: str):
        self.text = text
        self.pos = 0
        self.line = 1
        self.entries: list[Entry] = []
        self.problems: list[Problem] = []

    def run(self) -> tuple[list[Entry], list[Problem]]:
        while self.pos < len(self.text):
            start = self.line
            try:
                self._statement()
            except ValueError as exc:
                self.problems.append(Problem(start, str(exc)))
                self._skip_line()
        return self.entries, self.problems

    # -- pieces ------------------------------------------------------------------------
    def _peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def _blanks(self) -> None:
        while self._peek() in (" ", "\t"):
            self.pos += 1

    def _skip_line(self) -> None:
        end = self.text.find("\n", self.pos)
        self.pos = len(self.text) if end < 0 else end + 1
        self.line += 1

    def _end_of_line(self) -> None:
        """Only blanks or a comment may remain on the line."""
        self._blanks()
        c = self._peek()
        if c == "#":
            self._skip_line()
        elif c in ("\r", "\n", ""):
            self.pos += 2 if self.text.startswith("\r\n", self.pos) else 1 if c else 0
            self.line += 1 if c else 0
        else:
            raise ValueError("unexpected text after the closing quote")

    def _statement(self) -> None:
        self._blanks()
        c = self._peek()
        if c in ("#", "\n", "\r", ""):
            self._skip_line()
            return
        m = NAME.match(self.text, self.pos)
        if m and m.group(0) == "export" and self.text[m.end() : m.end() + 1] in (" ", "\t"):
            self.pos = m.end()
            self._blanks()
            m = NAME.match(self.text, self.pos)
        if not m:
            raise ValueError("not NAME=VALUE (a name starts with a letter or _)")
        name = m.group(0)
        self.pos = m.end()
        self._blanks()
        if self._peek() != "=":
            # Not `{name}`: a bare token (hf_..., ghp_...) is one identifier.
            raise ValueError("the name is not followed by '='")
        self.pos += 1
        after_eq = self.pos
        self._blanks()
        line = self.line
        quote = self._peek()
        if quote == "#" and self.pos > after_eq:  # `NAME= # comment`: an empty value
            self._skip_line()
            value = ""
        elif quote in ("'", '"'):
            value = self._quoted(quote)
            self._end_of_line()
        else:
            value = self._unquoted()
        self.entries.append(Entry(name, value, line))

    def _quoted(self, quote: str) -> str:
        start_line = self.line
        self.pos += 1
        out: list[str] = []
        while True:
            c = self._peek()
            if c == "":
                self.line = start_line
                raise ValueError(f"unterminated {quote} quote")
            self.pos += 1
            if c == quote:
                return "".join(out)
            if c == "\n":
                self.line += 1
            if c == "\\" and quote == '"':
                nxt = self._peek()
                if nxt in _ESCAPES:
                    out.append(_ESCAPES[nxt])
                    self.pos += 1
                    continue
            out.append(c)

    def _unquoted(self) -> str:
        end = self.text.find("\n", self.pos)
        end = len(self.text) if end < 0 else end
        raw = self.text[self.pos : end].rstrip("\r")
        self.pos = end + 1 if end < len(self.text) else end
        self.line += 1
        comment = re.search(r"[ \t]#", raw)
        if comment:
            raw = raw[: comment.start()]
        return raw.strip()
