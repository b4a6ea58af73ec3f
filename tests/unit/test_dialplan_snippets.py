"""Dialplan snippets refused before install: lines Asterisk's pbx_config would
drop or misnumber with no more than a warning in its log."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from agi_app.settings import PROJECT_ROOT, Settings
from agi_app.tools.stack.dialplan import check_set, parse_snippet
from agi_app.tools.stack.dialplan_install import install_snippets_offline

UNKNOWN_EXTN = "unknown keyword 'extn' (did you mean 'exten'?): Asterisk ignores the line"


def errors_of(*lines: str) -> list[str]:
    """Errors of a snippet with one context, [c], holding these lines."""
    return parse_snippet(Path("s.conf"), "\n".join(["[c]", *lines]) + "\n").errors


@pytest.mark.parametrize(
    ("lines", "errors"),
    [
        pytest.param(
            ["extn => 95598,1,Goto(hotline,s,1)"],
            [f"s.conf:2: {UNKNOWN_EXTN}"],
            id="misspelt exten",
        ),
        pytest.param(
            ["exten => 1,1,NoOp()", "samee => n,Hangup()"],
            ["s.conf:3: unknown keyword 'samee' (did you mean 'same'?): Asterisk ignores the line"],
            id="misspelt same",
        ),
        pytest.param(
            ["TIMEOUT=5"],
            [
                "s.conf:2: 'TIMEOUT=' sets no variable in a context: Asterisk ignores the line"
                " (use Set() in an extension, or [globals] in extensions.conf)"
            ],
            id="variable assignment in a context",
        ),
        pytest.param(
            ["dial => 1,1,NoOp()"],
            ["s.conf:2: unknown keyword 'dial': Asterisk ignores the line"],
            id="unknown keyword",
        ),
        pytest.param(
            ["exten => 1,1,Set(N=$[${N} + 1)"],
            ["s.conf:2: unclosed $[ (no matching ']'): $[${N} + 1)"],
            id="unclosed expression",
        ),
        pytest.param(
            ["exten => 1,1,NoOp(${CALLERID(num))"],
            ["s.conf:2: unclosed ${ (no matching '}'): ${CALLERID(num))"],
            id="unclosed variable",
        ),
        pytest.param(
            ["same => n,Hangup()"],
            ["s.conf:2: 'same' before any 'exten' in [c]: Asterisk drops the line"],
            id="same before any exten",
        ),
        pytest.param(
            ["exten => 100,n,Hangup()"],
            [
                "s.conf:2: priority 'n' on the first line of [c]: Asterisk drops the line"
                " (start with 1)"
            ],
            id="first priority n in the context",
        ),
        pytest.param(
            ["exten => 100,1,NoOp()", "exten => 200,n,Hangup()"],
            [
                "s.conf:3: priority 'n' on the first line of 200 comes to 2: Asterisk counts on"
                " from the line before, of 100 (start 200 with 1)"
            ],
            id="new extension starting at n",
        ),
        pytest.param(
            [
                "exten => 100,1,NoOp()",
                "exten => 101,1,NoOp()",
                "same => n,NoOp()",
                "exten => 100,n,Hangup()",
            ],
            [
                "s.conf:5: priority 'n' for 100 comes to 3, not 2: Asterisk counts on from the"
                " line before, of 101"
            ],
            id="n after another extension's longer run leaves a gap",
        ),
        pytest.param(
            ["exten => 300,1(start),NoOp()", "exten => 301,start+1,Hangup()"],
            [
                "s.conf:3: priority 'start+1' is not a number from 1, 'n', 's', 'hint' or a label"
                " 301 has above: Asterisk drops the line"
            ],
            id="label of another extension",
        ),
        pytest.param(
            ["exten => 300,1(start),NoOp()", "exten => 300,start-1,Hangup()"],
            [
                "s.conf:3: priority 'start-1' is not a number from 1, 'n', 's', 'hint' or a label"
                " 300 has above: Asterisk drops the line"
            ],
            id="label minus a number (pbx_config reads only '+')",
        ),
        pytest.param(
            ["exten => 100,hint,PJSIP/100", "same => n,Dial(PJSIP/100)"],
            ["s.conf:3: priority 'n' after a hint comes to 0: Asterisk drops the line"],
            id="n after a hint",
        ),
        pytest.param(
            ["exten => 95599,1"],
            ["s.conf:2: exten needs 'name,priority,application': nothing after the priority"],
            id="no application",
        ),
        pytest.param(
            ["exten => 95599,1,", "same => n,Hangup()"],
            ["s.conf:2: exten needs 'name,priority,application': nothing after the priority"],
            id="empty application, numbering goes on",
        ),
        pytest.param(
            ["exten => 95599"],
            ["s.conf:2: exten needs 'name,priority,application'"],
            id="no priority",
        ),
        pytest.param(
            ["exten => 1,x,NoOp()"],
            [
                "s.conf:2: priority 'x' is not a number from 1, 'n', 's', 'hint' or a label 1 has"
                " above: Asterisk drops the line"
            ],
            id="bad priority",
        ),
        pytest.param(
            ["exten => 1,1(menu,NoOp()"],
            [
                "s.conf:2: unbalanced parentheses (a ';' starts a comment): exten => 1,1(menu,"
                "NoOp()",
                "s.conf:2: label without its ')' in priority '1(menu': Asterisk drops the line",
            ],
            id="label without its parenthesis",
        ),
        pytest.param(
            ["exten => 1,1,NoOp(a\0b)"],
            ["s.conf:2: NUL byte in the line: Asterisk reads the line only up to it"],
            id="NUL byte",
        ),
        pytest.param(
            ["exten => 1,1,NoOp(a\x0bb)"],
            ["s.conf:2: control character U+000B in the line"],
            id="control character",
        ),
        pytest.param(
            ["exten => 1,1,NoOp()", "[Globals]", "FOO=1"],
            [
                "s.conf:3: [Globals] belongs to extensions.conf",
                "s.conf:4: 'FOO=' sets no variable in a context: Asterisk ignores the line"
                " (use Set() in an extension, or [globals] in extensions.conf)",
            ],
            id="globals in any case",
        ),
        pytest.param(
            ["exten => 1,1,NoOp()", ";-- the old menu:", "exten => 2,1,NoOp()"],
            [
                "s.conf:3: block comment ';--' never closed by '--;': Asterisk skips the rest of"
                " the file and the snippets sorted after it"
            ],
            id="block comment never closed",
        ),
        pytest.param(
            ["exten => 1,1,NoOp()", "same => n,NoOp(a--;b)", "exten => 2,1,NoOp()"],
            [
                "s.conf:3: '--;' closes no block comment: Asterisk skips every line after it,"
                " into the snippets sorted after this one, up to a ';--'"
            ],
            id="block comment closed but never opened",
        ),
    ],
)
def test_lines_asterisk_drops_are_errors(lines: list[str], errors: list[str]) -> None:
    assert errors_of(*lines) == errors


def test_what_asterisk_reads_passes() -> None:
    text = "\n".join(
        [
            "; a comment",
            "[c]",
            "Exten => 100,1,NoOp(${CALLERID(num)} $[1 + ${N}])  ; keywords in any case",
            " same => n(menu),Background(x)",
            " same => n+1,GotoIf($[${N} < 3]?menu)",
            "exten => 100,n,Hangup()",
            "exten => _[a-z,]X!,1,Hangup()",
            "exten => 101,hint,PJSIP/101",
            "exten = 101,1,Dial(PJSIP/101)",
            "include => d,09:00-17:00,mon-fri,*,*",
            "ignorepat => 9",
            "lswitch => Loopback/${EXTEN}@d",
            "[d]",
            "exten => s,1,Return()\r",
        ]
    )
    snip = parse_snippet(Path("s.conf"), text)
    assert snip.errors == []
    assert snip.contexts == {"c": {"100", "_[a-z,]X!", "101"}, "d": {"s"}}
    assert snip.includes == [("c", "d", 10)]


@pytest.mark.parametrize(
    "lines",
    [
        pytest.param(
            ["exten => 100,1,NoOp()", "exten => 101,1,NoOp()", "exten => 100,n,Hangup()"],
            id="n of an extension after another's line at the same priority",
        ),
        pytest.param(
            [
                "exten => 300,1(start),NoOp()",
                "exten => 301,1,NoOp()",
                "exten => 300,start+1,NoOp()",
                "same => n,Goto(start)",
            ],
            id="label of the extension as a priority",
        ),
        pytest.param(
            ["exten => 100,1,NoOp()", "exten => 100/555,s,NoOp()"],
            id="s on a new extension where it comes to 1",
        ),
    ],
)
def test_numbering_asterisk_gets_right_passes(lines: list[str]) -> None:
    """pbx_config keeps one running priority per context: 'n' is the line
    before's plus one, whichever extension that line was."""
    assert errors_of(*lines) == []


def test_block_comments_are_skipped() -> None:
    """config.c skips ';--' ... '--;', across lines and nested; ';---' only
    comments out the rest of its line."""
    text = "\n".join(
        [
            "[c]",
            ";------------------------------------------------",
            "exten => 1,1,NoOp(;-- inline --;x)",
            ";-- the old menu, kept for reference:",
            "extn => 2,1,NoOp(   ; not read",
            "  ;-- nested --;",
            "exten => 3,1,NoOp()",
            "--; same => n,Hangup()",
            "exten => 4,1,NoOp(a\\;b) ;-- a block from here",
            "[d] --;exten => 5,1,NoOp()",
        ]
    )
    snip = parse_snippet(Path("s.conf"), text + "\n")
    assert snip.errors == []
    assert snip.contexts == {"c": {"1", "4", "5"}}
    assert parse_snippet(Path("s.conf"), "[c]\nexten => 1,1,NoOp()\n--;--\n").errors == [
        "s.conf:3: not a dialplan line: --",  # ';--' wins over '--;': the '--' is read
        "s.conf:3: block comment ';--' never closed by '--;': Asterisk skips the rest of the"
        " file and the snippets sorted after it",
    ]


def write(directory: Path, files: dict[str, str]) -> Path:
    directory.mkdir(exist_ok=True)
    for name, text in files.items():
        (directory / name).write_text(text, encoding="utf-8")
    return directory


def test_include_of_a_context_defined_nowhere_is_a_warning(tmp_path: Path) -> None:
    """Asterisk loads it (and logs a warning)."""
    write(
        tmp_path,
        {
            "10-a.conf": "[a]\ninclude => hotline-statc\ninclude => parkedcalls\n"
            "exten => 1,1,Hangup()\n",
        },
    )
    [snip] = check_set(tmp_path, required=())
    assert snip.errors == []
    assert snip.warnings == [
        "10-a.conf:2: [a] includes [hotline-statc], which no snippet defines: Asterisk includes"
        " nothing"
    ]


@pytest.mark.parametrize(
    ("files", "warnings"),
    [
        pytest.param(
            {"10-a.conf": "[a]\ninclude => a\n"},
            ["10-a.conf:2: include loop: a -> a (Asterisk skips a context already searched)"],
            id="a context including itself",
        ),
        pytest.param(
            {
                "10-a.conf": "[a]\ninclude => b\nexten => 1,1,Hangup()\n",
                "20-b.conf": "[b]\ninclude => c\n[c]\ninclude => a\n",
            },
            [
                "20-b.conf:4: include loop: a -> b -> c -> a (Asterisk skips a context already"
                " searched)"
            ],
            id="a loop across snippets",
        ),
    ],
)
def test_include_loop_is_a_warning(
    tmp_path: Path, files: dict[str, str], warnings: list[str]
) -> None:
    """pbx.c's search keeps the contexts it has looked in and skips them: a
    loop loads and works, so it must not stop an install."""
    snippets = check_set(write(tmp_path, files), required=())
    assert [e for s in snippets for e in s.errors] == []
    assert [w for s in snippets for w in s.warnings] == warnings


UNDEFINED = (
    "which no snippet defines: Asterisk hangs them up ('sent to invalid extension') unless"
    " this site defines it elsewhere"
)


@pytest.mark.parametrize(
    ("line", "warnings"),
    [
        pytest.param(
            "Goto(hotline-typo,95598,1)",
            [f"[power] Goto sends calls to [hotline-typo], {UNDEFINED}"],
            id="Goto",
        ),
        pytest.param(
            "Gosub(hotline-enqeue,s,1(c,${AGI_APP_QUEUE_TIMEOUT}))",
            [f"[power] Gosub sends calls to [hotline-enqeue], {UNDEFINED}"],
            id="Gosub with arguments",
        ),
        pytest.param(
            'GotoIf($["${X}" = "1"]?nowhere,s,1:elsewhere,${EXTEN},1)',
            [
                f"[power] GotoIf sends calls to [nowhere], {UNDEFINED}",
                f"[power] GotoIf sends calls to [elsewhere], {UNDEFINED}",
            ],
            id="GotoIf, both branches",
        ),
        pytest.param(
            "GosubIf($[${IF($[1]?1:0)}]?sub,s,1(a,b):hotline,s,1)",
            [f"[power] GosubIf sends calls to [sub], {UNDEFINED}"],
            id="GosubIf past a ? and : in the condition",
        ),
        pytest.param(
            "Dial(Local/100@agents/n&PJSIP/100,30)",
            [f"[power] Dial sends calls to [agents], {UNDEFINED}"],
            id="Dial Local",
        ),
        pytest.param(
            "goto(HOTLINE,s,1)",
            [f"[power] goto sends calls to [HOTLINE], {UNDEFINED}"],
            id="any case; context names are case-sensitive",
        ),
        pytest.param("Goto(hotline-static,s,1)", [], id="a context of the set"),
        pytest.param("Goto(parkedcalls,701,1)", [], id="a built-in context"),
        pytest.param("Goto(power,1,1)", [], id="its own context"),
        pytest.param("Goto(${SITE_CONTEXT},s,1)", [], id="computed"),
        pytest.param("Gosub($[1 ? a : b],s,1)", [], id="computed expression"),
        pytest.param("Goto(s,1)", [], id="2 parts: this context"),
        pytest.param("GotoIf($[1]?menu:s,1)", [], id="GotoIf with short labels"),
        pytest.param("Dial(Local/${EXTEN}@${CTX})", [], id="Dial Local, computed"),
        pytest.param("NoOp(Goto(nowhere,s,1))", [], id="text of another application"),
    ],
)
def test_a_jump_to_a_context_defined_nowhere_is_a_warning(
    tmp_path: Path, line: str, warnings: list[str]
) -> None:
    """`dialplan install` said "Installed and verified" for a snippet with
    Goto(hotline-typo,95598,1), and every call sent there was hung up. A site
    may define the context outside the snippets: a warning, not an error."""
    write(tmp_path, {"60-power.conf": f"[power]\nexten => 1,1,{line}\n"})
    write(tmp_path, {"10-hotline.conf": "[hotline]\nexten => s,1,Hangup()\n"})
    write(tmp_path, {"40-static.conf": "[hotline-static]\nexten => s,1,Hangup()\n"})
    snippets = check_set(tmp_path, required=())
    assert [e for s in snippets for e in s.errors] == []
    assert [w for s in snippets for w in s.warnings] == [f"60-power.conf:2: {w}" for w in warnings]


def test_stack_start_says_the_warnings_too(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`stack setup`/`start` copy the snippets in before Asterisk starts: they
    said nothing of a Goto to a context that exists nowhere."""
    shutil.copytree(PROJECT_ROOT / "dialplan", tmp_path / "snippets")
    write(tmp_path / "snippets", {"60-power.conf": "[power]\nexten => 1,1,Goto(typo,s,1)\n"})
    s = Settings(dialplan_dir=tmp_path / "snippets", asterisk_root=tmp_path / "root")
    install_snippets_offline(s)
    out, err = capsys.readouterr()
    assert err == f"warning: 60-power.conf:2: [power] Goto sends calls to [typo], {UNDEFINED}\n"
    assert out == "==> Installed 7 dialplan snippet(s) into extensions.d (1 warning(s) above)\n"
    assert (tmp_path / "root/etc/asterisk/extensions.d/60-power.conf").exists()


@pytest.mark.parametrize(
    ("files", "error"),
    [
        pytest.param(
            {"60-power.conf": "[from-sip]\nexten => 95598,1,Goto(hotline,95598,1)\n"},
            "60-power.conf: context [from-sip] is already defined in 10-hotline.conf; a context"
            " lives in one snippet. A new number needs no dialplan: [from-sip]'s _X. pattern"
            " already sends every number to the app, so a flow with that number in"
            " entry_numbers is enough. To change [from-sip], edit 10-hotline.conf",
            id="a number added to [from-sip]",
        ),
        pytest.param(
            {
                "60-power.conf": "[power]\nexten => 1,1,Hangup()\n",
                "70-more.conf": "[power]\nexten => 2,1,Hangup()\n",
            },
            "70-more.conf: context [power] is already defined in 60-power.conf; a context"
            " lives in one snippet. To change [power], edit 60-power.conf",
            id="a site's own context",
        ),
    ],
)
def test_a_context_defined_again_says_what_to_do(
    tmp_path: Path, files: dict[str, str], error: str
) -> None:
    """An admin adding a number in a new snippet read only "context [from-sip]
    also in 10-hotline.conf"."""
    shutil.copytree(PROJECT_ROOT / "dialplan", tmp_path / "snippets")
    snippets = check_set(write(tmp_path / "snippets", files))
    assert [e for s in snippets for e in s.errors] == [error]


def test_shipped_snippets_pass() -> None:
    snippets = check_set(PROJECT_ROOT / "dialplan")
    assert [e for s in snippets for e in s.errors + s.warnings] == []
    assert {"from-sip", "hotline", "hotline-static"} <= {c for s in snippets for c in s.contexts}
