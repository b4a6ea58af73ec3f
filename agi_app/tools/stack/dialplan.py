"""Dialplan snippets: syntax checks, installation, verification, roll-back.

Asterisk's own reload is no judge: a broken snippet (an unclosed ``[`` or ``;--``)
silently drops every snippet sorted after it while ``dialplan reload`` still
says "Dialplan reloaded" (field notes). Nor does it refuse a line it cannot
use: pbx_config logs a warning and drops it (a misspelt ``extn =>``, a
``NAME=value`` in a context, ``same =>`` before any ``exten``, priority
``n`` on a context's first line). So we check the text before install, as
pbx_config reads it, and, after the reload, ask Asterisk (AMI ShowDialPlan)
for every context and extension the snippets define; on any miss the
previous set goes back.
"""

from __future__ import annotations

import difflib
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from agi_app.tools.stack.dialplan_priority import Numbering
from agi_app.tools.stack.dialplan_targets import include_loops, jump_targets, undefined_contexts

SECTION = re.compile(r"^\[(?P<name>[A-Za-z0-9_+.-]+)\](\((?P<tpl>[^)]*)\))?\s*(;.*)?$")
STATEMENT = re.compile(r"^(?P<key>[^=\s]+)\s*=(?P<arrow>>?)\s*(?P<rest>.*)$")
VARIABLE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# What pbx_config reads in a context (case-insensitive); any other line is
# logged as "Unknown directive ... IGNORING", NAME=value lines included.
KEYWORDS = ("exten", "same", "include", "ignorepat", "switch", "lswitch", "eswitch")
REQUIRED_CONTEXTS = ("from-sip", "hotline", "hotline-queue", "hotline-agi", "hotline-static")
BUILT_IN_CONTEXTS = ("parkedcalls",)  # contexts Asterisk modules make (res_parking)


@dataclass
class Snippet:
    path: Path
    contexts: dict[str, set[str]] = field(default_factory=dict)  # context -> extensions
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # Asterisk loads it, but likely a slip
    includes: list[tuple[str, str, int]] = field(default_factory=list)  # (context, included, line)
    jumps: list[tuple[str, str, str, int]] = field(default_factory=list)  # (context, app, to, line)


@dataclass
class _Context:
    """Where the reading is in the current [context], as pbx_config keeps it."""

    name: str
    numbering: Numbering
    last_exten: str | None = None  # what `same` continues (any exten line sets it)


def parse_snippet(path: Path, text: str | None = None) -> Snippet:
    """Check one snippet's syntax and list the contexts/extensions it defines."""
    snip = Snippet(path)
    try:
        text = path.read_text(encoding="utf-8") if text is None else text
    except (OSError, UnicodeDecodeError) as exc:
        snip.errors.append(f"{path.name}: cannot read: {exc}")
        return snip
    ctx: _Context | None = None
    depth, opened = 0, 0  # block comments: how deep, and the line the outermost began
    for n, raw in enumerate(text.split("\n"), 1):  # Asterisk splits on \n only
        where = f"{path.name}:{n}"
        before = depth
        read, depth = _uncommented(raw, depth)
        opened = n if before == 0 and depth > 0 else opened
        if (bad := _control_character(raw.rstrip("\r"))) is not None:
            snip.errors.append(f"{where}: {bad}")
        elif depth < 0 <= before:
            snip.errors.append(
                f"{where}: '--;' closes no block comment: Asterisk skips every line after it,"
                " into the snippets sorted after this one, up to a ';--'"
            )
        elif line := read.strip():
            ctx = _line(line, n, where, ctx, snip)
    if depth > 0:
        snip.errors.append(
            f"{path.name}:{opened}: block comment ';--' never closed by '--;': Asterisk skips"
            " the rest of the file and the snippets sorted after it"
        )
    return snip


def _line(line: str, n: int, where: str, ctx: _Context | None, snip: Snippet) -> _Context | None:
    """Check one line as read; the [context] the lines after it are in."""
    if line.startswith("#"):
        snip.errors.append(f"{where}: directives (#include) are not allowed in snippets")
    elif line.startswith("["):
        return _section(line, where, snip)
    elif ctx is None:
        snip.errors.append(f"{where}: line outside any [context]: {line[:60]}")
    else:
        snip.errors += [f"{where}: {e}" for e in _statement(line, n, ctx, snip)]
    return ctx


def _uncommented(raw: str, depth: int) -> tuple[str, int]:
    """What config.c reads of a line, and how deep in block comments the next
    line starts.

    ';' comments out the rest of the line and '\\;' is a ';'; ';--' (but not
    ';---') opens a block comment, '--;' closes one, and they nest. The depth
    goes on from file to file of a glob; a '--;' with none open takes it below
    0, where every line is skipped too."""
    kept: list[str] = []
    reading = depth == 0  # a line that starts in a block is read only after it closes
    i = 0
    while (j := raw.find(";", i)) != -1:
        live = reading and depth == 0
        if j > i and raw[j - 1] == "\\":  # an escaped ';' is text
            kept += [raw[i : j - 1], ";"] if live else []
            i = j + 1
        elif raw[j + 1 : j + 3] == "--" and raw[j + 3 : j + 4] != "-":  # opens a block
            kept += [raw[i:j]] if live else []
            depth, i = depth + 1, j + 3
        elif j >= i + 2 and raw[j - 2 : j] == "--":  # closes one
            depth, i = depth - 1, j + 1
            reading = reading or depth == 0
        elif depth == 0:  # a line comment: the rest is not read
            kept += [raw[i:j]] if live else []
            return "".join(kept), depth
        else:
            i = j + 1
    kept += [raw[i:]] if reading and depth == 0 else []
    return "".join(kept), depth


def _control_character(line: str) -> str | None:
    if "\0" in line:
        return "NUL byte in the line: Asterisk reads the line only up to it"
    bad = next((c for c in line if ord(c) < 32 and c != "\t"), None)
    return None if bad is None else f"control character U+{ord(bad):04X} in the line"


def _section(line: str, where: str, snip: Snippet) -> _Context | None:
    m = SECTION.match(line)
    if not m:
        snip.errors.append(f"{where}: malformed section header: {line[:60]}")
        return None
    name = m.group("name")
    if name.lower() in ("general", "globals"):
        snip.errors.append(f"{where}: [{name}] belongs to extensions.conf")
    snip.contexts.setdefault(name, set())
    return _Context(name, Numbering(name))


def _statement(line: str, n: int, ctx: _Context, snip: Snippet) -> list[str]:
    m = STATEMENT.match(line)
    if m is None:
        return [f"not a dialplan line: {line[:60]}"]
    key, rest = m.group("key").lower(), m.group("rest")
    if key not in KEYWORDS:
        return [_unknown_keyword(m.group("key"), bool(m.group("arrow")))]
    errors = _unclosed(line)
    if key in ("exten", "same"):
        errors += _extension_line(key, rest, ctx, snip, n if not errors else None)
    elif key == "include":
        included = re.split(r"[,|]", rest, maxsplit=1)[0].strip()  # then an optional time spec
        if not included:
            errors.append("include needs a context name")
        elif "${" not in included:  # a [globals] variable is known only to Asterisk
            snip.includes.append((ctx.name, included, n))
    return errors


def _unknown_keyword(key: str, arrow: bool) -> str:
    close = difflib.get_close_matches(key.lower(), KEYWORDS, n=1)
    if close:
        return f"unknown keyword '{key}' (did you mean '{close[0]}'?): Asterisk ignores the line"
    if VARIABLE.fullmatch(key) and not arrow:
        return (
            f"'{key}=' sets no variable in a context: Asterisk ignores the line (use"
            " Set() in an extension, or [globals] in extensions.conf)"
        )
    return f"unknown keyword '{key}': Asterisk ignores the line"


def _unclosed(line: str) -> list[str]:
    """Unbalanced '(', or a ``$[`` / ``${`` that Asterisk finds no end to."""
    errors = []
    if line.count("(") != line.count(")"):
        errors.append(f"unbalanced parentheses (a ';' starts a comment): {line[:60]}")
    for i in (i for i in range(len(line) - 1) if line[i] == "$" and line[i + 1] in "[{"):
        opening = line[i + 1]
        closing = "]" if opening == "[" else "}"
        depth = 0
        for ch in line[i + 1 :]:
            depth += (ch == opening) - (ch == closing)
            if depth == 0:
                break
        else:
            errors.append(f"unclosed ${opening} (no matching '{closing}'): {line[i : i + 40]}")
            break
    return errors


def _extension_line(key: str, rest: str, ctx: _Context, snip: Snippet, n: int | None) -> list[str]:
    """An ``exten => name,priority,app`` or ``same => priority,app`` line
    (``n``: its number, None when it is broken already)."""
    if key == "exten":
        exten, _, tail = _cut_extension(rest)
        exten = exten.strip()
        if not exten:
            return ["exten needs 'name,priority,application'"]
        ctx.last_exten = exten
    elif ctx.last_exten is None:
        return [f"'same' before any 'exten' in [{ctx.name}]: Asterisk drops the line"]
    else:
        exten, tail = ctx.last_exten, rest
    priority, comma, app = tail.partition(",")
    shape = "name,priority,application" if key == "exten" else "priority,application"
    if not priority.strip():
        return [f"{key} needs '{shape}'"]
    if error := ctx.numbering.add(priority.strip(), exten):
        return [error]
    if not comma or not app.strip():
        return [f"{key} needs '{shape}': nothing after the priority"]
    if n is not None:
        snip.contexts[ctx.name].add(exten)
        snip.jumps += [(ctx.name, name, to, n) for name, to in jump_targets(app)]
    return []


def _cut_extension(rest: str) -> tuple[str, str, str]:
    """Split at the first ',' outside a pattern's [...], as pbx_config does."""
    depth = 0
    for i, ch in enumerate(rest):
        depth += (ch == "[") - (ch == "]")
        if ch == "," and depth <= 0:
            return rest[:i], ",", rest[i + 1 :]
    return rest, "", ""


def check_set(directory: Path, required: tuple[str, ...] = REQUIRED_CONTEXTS) -> list[Snippet]:
    """Parse every ``*.conf`` snippet; add an error when a required context is
    missing or a context is defined twice; a warning when an include, a Goto,
    a Gosub or a Dial(Local/...) names a context no snippet defines (the site
    may define it outside them), or includes loop."""
    snippets = [parse_snippet(p) for p in sorted(directory.glob("*.conf"))]
    defined = {c for s in snippets for c in s.contexts}
    seen: dict[str, Path] = {}
    for snip in snippets:
        for ctx in snip.contexts:
            if ctx in seen:
                snip.errors.append(_twice(snip.path.name, ctx, seen[ctx].name))
            seen[ctx] = snip.path
        undefined_contexts(snip, defined | set(BUILT_IN_CONTEXTS))
    include_loops(snippets)
    missing = [c for c in required if c not in defined]
    if missing and snippets:
        snippets[0].errors.append(f"required context(s) missing from the set: {', '.join(missing)}")
    return snippets


def _twice(name: str, ctx: str, first: str) -> str:
    """A context defined again: refused, since Asterisk merges the two and
    drops a line whose extension and priority the first already has; the
    error says what to do instead."""
    number = (
        " A new number needs no dialplan: [from-sip]'s _X. pattern already sends every"
        " number to the app, so a flow with that number in entry_numbers is enough."
        if ctx in REQUIRED_CONTEXTS
        else ""
    )
    return (
        f"{name}: context [{ctx}] is already defined in {first}; a context lives in one"
        f" snippet.{number} To change [{ctx}], edit {first}"
    )


def copy_set(src: Path, dest: Path) -> None:
    """Replace the ``*.conf`` files in ``dest`` by those of ``src``."""
    dest.mkdir(parents=True, exist_ok=True)
    for old in dest.glob("*.conf"):
        old.unlink()
    for new in sorted(src.glob("*.conf")):
        shutil.copy2(new, dest / new.name)
        (dest / new.name).chmod(0o644)
