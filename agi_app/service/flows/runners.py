"""The node runners, one per node type: the whole table in one place."""

from __future__ import annotations

from collections.abc import Mapping

from agi_app.service.flows import nodes_io, nodes_logic
from agi_app.service.flows.context import Runner

RUNNERS: Mapping[str, Runner] = {
    "play": nodes_io.play,
    "menu": nodes_io.menu,
    "dynamic_menu": nodes_io.dynamic_menu,
    "input": nodes_io.collect,
    "transfer": nodes_io.transfer,
    "hangup": nodes_io.hangup,
    "transaction": nodes_logic.transaction,
    "branch": nodes_logic.branch,
    "goto": nodes_logic.goto,
    "return": nodes_logic.ret,
    "set": nodes_logic.set_values,
}
