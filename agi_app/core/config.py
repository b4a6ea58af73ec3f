"""One loader for the YAML configuration files, validated by pydantic.

Every configuration file (queues, service policy, shedding rules, voices) is
read the same way and fails the same way: ``ConfigError`` names the file and,
for each problem, the field path (``policy.gold.queue: ...``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)


class ConfigError(ValueError):
    """A configuration file is invalid; the message names the file and the field."""

    def __init__(self, path: Path, problems: list[str]) -> None:
        super().__init__(f"{path}: " + "; ".join(problems))
        self.path = path
        self.problems = problems


def load_yaml(path: Path, model: type[M]) -> M:
    """``path`` parsed and validated as ``model``."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(path, [f"cannot read it ({exc.strerror})"]) from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(path, ["not valid YAML: " + " ".join(str(exc).split())]) from exc
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(path, [_problem(e) for e in exc.errors()]) from exc


def field_error(path: Path, field: str, message: str) -> ConfigError:
    """A check beyond the model's (a reference to another file, say)."""
    return ConfigError(path, [f"{field}: {message}"])


def _problem(err: Any) -> str:
    return f"{'.'.join(str(x) for x in err['loc']) or '(top)'}: {err['msg']}"
