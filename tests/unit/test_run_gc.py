"""`agi-app run` tunes the cyclic garbage collector once the app is built."""

from __future__ import annotations

import gc

from agi_app.entry.cli.run import _tune_gc
from agi_app.settings import Settings


def test_the_built_heap_is_frozen_and_the_young_generation_collected_less_often() -> None:
    before = gc.get_threshold()
    try:
        _tune_gc(12_345)
        assert gc.get_threshold() == (12_345, before[1], before[2])
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)


def test_gc_tuning_is_on_by_default_and_can_be_turned_off() -> None:
    assert Settings().gc_tune and Settings().gc_gen0 == 20_000
    assert not Settings(gc_tune=False).gc_tune
