"""`agi-app prompts` (not built yet)."""

from __future__ import annotations

import argparse
from typing import Any


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser("prompts", help="(not built yet)")
    p.set_defaults(handler=lambda _a: 2)
