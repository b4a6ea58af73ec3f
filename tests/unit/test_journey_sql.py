"""The journey writer's statements for the partitioned tables, the pure parts:
the rows' call start, the ends as arrays."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from agi_app.adapters.postgres.journey_sql import (
    END_COLUMNS,
    as_columns,
    detail_json,
    end_args,
    end_row,
    step_row,
)
from agi_app.core.journey import CallEnd, CallStep

T0 = datetime(2026, 12, 7, 23, 30, tzinfo=UTC)


def test_a_step_carries_its_calls_start_or_else_its_own_time() -> None:
    step = CallStep("c1", "main", "menu", T0 + timedelta(seconds=9), "1", {"_seq": 3})
    row = step_row(step, T0)
    assert row[:2] == ("c1", 3) and row[-2:] == (T0 + timedelta(seconds=9), T0)
    assert step_row(step)[-1] == T0 + timedelta(seconds=9)  # the call is nowhere


def test_the_ends_of_a_batch_are_one_statement_of_arrays() -> None:
    first = CallEnd("c1", T0, "abandoned", None, {"grade": "gold", "risk_reasons": ["x"]})
    later = CallEnd("c1", T0 + timedelta(seconds=5), "completed", 16, {"queue": "support"})
    other = CallEnd("c2", T0, "completed", 16, {"shedding_level": "2"})
    rows = [end_row(first, T0), end_row(later, T0), end_row(other, T0 - timedelta(hours=1))]
    columns = end_args(rows)
    assert len(columns) == len(END_COLUMNS)
    by = dict(zip(END_COLUMNS, columns, strict=True))
    assert by["id"] == ["c1", "c2"]  # one row a call
    # Two ends of one call: the later's values, the earlier's where it has none.
    assert by["outcome"] == ["completed", "completed"]
    assert by["hangup_cause"] == [16, 16]
    assert by["grade"] == ["gold", None] and by["queue"] == ["support", None]
    assert by["shedding_level"] == [None, 2]
    assert [None if r is None else json.loads(r) for r in by["risk_reasons"]] == [["x"], None]
    assert by["started_at"] == [T0, T0 - timedelta(hours=1)]


def test_the_steps_of_a_batch_are_one_statement_of_arrays() -> None:
    steps = [CallStep(f"c{n}", "main", "menu", T0, str(n), {"_seq": n}) for n in (1, 2)]
    columns = as_columns([step_row(step, T0) for step in steps])
    assert columns[0] == ["c1", "c2"] and columns[1] == [1, 2] and columns[4] == ["1", "2"]


def test_a_steps_detail_keeps_its_shape_as_json() -> None:
    when = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)
    detail: dict[Any, Any] = {"menu": "主菜单", "at": when, 3: "x", "nan": float("nan")}
    assert json.loads(detail_json(detail)) == {
        "menu": "主菜单",
        "at": str(when),  # as json.dumps(default=str) wrote it
        "3": "x",
        "nan": None,  # jsonb has no NaN: null rather than a refused row
    }
    assert json.loads(detail_json({"big": 2**70})) == {"big": 2**70}  # past 64 bits
