"""The heard check on synthetic audio: prompts located by cross-correlation,
followed to where they stop, judged against the digits the caller sent."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pytest

from agi_app.adapters.tts.audio import alaw, ulaw
from agi_app.tools.qa import audiomatch as am
from agi_app.tools.qa.g711 import Codes, Pcm, alaw_to_pcm, ulaw_to_pcm
from agi_app.tools.qa.heard import Expected, HeardReport, Sent, check

RATE = am.RATE


def speech(seed: int, seconds: float, tail_s: float = 0.28) -> am.Samples:
    """Speech-like audio: 150 ms bursts of band-limited noise, 50 ms pauses, and
    trailing silence as espeak leaves it."""
    rng = np.random.default_rng(seed)
    n = int(seconds * RATE)
    noise = np.convolve(rng.standard_normal(n), np.ones(4) / 4, mode="same")
    envelope = ((np.arange(n) % 1600) < 1200).astype(float) * rng.uniform(0.5, 1.0)
    return np.concatenate([0.3 * noise * envelope, np.zeros(int(tail_s * RATE))])


def silence(seconds: float) -> am.Samples:
    return np.zeros(int(seconds * RATE))


def hiss(x: am.Samples) -> am.Samples:
    """The line's own noise, far under speech (-70 dBFS)."""
    return x + 3e-4 * np.random.default_rng(99).standard_normal(x.size)


A, B, C, D = speech(1, 2.5), speech(2, 3.0), speech(3, 2.0), speech(4, 2.2)
AUDIO = {"a": A, "b": B, "c": C, "d": D}


def expect(*names: str, step: int = 0, barge_in: bool = True) -> list[Expected]:
    return [Expected(f"node{step}", n, barge_in, step) for n in names]


def run(
    recording: am.Samples,
    expected: list[Expected],
    digits: Sequence[Sent] = (),
) -> HeardReport:
    return check(hiss(recording), expected, dict(AUDIO), list(digits))


def test_prompts_played_in_turn_are_heard_with_their_start_and_length() -> None:
    rec = np.concatenate([silence(0.3), A, silence(0.4), B, silence(1.0)])
    report = run(rec, expect("a", "b"))
    assert report.ok
    a, b = report.prompts
    assert (a.status, b.status) == ("heard", "heard")
    assert a.start_s == pytest.approx(0.3, abs=0.002)
    assert b.start_s == pytest.approx(0.3 + A.size / RATE + 0.4, abs=0.002)
    assert a.heard_s == a.length_s == pytest.approx(A.size / RATE)
    assert min(a.score, b.score) > 0.99


def test_a_prompt_replaced_by_silence_is_not_heard_and_its_silence_reported() -> None:
    rec = np.concatenate([silence(0.3), A, silence(0.4), np.zeros(B.size), silence(1.0)])
    report = run(rec, expect("a", "b"))
    assert not report.ok
    a, b = report.prompts
    assert a.status == "heard"
    assert b.status == "NOT HEARD" and b.start_s is None
    [(begin, end)] = b.silences
    assert begin <= 0.3 + A.size / RATE and end >= 0.3 + A.size / RATE + B.size / RATE
    assert "NOT HEARD" in report.table() and "where it should play" in report.table()


def test_another_prompt_in_its_place_is_not_heard() -> None:
    rec = np.concatenate([silence(0.3), A, C, silence(1.0)])
    report = run(rec, expect("a", "b"))
    assert [p.status for p in report.prompts] == ["heard", "NOT HEARD"]


def test_a_prompt_cut_by_a_digit_is_heard_up_to_the_digit() -> None:
    # B stops 0.25 s after the digit (DTMF end, the app's stop), then D plays.
    digit_at = 0.3 + 1.4
    rec = np.concatenate([silence(0.3), B[: int(1.65 * RATE)], silence(0.3), D, silence(0.5)])
    report = run(rec, expect("b") + expect("d", step=1), [Sent("1", digit_at, 0)])
    assert report.ok
    b, d = report.prompts
    assert b.status == "heard, cut by digit" and b.digit == ("1", digit_at)
    assert b.heard_s == pytest.approx(1.4, abs=0.01)
    assert d.status == "heard"


def test_a_prompt_cut_within_its_first_second_is_found_by_a_shorter_head() -> None:
    digit_at = 0.3 + 0.55
    rec = np.concatenate([silence(0.3), B[: int(0.75 * RATE)], silence(0.3), D, silence(0.5)])
    report = run(rec, expect("b") + expect("d", step=1), [Sent("2", digit_at, 0)])
    assert [p.status for p in report.prompts] == ["heard, cut by digit", "heard"]


def test_a_prompt_that_stops_with_no_digit_is_cut_short() -> None:
    rec = np.concatenate([silence(0.3), B[: int(1.5 * RATE)], silence(3.0)])
    [b] = run(rec, expect("b")).prompts
    assert b.status == "CUT SHORT"
    assert b.heard_s == pytest.approx(1.5, abs=0.02)


def test_a_prompt_stopped_in_a_pause_with_the_rest_never_played_is_cut_short() -> None:
    paused = np.concatenate([speech(5, 1.2, tail_s=0.5), speech(6, 1.0)])
    rec = np.concatenate([silence(0.3), paused[: int(1.3 * RATE)], C, silence(0.5)])
    report = check(hiss(rec), expect("p"), {"p": paused}, [])
    assert report.prompts[0].status == "CUT SHORT"


def test_prompts_after_a_barge_in_in_the_same_play_are_skipped() -> None:
    # A menu's sounds a, b, c in one play; digit 3 during a; the next node says d.
    rec = np.concatenate([silence(0.2), A[: int(1.2 * RATE)], silence(0.6), D, silence(0.5)])
    digits = [Sent("3", 0.2 + 1.0, 0)]
    report = run(rec, expect("a", "b", "c") + expect("d", step=1), digits)
    assert [p.status for p in report.prompts] == [
        "heard, cut by digit",
        "skipped",
        "skipped",
        "heard",
    ]
    assert report.ok


def test_a_digit_taken_by_an_earlier_step_skips_nothing_of_the_next() -> None:
    # The digit cut a and ended its step; b (the next node's) never played: a failure.
    rec = np.concatenate([silence(0.2), A[: int(1.2 * RATE)], silence(3.0)])
    report = run(rec, expect("a") + expect("b", step=1), [Sent("1", 1.2, 0)])
    assert [p.status for p in report.prompts] == ["heard, cut by digit", "NOT HEARD"]


def test_a_digit_typed_ahead_for_the_next_step_skips_its_prompt() -> None:
    rec = np.concatenate([silence(0.2), A[: int(1.2 * RATE)], silence(0.5), C, silence(0.3)])
    digits = [Sent("1", 1.2, 0), Sent("2", 1.5, 1)]
    report = run(rec, expect("a") + expect("b", step=1) + expect("c", step=2), digits)
    assert [p.status for p in report.prompts] == ["heard, cut by digit", "skipped", "heard"]


def test_a_prompt_without_barge_in_is_never_skipped() -> None:
    rec = np.concatenate([silence(0.2), A[: int(1.2 * RATE)], silence(3.0)])
    report = run(rec, expect("a") + expect("b", barge_in=False), [Sent("1", 1.2, 0)])
    assert report.prompts[1].status == "NOT HEARD"


def test_a_menu_said_twice_is_found_twice_in_order() -> None:
    rec = np.concatenate([silence(0.2), A, silence(5.0), A, silence(0.5)])
    report = run(rec, expect("a", "a"))
    first, second = report.prompts
    assert (first.status, second.status) == ("heard", "heard")
    assert second.start_s == pytest.approx(0.2 + A.size / RATE + 5.0, abs=0.002)


@pytest.mark.parametrize("slip_s", [0.05, 0.5, 0.8])
def test_a_frame_slip_in_the_head_still_finds_the_prompt(slip_s: float) -> None:
    """Measured: a jitter buffer slipped 10 ms 0.8 s into a prompt; its head then
    scored 0.82 against the recording."""
    cut = int(slip_s * RATE)
    jittered = np.concatenate([D[:cut], D[cut + 80 :]])
    rec = np.concatenate([silence(0.3), A, silence(0.2), jittered, silence(1.0)])
    _, d = run(rec, expect("a", "d")).prompts
    assert d.status == "heard"
    assert d.start_s == pytest.approx(0.3 + A.size / RATE + 0.2, abs=0.011)


def test_a_dropped_frame_of_jitter_does_not_stop_the_prompt() -> None:
    cut = int(1.0 * RATE)
    jittered = np.concatenate([B[:cut], B[cut + 80 :]])  # 10 ms lost by the jitter buffer
    rec = np.concatenate([silence(0.3), jittered, silence(1.0)])
    [b] = run(rec, expect("b")).prompts
    assert b.status == "heard"


@pytest.mark.parametrize(("encode", "decode"), [(ulaw, ulaw_to_pcm), (alaw, alaw_to_pcm)])
def test_a_g711_recording_decoded_to_16_bit_matches(
    encode: Callable[[bytes], bytes], decode: Callable[[Codes], Pcm]
) -> None:
    rec = np.concatenate([silence(0.3), A, silence(0.5)])
    pcm = (np.clip(rec, -1, 1) * 32767).astype("<i2").tobytes()
    codes = np.frombuffer(encode(pcm), dtype=np.uint8)
    decoded = decode(codes).astype(np.float64) / 32768
    [a] = run(decoded, expect("a")).prompts
    assert a.status == "heard" and a.score > 0.99


def test_a_silent_prompt_file_or_a_missing_one_is_reported_as_such() -> None:
    report = check(
        hiss(np.concatenate([A, silence(1.0)])),
        expect("quiet", "gone"),
        {"quiet": silence(2.0), "gone": None},
        [],
    )
    assert [p.status for p in report.prompts] == ["SILENT PROMPT FILE", "NO AUDIO FILE"]
    assert not report.ok


def test_a_journey_without_prompts_is_not_ok() -> None:
    assert not check(silence(1.0), [], {}, []).ok


def test_silences_are_the_long_quiet_stretches() -> None:
    rec = hiss(np.concatenate([A, silence(1.5), B, silence(0.5), C]))
    [(begin, end)] = am.silences(rec, 1.0)
    assert begin == pytest.approx(A.size / RATE - 0.28, abs=0.05)  # A's own tail included
    assert end == pytest.approx(A.size / RATE + 1.5, abs=0.03)


def test_ncc_of_a_copy_is_one_and_of_silence_zero() -> None:
    rec = np.concatenate([silence(0.5), A, silence(0.5)])
    scores = am.ncc(rec, A[:RATE])
    assert int(np.argmax(scores)) == int(0.5 * RATE)
    assert scores.max() == pytest.approx(1.0)
    assert not am.ncc(silence(3.0), A[:RATE]).any()  # no division by a quiet window


@pytest.mark.parametrize("codes", [range(256)])
def test_g711_decoding_inverts_the_prompt_encoders(codes: range) -> None:
    c = np.array(codes, dtype=np.uint8)
    assert np.array_equal(np.frombuffer(alaw(alaw_to_pcm(c).tobytes()), dtype=np.uint8), c)
    back = np.frombuffer(ulaw(ulaw_to_pcm(c).tobytes()), dtype=np.uint8)
    # mu-law has two zeros (0x7F, 0xFF): both decode to 0, which encodes as 0xFF.
    assert np.array_equal(back[c != 0x7F], c[c != 0x7F]) and back[0x7F] == 0xFF
