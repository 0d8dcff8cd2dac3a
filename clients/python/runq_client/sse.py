"""Server-Sent Events parsing: lines in, events out (no I/O)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator

from runq_client.models import Event


class EventParser:
    """Feed it lines; it yields an Event at each blank line that ends one."""

    def __init__(self) -> None:
        self._fields: dict[str, str] = {}

    def feed(self, line: str) -> Event | None:
        """One line of the stream; an Event when the line completes one."""
        if line.startswith(":"):
            return None  # a keep-alive comment
        if line:
            name, _, value = line.partition(":")
            self._fields[name] = value.removeprefix(" ")
            return None
        fields, self._fields = self._fields, {}
        if "data" not in fields:
            return None
        return Event(
            fields.get("id", ""), fields.get("event", "message"), json.loads(fields["data"])
        )


def parse_lines(lines: Iterable[str]) -> Iterator[Event]:
    """Every event in `lines`."""
    parser = EventParser()
    for line in lines:
        event = parser.feed(line)
        if event is not None:
            yield event
