"""Flow files refused at load time, with errors that name the file, node and field."""

from __future__ import annotations

import codecs
from pathlib import Path

import pytest
from pydantic import BaseModel

from agi_app.core.flows.graph import to_dot
from agi_app.core.flows.loader import FlowSet, Known, load_flowset
from agi_app.core.flows.source import MAX_FILE_BYTES
from agi_app.core.flows.transactions import TransactionRegistry, TransactionSpec, TxContext
from agi_app.core.routing.config import load_queues, load_service, queue_names
from agi_app.service.business import business_transactions
from agi_app.service.flows.registry import FlowLoadError, FlowRegistry
from agi_app.settings import PROJECT_ROOT


class CardArgs(BaseModel):
    card: str


class CardBalance(BaseModel):
    balance: str


async def card_balance(_args: CardArgs, _ctx: TxContext) -> CardBalance:
    return CardBalance(balance="1.00")


TX = TransactionRegistry([TransactionSpec("card_balance", CardArgs, CardBalance, card_balance)])

KNOWN = Known(queues={"support", "vip"}, transactions=TX, grades={"diamond", "gold", "standard"})
BASE = """\
id: t
default: true
start: main
nodes:
  main:
    type: menu
    prompt: 主菜单
    choices: {"1": bye}
    on_failure: bye
  bye: {type: hangup}
"""


def with_node(choice: str, node: str) -> str:
    """BASE with digit 1 going to ``choice`` and one more node."""
    return BASE.replace('{"1": bye}', '{"1": %s}' % choice) + f"  {node}\n"  # noqa: UP031


def write(directory: Path, files: dict[str, str]) -> None:
    directory.mkdir(exist_ok=True)
    for name, text in files.items():
        (directory / name).write_text(text, encoding="utf-8")


def load(directory: Path, known: Known = KNOWN) -> tuple[FlowSet | None, list[str]]:
    flows, errors = load_flowset([directory], known)
    return flows, [str(e) for e in errors]


BRANCH = "b: {type: branch, cases: [{when: %s, goto: bye}], default: bye}"

CASES = [
    pytest.param(
        {"t.yaml": BASE.replace('{"1": bye}', '{"1": bye, "3": nowhere}')},
        ["t.yaml: node 'main' field 'choices.3': unknown target 'nowhere'"],
        id="unknown target",
    ),
    pytest.param(
        {"t.yaml": BASE.replace("start: main", "start: nope")},
        [
            "t.yaml field 'start': unknown start node 'nope'",
            "t.yaml: node 'main': unreachable from the start node",
            "t.yaml: node 'bye': unreachable from the start node",
        ],
        id="unknown start",
    ),
    pytest.param(
        {"t.yaml": BASE + "  lonely: {type: hangup}\n"},
        ["t.yaml: node 'lonely': unreachable from the start node"],
        id="unreachable node",
    ),
    pytest.param(
        {
            "t.yaml": with_node("a", "a: {type: play, prompts: [x], next: b}")
            + "  b: {type: set, values: {k: 1}, next: a}\n"
        },
        ["t.yaml: node 'a': loop with no caller input: a -> b -> a"],
        id="loop with no caller input",
    ),
    pytest.param(
        {
            "a.yaml": with_node("g", "g: {type: goto, flow: u}"),
            "u.yaml": "id: u\nstart: g\nnodes:\n  g: {type: goto, flow: t, node: g}\n",
        },
        ["a.yaml: node 'g': loop with no caller input: g -> u:g -> g"],
        id="goto loop across flows",
    ),
    pytest.param(
        {
            "t.yaml": BASE.replace('{"1": bye}', '{"1": main}')
            .replace("on_failure: bye", "on_failure: main")
            .replace("  bye: {type: hangup}\n", "")
        },
        [
            "t.yaml: node 'main': the call can never end from here: no hangup, transfer or return"
            " is reachable"
        ],
        id="menu that only leads back to itself",
    ),
    pytest.param(
        {
            "t.yaml": with_node(
                "sub", "sub: {type: menu, prompt: x, choices: {'2': more}, on_failure: sub}"
            )
            + "  more: {type: play, prompts: [y], next: sub}\n"
        },
        [
            "t.yaml: node 'sub': the call can never end from here: no hangup, transfer or return"
            " is reachable"
        ],
        id="sub-menu with no way out",
    ),
    pytest.param(
        {
            "t.yaml": with_node(
                "tx", "tx: {type: transaction, name: nope, on_success: bye, on_failure: bye}"
            )
        },
        ["t.yaml: node 'tx' field 'name': unknown transaction 'nope' (known: card_balance)"],
        id="unknown transaction",
    ),
    pytest.param(
        {
            "t.yaml": with_node(
                "tx",
                "tx: {type: transaction, name: card_balance, args: {pin: '1'},"
                " on_success: bye, on_failure: bye}",
            )
        },
        [
            "t.yaml: node 'tx' field 'args': unknown argument 'pin' for card_balance",
            "t.yaml: node 'tx' field 'args': missing argument 'card' for card_balance",
        ],
        id="bad transaction args",
    ),
    pytest.param(
        {"t.yaml": with_node("q", "q: {type: transfer, queue: sales, on_status: {default: bye}}")},
        ["t.yaml: node 'q' field 'queue': unknown queue 'sales' (known: support, vip)"],
        id="unknown queue",
    ),
    pytest.param(
        {"t.yaml": with_node("q", "q: {type: transfer, queue: vip, on_status: {BUSY: bye}}")},
        [
            "t.yaml: node 'q' field 'on_status': Value error, unknown queue status ['BUSY']; use "
            "ANSWERED, TIMEOUT, FULL, JOINEMPTY, LEAVEEMPTY, JOINUNAVAIL, LEAVEUNAVAIL, CONTINUE, "
            "default"
        ],
        id="unknown queue status",
    ),
    pytest.param(
        {"t.yaml": BASE.replace("prompt: 主菜单", "prompt: {zh: 主菜单, fr: menu}")},
        ["t.yaml: node 'main' field 'prompt': no voice for prompt language 'fr'"],
        id="unknown prompt language",
    ),
    pytest.param(
        {"t.yaml": BASE.replace("prompt: 主菜单", 'prompt: "余额{balance:money}"')},
        [
            "t.yaml: node 'main' field 'prompt': unknown format {balance:money} "
            "(use amount, number, count, digits, phone, date)"
        ],
        id="unknown placeholder format",
    ),
    pytest.param(
        {"t.yaml": BASE.replace("prompt: 主菜单", 'prompt: "余额{balance"')},
        ["t.yaml: node 'main' field 'prompt': bad placeholder: expected '}' before end of string"],
        id="unclosed placeholder",
    ),
    pytest.param(
        {"t.yaml": BASE.replace("prompt: 主菜单", 'prompt: " "')},
        ["t.yaml: node 'main' field 'prompt': empty prompt"],
        id="empty prompt",
    ),
    pytest.param(
        {"t.yaml": BASE.replace('{"1": bye}', '{"12": bye}')},
        [
            "t.yaml: node 'main' field 'choices': Value error, choice keys must be single digits "
            "0-9 or #, not ['12']"
        ],
        id="choice key of two digits",
    ),
    pytest.param(
        {"t.yaml": BASE.replace('{"1": bye}', '{"*": bye}')},
        [
            "t.yaml: node 'main' field 'choices': Value error, choice keys must be single digits "
            "0-9 or #, not ['*']"
        ],
        id="choice key star",
    ),
    pytest.param(
        {
            "a.yaml": BASE.replace("default: true", "entry_numbers: ['100', '200']"),
            "b.yaml": BASE.replace("id: t", "id: u").replace(
                "default: true", "entry_numbers: ['200']"
            ),
        },
        ["b.yaml field 'entry_numbers': number 200 also enters flow 't' in a.yaml"],
        id="duplicate entry number across files",
    ),
    pytest.param(
        {"t.yaml": BASE.replace("default: true", "entry_numbers: ['100', '100']")},
        ["t.yaml field 'entry_numbers': number 100 listed twice"],
        id="number listed twice in one flow",
    ),
    pytest.param(
        {"a.yaml": BASE, "b.yaml": BASE.replace("id: t", "id: u")},
        ["b.yaml field 'default': only one flow may be default (also 't' in a.yaml)"],
        id="two default flows",
    ),
    pytest.param(
        {"a.yaml": BASE, "b.yaml": BASE.replace("default: true", "default: false")},
        ["b.yaml field 'id': flow id 't' also in a.yaml"],
        id="duplicate flow id",
    ),
    pytest.param(
        {"t.yaml": with_node("g", "g: {type: goto, flow: nope}")},
        ["t.yaml: node 'g' field 'flow': unknown flow 'nope'"],
        id="goto unknown flow",
    ),
    pytest.param(
        {"t.yaml": with_node("g", "g: {type: goto, flow: t, node: nowhere}")},
        ["t.yaml: node 'g' field 'node': unknown node 'nowhere' in flow 't'"],
        id="goto unknown node",
    ),
    pytest.param(
        {
            "t.yaml": with_node(
                "i",
                "i: {type: input, prompt: x, store_as: c, pattern: '[',"
                " next: bye, on_failure: bye}",
            )
        },
        [
            "t.yaml: node 'i' field 'pattern': bad regular expression: unterminated character set"
            " at position 0"
        ],
        id="bad input pattern",
    ),
    pytest.param(
        {"t.yaml": with_node("b", BRANCH % '{var: account, matches: "(["}')},
        [
            "t.yaml: node 'b' field 'cases.0.when.matches': Value error, bad regular expression:"
            " unterminated character set at position 1"
        ],
        id="bad condition regex",
    ),
    pytest.param(
        {"t.yaml": with_node("b", BRANCH % '{matches: "1.*"}')},
        [
            "t.yaml: node 'b' field 'cases.0.when': Value error, matches tests a bus value:"
            " name it with var"
        ],
        id="condition test without var",
    ),
    pytest.param(
        {
            "t.yaml": with_node(
                "i",
                "i: {type: input, prompt: x, store_as: c, min_length: 6, max_length: 4,"
                " next: bye, on_failure: bye}",
            )
        },
        ["t.yaml: node 'i': Value error, min_length 6 is more than max_length 4"],
        id="input min_length over max_length",
    ),
    pytest.param(
        {"t.yaml": with_node("b", BRANCH % "{grade_in: [diamnd], grade_not_in: [gold, vip]}")},
        [
            "t.yaml: node 'b' field 'cases.0.when.grade_in': unknown grade 'diamnd' (known:"
            " diamond, gold, standard, unknown)",
            "t.yaml: node 'b' field 'cases.0.when.grade_not_in': unknown grade 'vip' (known:"
            " diamond, gold, standard, unknown)",
        ],
        id="unknown grade",
    ),
    pytest.param(
        {
            "t.yaml": with_node(
                "d",
                "d: {type: dynamic_menu, items: [{label: x, target: bye,"
                " when: {grade_in: [silver]}}], on_failure: bye}",
            )
        },
        [
            "t.yaml: node 'd' field 'items.0.when.grade_in': unknown grade 'silver' (known:"
            " diamond, gold, standard, unknown)"
        ],
        id="unknown grade in a dynamic menu item",
    ),
    pytest.param(
        {
            "t.yaml": BASE.replace(
                "default: true",
                "entry_numbers: ['95 598', '', abc, '+8610086', '1234567890123456']",
            )
        },
        [
            f"t.yaml field 'entry_numbers': number {n!r} is never a called number: digits only,"
            " 2 to 15 of them (no spaces, dashes or '+')"
            for n in ["95 598", "", "abc", "+8610086", "1234567890123456"]
        ],
        id="entry numbers that cannot be dialled",
    ),
    pytest.param(
        {"t.yaml": BASE.replace('choices: {"1": bye}', 'choices: {"1": bye')},
        [
            't.yaml: not valid YAML: while parsing a flow mapping in "<byte string>", line 8, '
            "column 14: choices: {\"1\": bye ^ expected ',' or '}', but got ':' in "
            '"<byte string>", line 9, column 15: on_failure: bye ^'
        ],
        id="invalid YAML",
    ),
    pytest.param(
        {"t.yaml": BASE + "  main: {type: hangup}\n"},
        ["t.yaml: node 'main' defined twice (lines 5 and 11)"],
        id="node defined twice",
    ),
    pytest.param(
        {"t.yaml": BASE + "start: bye\n"},
        ["t.yaml: key 'start' repeated (lines 3 and 11)"],
        id="top-level key repeated",
    ),
    pytest.param(
        {
            "t.yaml": BASE.replace(
                "    on_failure: bye\n", "    on_failure: bye\n    on_failure: main\n"
            )
        },
        ["t.yaml: node 'main': key 'on_failure' repeated (lines 9 and 10)"],
        id="node field repeated",
    ),
    pytest.param(
        {"t.yaml": BASE.replace("prompt: 主菜单", "prompt: {zh: 主菜单, zh: 菜单}")},
        ["t.yaml: node 'main' field 'prompt': key 'zh' repeated (lines 7 and 7)"],
        id="prompt language repeated",
    ),
    pytest.param(
        {"t.yaml": "[" * 1200 + "]" * 1200 + "\n"},
        ["t.yaml: not valid YAML: nested too deeply"],
        id="nested too deeply",
    ),
    pytest.param(
        {"t.yaml": "- a\n- b\n"},
        ["t.yaml: a flow file must be a mapping"],
        id="not a mapping",
    ),
    pytest.param(
        {"t.yaml": BASE.replace("    on_failure: bye\n", "    on_failure: bye\n    colour: red\n")},
        ["t.yaml: node 'main' field 'colour': Extra inputs are not permitted"],
        id="extra node field",
    ),
    pytest.param(
        {"t.yaml": BASE + "owner: me\n"},
        ["t.yaml field 'owner': Extra inputs are not permitted"],
        id="extra flow field",
    ),
    pytest.param(
        {"t.yaml": BASE.replace("    on_failure: bye\n", "", 1)},
        ["t.yaml: node 'main' field 'on_failure': Field required"],
        id="missing field",
    ),
    pytest.param(
        {"t.yaml": BASE.replace("type: menu", "type: menuu")},
        [
            "t.yaml: node 'main': Input tag 'menuu' found using 'type' does not match any of the "
            "expected tags: 'play', 'menu', 'input', 'transaction', 'branch', 'dynamic_menu', "
            "'transfer', 'goto', 'return', 'set', 'hangup'"
        ],
        id="unknown node type",
    ),
]


@pytest.mark.parametrize(("files", "errors"), CASES)
def test_bad_flows_are_refused(tmp_path: Path, files: dict[str, str], errors: list[str]) -> None:
    write(tmp_path, files)
    flows, got = load(tmp_path)
    assert got == errors
    assert flows is None


def test_same_flow_id_in_two_folders_names_both_paths(tmp_path: Path) -> None:
    """`flows check flows/ mycopy/` said "also in bank_95555.yaml": which one?"""
    write(tmp_path / "flows", {"t.yaml": BASE})
    write(tmp_path / "mycopy", {"t.yaml": BASE})
    flows, errors = load_flowset([tmp_path / "flows", tmp_path / "mycopy"], KNOWN)
    assert [str(e) for e in errors] == [
        f"{tmp_path}/mycopy/t.yaml field 'id': flow id 't' also in {tmp_path}/flows/t.yaml"
    ]
    assert flows is None


def test_folder_given_twice_is_read_once(tmp_path: Path) -> None:
    write(tmp_path, {"t.yaml": BASE})
    flows, errors = load_flowset([tmp_path, tmp_path / "." / "t.yaml"], KNOWN)
    assert errors == []
    assert flows is not None
    assert flows.files == {"t": "t.yaml"}


def test_file_not_in_utf8_names_the_line(tmp_path: Path) -> None:
    """A flow saved as GBK: the error says so, and where, instead of PyYAML's
    "unacceptable character #x00d6 ... position 74"."""
    tmp_path.joinpath("t.yaml").write_bytes(BASE.encode("gbk"))
    flows, errors = load(tmp_path)
    assert errors == [
        "t.yaml: not UTF-8: line 7 has a byte (0xD6) that is not UTF-8; save the file as UTF-8"
        " (not GBK or another local encoding)"
    ]
    assert flows is None


@pytest.mark.parametrize(
    "encoded",
    [
        pytest.param(BASE.encode("utf-16"), id="utf-16 with the machine's BOM"),
        pytest.param(codecs.BOM_UTF16_LE + BASE.encode("utf-16-le"), id="utf-16-le BOM"),
        pytest.param(codecs.BOM_UTF16_BE + BASE.encode("utf-16-be"), id="utf-16-be BOM"),
        pytest.param(codecs.BOM_UTF8 + BASE.encode("utf-8"), id="utf-8 BOM"),
    ],
)
def test_file_with_a_byte_order_mark_loads(tmp_path: Path, encoded: bytes) -> None:
    """Windows Notepad saves "Unicode" as UTF-16 with a BOM; PyYAML read it
    before the UTF-8 check refused it."""
    tmp_path.joinpath("t.yaml").write_bytes(encoded)
    flows, errors = load(tmp_path)
    assert errors == []
    assert flows is not None
    assert flows.flows["t"].nodes["main"].prompt == "主菜单"  # type: ignore[union-attr]


def test_broken_utf16_names_the_line(tmp_path: Path) -> None:
    tmp_path.joinpath("t.yaml").write_bytes(BASE.encode("utf-16")[:-1])
    flows, errors = load(tmp_path)
    assert errors == [
        "t.yaml: not UTF-16: line 10 has a broken UTF-16 character (it starts with a UTF-16"
        " byte-order mark); save the file as UTF-8 (not GBK or another local encoding)"
    ]
    assert flows is None


def test_anchors_and_merge_keys_are_not_repeats(tmp_path: Path) -> None:
    text = BASE.replace("prompt: 主菜单", "prompt: &p {zh: 主菜单}") + (
        "  again:\n    <<: {type: hangup, cause: 17}\n    cause: 16\n    prompt: *p\n"
    )
    write(tmp_path, {"t.yaml": text.replace('{"1": bye}', '{"1": again}')})
    flows, errors = load(tmp_path)
    assert errors == []
    assert flows is not None
    assert flows.flows["t"].nodes["again"].cause == 16  # type: ignore[union-attr]


def test_flows_that_end_by_return_transfer_or_last_play_load(tmp_path: Path) -> None:
    sub = (
        "id: sub\nstart: hello\nnodes:\n"
        "  hello: {type: menu, prompt: x, choices: {'1': back, '0': agent}, on_failure: last}\n"
        "  back: {type: return}\n"
        "  agent: {type: transfer, queue: support, on_status: {default: hello}}\n"
        "  last: {type: play, prompts: [bye]}\n"
    )
    write(
        tmp_path,
        {"t.yaml": with_node("g", "g: {type: goto, flow: sub, return_to: main}"), "sub.yaml": sub},
    )
    flows, errors = load(tmp_path)
    assert errors == []
    assert flows is not None


def test_conditions_that_can_hold_load(tmp_path: Path) -> None:
    when = r"{var: account, matches: '\d{4,8}', grade_in: [diamond, unknown]}"
    write(tmp_path, {"t.yaml": with_node("b", BRANCH % when)})
    flows, errors = load(tmp_path)
    assert errors == []
    assert flows is not None


def test_good_flow_loads(tmp_path: Path) -> None:
    write(tmp_path, {"t.yaml": BASE})
    flows, errors = load(tmp_path)
    assert errors == []
    assert flows is not None
    assert flows.default == "t"
    assert flows.files == {"t": "t.yaml"}
    assert flows.for_number("anything") is flows.flows["t"]


@pytest.mark.parametrize(
    "nodes",
    [
        # a goto to itself, and two gotos to each other: no caller input in the cycle
        ["g: {type: goto, flow: t, node: g}"],
        ["g: {type: goto, flow: t, node: h}", "h: {type: goto, flow: t, node: g}"],
    ],
)
def test_loop_through_goto_is_refused(tmp_path: Path, nodes: list[str]) -> None:
    """A cycle closed by goto spins like any other loop without caller input."""
    text = BASE.replace('{"1": bye}', '{"1": g}') + "".join(f"  {n}\n" for n in nodes)
    write(tmp_path, {"t.yaml": text})
    flows, errors = load(tmp_path)
    assert any("loop with no caller input" in e for e in errors), errors
    assert flows is None


CALLER = with_node("g", "g: {type: goto, flow: b, return_to: check}") + (
    "  check: {type: branch, cases: [{when: {var: again, present: true}, goto: g}], default: bye}\n"
)
B_MENU = (
    "id: b\nstart: m\nnodes:\n"
    "  m: {type: menu, prompt: x, choices: {'1': back}, on_failure: back}\n"
    "  back: {type: return}\n"
)


def test_goto_and_back_through_a_menu_is_no_silent_loop(tmp_path: Path) -> None:
    """A goto with return_to goes through the other flow before it gets back:
    when that flow waits for the caller, going round again is no spin."""
    write(tmp_path, {"t.yaml": CALLER, "b.yaml": B_MENU})
    flows, errors = load(tmp_path)
    assert errors == []
    assert flows is not None


@pytest.mark.parametrize(
    ("b", "errors"),
    [
        pytest.param(
            "id: b\nstart: back\nnodes:\n  back: {type: return}\n",
            ["b.yaml: node 'back': loop with no caller input: back -> t:check -> t:g -> back"],
            id="the other flow returns at once",
        ),
        pytest.param(
            "id: b\nstart: s\nnodes:\n"
            "  s: {type: goto, flow: c, return_to: back}\n  back: {type: return}\n",
            [
                "b.yaml: node 's': loop with no caller input: s -> c:back -> back -> t:check"
                " -> t:g -> s"
            ],
            id="through a third flow and back",
        ),
    ],
)
def test_goto_and_back_with_no_input_on_the_way_is_refused(
    tmp_path: Path, b: str, errors: list[str]
) -> None:
    c = "id: c\nstart: back\nnodes:\n  back: {type: return}\n"
    write(tmp_path, {"t.yaml": CALLER, "b.yaml": b, "c.yaml": c})
    flows, got = load(tmp_path)
    assert got == errors
    assert flows is None


def test_return_to_that_can_never_end_is_reported(tmp_path: Path) -> None:
    """The return leads the call to return_to: a part it cannot leave is
    reported where the call comes into it."""
    stuck = "  stuck: {type: menu, prompt: x, choices: {'1': stuck}, on_failure: stuck}\n"
    t = with_node("g", "g: {type: goto, flow: b, return_to: stuck}") + stuck
    write(tmp_path, {"t.yaml": t, "b.yaml": B_MENU})
    _, errors = load(tmp_path)
    assert errors == [
        "t.yaml: node 'stuck': the call can never end from here: no hangup, transfer or return"
        " is reachable"
    ]


def chain(length: int, last: str) -> str:
    """A flow of ``length`` play nodes in a row, the last one going to ``last``."""
    nodes = "".join(
        f"  p{i}: {{type: play, prompts: [x], next: p{i + 1}}}\n" for i in range(length - 1)
    )
    return (
        f"id: t\ndefault: true\nstart: p0\nnodes:\n{nodes}"
        f"  p{length - 1}: {{type: play, prompts: [x], next: {last}}}\n"
        + ("  bye: {type: hangup}\n" if last == "bye" else "")
    )


def test_long_chain_of_nodes_is_checked(tmp_path: Path) -> None:
    """The graph walks keep their own stack: 1,000 nodes in a row hit the
    recursion limit when they recursed."""
    write(tmp_path, {"t.yaml": chain(1500, "bye")})
    flows, errors = load(tmp_path)
    assert errors == []
    assert flows is not None


def test_long_loop_with_no_caller_input_is_reported_once(tmp_path: Path) -> None:
    write(tmp_path, {"t.yaml": chain(1500, "p0")})
    flows, errors = load(tmp_path)
    assert errors == [
        "t.yaml: node 'p0': loop with no caller input: p0 -> p1 -> p2 -> p3 -> p4 -> ... 1491 more"
        " ... -> p1496 -> p1497 -> p1498 -> p1499 -> p0"
    ]
    assert flows is None


def test_oversized_file_is_refused_unparsed(tmp_path: Path) -> None:
    padding = "# " + "x" * 98 + "\n"
    write(tmp_path, {"t.yaml": BASE + padding * (MAX_FILE_BYTES // len(padding) + 1)})
    flows, errors = load(tmp_path)
    assert errors == [
        "t.yaml: larger than 1 MB: split it into several flows (a goto node jumps from one to"
        " another)"
    ]
    assert flows is None


def test_unreadable_file_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "t.yaml").mkdir(parents=True)  # a folder named like a flow file
    flows, errors = load(tmp_path)
    assert errors == ["t.yaml: cannot read: Is a directory"]
    assert flows is None


def shipped_known() -> Known:
    config = PROJECT_ROOT / "config"
    grades = load_service(config / "service.yaml", load_queues(config / "queues.yaml")).grades
    return Known(
        queues=queue_names(config), transactions=business_transactions(), grades=set(grades)
    )


def test_shipped_flows_load() -> None:
    flows, errors = load(PROJECT_ROOT / "flows", shipped_known())
    assert errors == []
    assert flows is not None
    assert {"demo_ivr", "mobile_10086", "bank_95555"} <= set(flows.flows)
    assert flows.default == "demo_ivr"
    assert flows.by_number["10086"] == "mobile_10086"
    assert flows.by_number["95555"] == "bank_95555"


async def test_reload_refuses_an_invalid_set_and_keeps_the_running_one(tmp_path: Path) -> None:
    write(tmp_path, {"t.yaml": BASE})
    registry = FlowRegistry(tmp_path, KNOWN)
    running = registry.current  # what a call in progress holds

    write(tmp_path, {"t.yaml": BASE.replace('{"1": bye}', '{"1": nowhere}')})
    assert await registry.reload() == {
        "ok": False,
        "version": running.version,
        "errors": ["t.yaml: node 'main' field 'choices.1': unknown target 'nowhere'"],
    }
    assert registry.current is running

    write(tmp_path, {"t.yaml": BASE.replace("主菜单", "新菜单")})
    result = await registry.reload()
    assert result == {"ok": True, "version": registry.current.version, "previous": running.version}
    assert registry.current.version != running.version
    assert registry.current.flows["t"].nodes["main"].prompt == "新菜单"  # type: ignore[union-attr]
    # the call that started before the reload still walks the old set
    assert running.flows["t"].nodes["main"].prompt == "主菜单"  # type: ignore[union-attr]


def test_registry_refuses_to_start_with_invalid_flows(tmp_path: Path) -> None:
    write(tmp_path, {"t.yaml": BASE + "  lonely: {type: hangup}\n"})
    with pytest.raises(FlowLoadError) as caught:
        FlowRegistry(tmp_path, KNOWN)
    assert str(caught.value) == (
        "invalid flows:\n  t.yaml: node 'lonely': unreachable from the start node"
    )


def test_graph_to_dot(tmp_path: Path) -> None:
    write(tmp_path, {"t.yaml": BASE.replace('{"1": bye}', '{"1": bye, "2": bye}')})
    flows, _ = load(tmp_path)
    assert flows is not None
    dot = to_dot(flows.flows["t"])
    assert dot.startswith('digraph "t" {')
    assert '"__start" -> "main";' in dot
    assert '"main" [shape=box3d, label="main\\n[menu]\\n主菜单"];' in dot
    assert '"bye" [shape=doublecircle, label="bye\\n[hangup]\\ncause 16"];' in dot
    assert '"main" -> "bye" [label="press 1"];' in dot
    assert '"main" -> "bye" [label="press 2"];' in dot
    assert '"main" -> "bye" [label="failure"];' in dot
