"""Reading the profilers' output for `agi-app bench --profile`."""

from __future__ import annotations

import pytest

from agi_app.tools.bench import profparse as pp

# As Asterisk 22.10 prints it, columns narrowed (they vary between versions;
# the processed count is the first number).
TASKPROCESSORS = "\n".join(
    [
        "Processor  Processed  In Queue  Max Depth  Low water  High water  Low time(us)",
        "ast_msg_queue  0  0  0  450  500  0  0",
        "pjsip/distributor-0000001d  10  0  3  450  500  0  0",
        "pjsip/distributor-0000001e  12  0  2  450  500  0  0",
        "stasis/m:channel:all-00000004  500  0  40  450  500  1  90",
        "taskpool/s:stasis-00000003  1  0  1  450  500  0  1",
        "",
        "97 taskprocessors",
    ]
)


def test_taskprocessors_parsed_and_summed_by_family() -> None:
    before = pp.parse_taskprocessors(TASKPROCESSORS)
    assert before["pjsip/distributor-0000001d"] == 10 and len(before) == 5
    after = {**before, "pjsip/distributor-0000001d": 110, "pjsip/distributor-0000001e": 212}
    after["stasis/m:channel:all-00000004"] = 1500
    after["app_stasis/channel-000000aa"] = 7  # made during the run
    got = pp.taskprocessor_delta(before, after)
    assert got == [
        pp.FamilyCount("stasis/m:channel:all", 1, 1000),
        pp.FamilyCount("pjsip/distributor", 2, 300),
        pp.FamilyCount("app_stasis/channel", 1, 7),
    ]


def test_collapsed_stacks_own_and_inclusive() -> None:
    raw = (
        "<module> (run.py:3);serve (agi_app/service/call.py:57);lookup (pg.py:10) 6\n"
        "<module> (run.py:3);serve (agi_app/service/call.py:60);send (ws.py:5) 3\n"
        "<module> (run.py:3);_run_once (uvloop:1) 1\n"
        "garbage\n"
    )
    top = pp.collapsed_top(raw, n=3)
    assert top.samples == 10
    assert top.own == [("lookup (pg.py)", 6), ("send (ws.py)", 3), ("_run_once (uvloop)", 1)]
    # one function on two lines of one file counts once per sample
    assert top.total[:2] == [("<module> (run.py)", 10), ("serve (agi_app/service/call.py)", 9)]


def test_perf_report_rows() -> None:
    text = (
        "# Samples: 9  of event 'cpu-clock'\n#\n"
        "    44.44%  [kernel.kallsyms]   [k] finish_task_switch.isra.0\n"
        "    11.11%  libasteriskpj.so.2  [.] pj_ioqueue_poll\n\n#\n"
    )
    assert pp.perf_rows(text) == [
        (44.44, "[kernel.kallsyms] [k] finish_task_switch.isra.0"),
        (11.11, "libasteriskpj.so.2 [.] pj_ioqueue_poll"),
    ]


@pytest.mark.parametrize(
    ("output", "rc", "hardware"),
    [
        ("   <not supported>      instructions\n", 0, False),
        ("         1,234,567      instructions   #  0.80  insn per cycle\n", 0, True),
        ("Error: No permission\n", 255, False),
    ],
)
def test_hardware_events(output: str, rc: int, hardware: bool) -> None:
    assert pp.hardware_events(output, rc) is hardware


def test_counts_per_call() -> None:
    before = {"POST channels/answer": 10, "GET asterisk/ping": 1}
    after = {"POST channels/answer": 210, "GET asterisk/ping": 1, "POST channels/play": 400}
    delta = pp.counter_delta(before, after)
    assert delta == {"POST channels/answer": 200, "POST channels/play": 400}
    assert pp.per_call(delta, 200) == [("POST channels/play", 2.0), ("POST channels/answer", 1.0)]
