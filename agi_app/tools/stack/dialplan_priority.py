"""Priorities as pbx_config numbers the lines of one [context].

pbx_config keeps one running priority for the whole context, whatever the
extension: ``n`` is the priority of the line before plus one, ``s`` the same,
even when that line was another extension's. A priority that is not a number
is looked up as a label the extension has above (``start+1``; cut at '+'
only, so ``start-1`` is a label of that name). A line it cannot number is
dropped with a warning in its log; one numbered off its extension's run
leaves a gap (the call ends there) or takes a priority already in use.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Numbering:
    """One context's numbering so far."""

    context: str
    last: int | None = None  # the last added line's priority, any extension: what `n` adds to
    last_exten: str | None = None  # the extension of that line
    own: dict[str, int] = field(default_factory=dict)  # extension -> its last priority
    labels: dict[str, dict[str, int]] = field(default_factory=dict)  # extension -> its labels

    def add(self, text: str, exten: str) -> str | None:
        """Number a line of ``exten`` with priority ``text`` as pbx_config
        does; why it drops or misnumbers the line, if it does."""
        number, error = self._number(text, exten)
        if number is not None:  # Asterisk adds the line and numbers on from it, even if flawed
            self._keep(text, number, exten)
        return error

    def _number(self, text: str, exten: str) -> tuple[int | None, str | None]:
        """The number Asterisk gives the line (None: it drops the line), and
        why the line is wrong: dropped, or numbered off its extension's run."""
        base = text
        if "(" in text:  # a label: n(menu)
            if not text.endswith(")"):
                return None, f"label without its ')' in priority {text!r}: Asterisk drops the line"
            base = text.split("(", 1)[0]
        base, plus, offset = base.partition("+")
        if plus and not offset.isdigit():
            return None, f"priority {text!r}: '+' takes a number"
        if base == "hint":
            return -1, None
        if base in ("n", "next", "s", "same"):
            if self.last is None:
                return None, (
                    f"priority '{base}' on the first line of [{self.context}]: Asterisk drops"
                    " the line (start with 1)"
                )
            number = self.last + (1 if base in ("n", "next") else 0)
            if number < 1:
                return None, (
                    f"priority '{base}' after a hint comes to {number}: Asterisk drops the line"
                )
            return number + int(offset or 0), self._misnumbered(base, number, exten)
        if base.isdigit() and int(base) >= 1:
            return int(base) + int(offset or 0), None
        if base in self.labels.get(exten, {}):
            return self.labels[exten][base] + int(offset or 0), None
        return None, (
            f"priority {text!r} is not a number from 1, 'n', 's', 'hint' or a label {exten}"
            " has above: Asterisk drops the line"
        )

    def _misnumbered(self, base: str, number: int, exten: str) -> str | None:
        """Wrong when the line before, not this extension's own lines, set the number."""
        own = self.own.get(exten)
        if own is None and number != 1:
            return (
                f"priority '{base}' on the first line of {exten} comes to {number}: Asterisk"
                f" counts on from the line before, of {self.last_exten} (start {exten} with 1)"
            )
        if own is not None and base in ("n", "next") and number != own + 1:
            return (
                f"priority '{base}' for {exten} comes to {number}, not {own + 1}: Asterisk counts"
                f" on from the line before, of {self.last_exten}"
            )
        return None

    def _keep(self, text: str, number: int, exten: str) -> None:
        """What pbx_config keeps of a line it adds."""
        self.last, self.last_exten = number, exten
        if number < 1:  # a hint: no place in the numbering, a label on it finds nothing
            return
        self.own[exten] = number
        if "(" in text:
            self.labels.setdefault(exten, {})[text.split("(", 1)[1].split(")", 1)[0]] = number
