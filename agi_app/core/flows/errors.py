"""A flow-check error: it names the file, the node and the field."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FlowError:
    file: str
    node: str | None
    field: str | None
    message: str

    def __str__(self) -> str:
        where = self.file
        if self.node:
            where += f": node '{self.node}'"
        if self.field:
            where += f" field '{self.field}'"
        return f"{where}: {self.message}"
