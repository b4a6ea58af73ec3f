"""A real SIP user agent that places one call and records what it hears.

Run as its own process (``python -m agi_app.tools.qa.uagent REQUEST.json``) by
``agi_app.tools.qa.recorder``: pjsua2 (pjproject's Python binding) keeps one
library instance per process with its own threads and logs, and a crash or a
hang in it must cost only this process. It writes its outcome as JSON to the
path the request names.

What it does: offers PCMU only (Asterisk plays the prompts' ``.ulaw`` files
untranscoded), sends the key script's digits as RFC 2833 events, records the
received audio to an 8 kHz 16-bit WAV, and waits for the far end's BYE.

Two pitfalls, measured (see the README): the media transport is bound to
127.0.0.1 or the SDP offers the host's default interface; and Asterisk's
answer brings a media update that replaces the audio stream, so the recorder
is connected again on every media-state change or the WAV stays empty. The
conference bridge runs on the sound device's clock, so a null device is set
and the call is connected to it too.
"""

from __future__ import annotations

import gc
import json
import os
import re
import sys
import time
from pathlib import Path
from typing import Any

import pjsua2 as pj

CLOCK_RATE = 8000
DIGIT_GAP_S = 0.3  # as the SIPp caller: a digit's event lasts about 200 ms
POLL_MS = 10
_CAUSE = re.compile(r"^Reason:.*?cause=(\d+)", re.IGNORECASE | re.MULTILINE)


class RecordingCall(pj.Call):  # type: ignore[misc]  # pjsua2 ships no types
    """One outgoing call; records its audio from the first active media on."""

    def __init__(self, account: Any, endpoint: Any, wav: str) -> None:
        super().__init__(account)
        self.endpoint = endpoint
        self.wav = wav
        self.recorder: Any = None
        self.recording_from: float | None = None  # monotonic time of the WAV's sample 0
        self.answered_at: float | None = None
        self.ended_at: float | None = None
        self.status = 0
        self.cause: int | None = None
        self.media_updates = 0

    def onCallState(self, prm: Any) -> None:  # pjsua2 names its callbacks
        ci = self.getInfo()
        if ci.state == pj.PJSIP_INV_STATE_CONFIRMED and self.answered_at is None:
            self.answered_at = time.monotonic()
        if ci.state == pj.PJSIP_INV_STATE_DISCONNECTED:
            self.ended_at = time.monotonic()
            self.status = ci.lastStatusCode
            self.cause = _bye_cause(prm)

    def onCallMediaState(self, prm: Any) -> None:
        ci = self.getInfo()
        for mi in ci.media:
            if mi.type != pj.PJMEDIA_TYPE_AUDIO or mi.status != pj.PJSUA_CALL_MEDIA_ACTIVE:
                continue
            if self.recorder is None:
                self.recorder = pj.AudioMediaRecorder()
                self.recorder.createRecorder(self.wav)
                self.recording_from = time.monotonic()
            audio = self.getAudioMedia(mi.index)
            audio.startTransmit(self.recorder)
            audio.startTransmit(self.endpoint.audDevManager().getPlaybackDevMedia())
            self.media_updates += 1


def _bye_cause(prm: Any) -> int | None:
    """The Q.850 cause in the Reason header of the BYE that ended the call."""
    try:
        text = prm.e.body.tsxState.src.rdata.wholeMsg
    except AttributeError:
        return None
    m = _CAUSE.search(text or "")
    return int(m.group(1)) if m else None


def _endpoint() -> Any:
    ep = pj.Endpoint()
    ep.libCreate()
    cfg = pj.EpConfig()
    cfg.uaConfig.threadCnt = 0  # callbacks run in our poll loop, on this thread
    cfg.uaConfig.mainThreadOnly = True
    cfg.logConfig.level = 2
    cfg.logConfig.consoleLevel = 2
    cfg.medConfig.clockRate = CLOCK_RATE
    cfg.medConfig.sndClockRate = CLOCK_RATE
    cfg.medConfig.noVad = True
    cfg.medConfig.ecTailLen = 0
    ep.libInit(cfg)
    transport = pj.TransportConfig()
    transport.boundAddress = "127.0.0.1"
    transport.port = 0
    ep.transportCreate(pj.PJSIP_TRANSPORT_UDP, transport)
    ep.libStart()
    ep.audDevManager().setNullDev()
    for codec in ep.codecEnum2():
        ep.codecSetPriority(codec.codecId, 255 if codec.codecId.startswith("PCMU/") else 0)
    return ep


def _account(caller: str) -> Any:
    cfg = pj.AccountConfig()
    cfg.idUri = f"sip:{caller}@127.0.0.1"
    cfg.mediaConfig.transportConfig.boundAddress = "127.0.0.1"
    cfg.mediaConfig.transportConfig.publicAddress = "127.0.0.1"
    account = pj.Account()
    account.create(cfg)
    return account


def _pump(ep: Any, until: float, call: RecordingCall) -> bool:
    """Handle events until ``until`` (monotonic); False once the call has ended."""
    while time.monotonic() < until:
        ep.libHandleEvents(POLL_MS)
        if call.ended_at is not None:
            return False
    return True


def place(request: dict[str, Any]) -> dict[str, Any]:
    """Place the call the request describes; its outcome (times are monotonic)."""
    ep = _endpoint()
    account = _account(request["caller"])
    call = RecordingCall(account, ep, request["wav"])
    digits: list[tuple[str, float]] = []
    deadline = time.monotonic() + request["timeout_s"]
    call.makeCall(f"sip:{request['called']}@{request['target']}", pj.CallOpParam(True))
    while call.answered_at is None and _pump(ep, time.monotonic() + 0.05, call):
        if time.monotonic() > deadline:
            break
    alive = call.answered_at is not None
    for kind, value in request["steps"]:
        if not alive:
            break
        if kind == "wait":
            alive = _pump(ep, time.monotonic() + float(value), call)
            continue
        call.dialDtmf(value)
        digits.append((value, time.monotonic()))
        alive = _pump(ep, time.monotonic() + DIGIT_GAP_S, call)
    hung_up = False
    if alive:
        alive = _pump(ep, deadline, call)
    if alive or call.ended_at is None:  # the far end never hung up: we do
        hung_up = True
        call.hangup(pj.CallOpParam(True))
        _pump(ep, time.monotonic() + 2, call)
    call.recorder = None  # pjmedia writes the WAV header's sizes when the recorder goes
    gc.collect()
    return {
        "answered_at": call.answered_at,
        "recording_from": call.recording_from,
        "ended_at": call.ended_at,
        "status": call.status,
        "cause": call.cause,
        "digits": digits,
        "media_updates": call.media_updates,
        "we_hung_up": hung_up,
    }


def main(argv: list[str]) -> int:
    request = json.loads(Path(argv[1]).read_text())
    try:
        outcome = place(request)
    except Exception as exc:  # pjsua2 raises its own pj.Error; report any failure whole
        info = exc.info() if hasattr(exc, "info") else str(exc)
        outcome = {"error": f"{type(exc).__name__}: {info}"}
    Path(request["result"]).write_text(json.dumps(outcome))
    sys.stdout.flush()
    # pjsua2's teardown from Python can crash at interpreter exit; the outcome is
    # written and the WAV closed, so leave at once.
    os._exit(0)


if __name__ == "__main__":
    main(sys.argv)
