"""Errors of the TTS pipeline.

TtsError
├── VoiceError      no voice for a language, or the voice is not installed
│                   (ValueError too: ``flows check`` reports it as bad input)
├── PromptError     a prompt text that cannot be spoken (empty) (ValueError too)
├── TemplateError   a placeholder names no known value, uses an unknown format,
│                   or its value cannot be read in that format (ValueError too)
└── EngineError     a backend failed to render: crashed, hung, wrote nothing
                    (RuntimeError too). ``PromptCache`` tries the fallback
                    engine first; it raises only when every engine failed.
"""

from __future__ import annotations


class TtsError(Exception):
    """Base of every error the TTS pipeline raises on purpose."""


class VoiceError(TtsError, ValueError):
    """No usable voice for a language."""


class PromptError(TtsError, ValueError):
    """A prompt text that cannot be spoken."""


class TemplateError(TtsError, ValueError):
    """A prompt template cannot be filled."""


class EngineError(TtsError, RuntimeError):
    """A render failed or timed out."""
