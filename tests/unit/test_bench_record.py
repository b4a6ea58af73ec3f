"""make bench keeps a short page (the latest run replaces the last) and a JSON-lines history."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from agi_app.entry.cli.bench import LATEST, _record
from agi_app.tools.bench.sipp import RunFigures


def test_latest_run_replaced_and_history_appended(tmp_path: Path) -> None:
    page = tmp_path / "BENCHMARKS.md"
    page.write_text("# Benchmarks\n\n## Load: targets\n\ntext\n")
    args = argparse.Namespace(output=page, rates="5", lever_rate=0.0, env=[])
    fig = RunFigures("app", 5.0, 15, 15, 0, 0, 4.0, 8.0, 2428.0, 2432.0, 5.0)
    for _ in range(2):
        _record(args, 3.0, [5.0], [fig], [], {"ratio": 1.0})
    text = page.read_text()
    assert text.count(LATEST) == 1 and "## Load: targets" in text
    lines = (tmp_path / "bench-history.jsonl").read_text().splitlines()
    assert len(lines) == 2 and json.loads(lines[0])["figures"][0]["calls"] == 15
