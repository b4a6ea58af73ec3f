"""Business transactions: async functions with pydantic-declared args and results.

Flows call them by name (``transaction`` nodes); arguments are rendered from
the data bus and validated by the declared model, results are stored on the
bus. Unknown names and arguments that do not match are flow-check errors.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError


class TransactionError(RuntimeError):
    """A transaction failed; the flow takes its on_failure branch."""


@dataclass
class TxContext:
    """What a transaction may use: the database and who is calling."""

    get_pool: Callable[[], Awaitable[Any]]
    call_id: str
    caller_e164: str | None
    language: str
    priority: int = 0  # the caller's queue priority (grade), for callbacks


TxFunc = Callable[[Any, TxContext], Awaitable[BaseModel]]


@dataclass(frozen=True)
class TransactionSpec:
    name: str
    args: type[BaseModel]
    result: type[BaseModel]
    func: TxFunc


class TransactionRegistry:
    """Name -> transaction; the flow validator and engine both use it.

    Built explicitly from a list of specs (``service.business`` has the table).
    """

    def __init__(self, specs: Iterable[TransactionSpec] = ()) -> None:
        self.specs: dict[str, TransactionSpec] = {}
        for spec in specs:
            if spec.name in self.specs:
                raise ValueError(f"transaction {spec.name!r} listed twice")
            self.specs[spec.name] = spec

    def check(self, name: str, arg_names: set[str]) -> list[str]:
        """Errors for a flow's use of ``name`` with these argument names."""
        spec = self.specs.get(name)
        if spec is None:
            return [f"unknown transaction {name!r} (known: {', '.join(sorted(self.specs))})"]
        fields = spec.args.model_fields
        errors = [f"unknown argument {a!r} for {name}" for a in sorted(arg_names - set(fields))]
        missing = [f for f, info in fields.items() if info.is_required() and f not in arg_names]
        errors += [f"missing argument {m!r} for {name}" for m in missing]
        return errors

    async def call(self, name: str, raw_args: dict[str, Any], ctx: TxContext) -> dict[str, Any]:
        """Validate the arguments, run the transaction, return its result as a dict."""
        spec = self.specs[name]
        try:
            args = spec.args.model_validate(raw_args)
        except ValidationError as exc:
            raise TransactionError(f"{name}: bad arguments: {exc.errors()[0]['msg']}") from exc
        result = await spec.func(args, ctx)
        return spec.result.model_validate(result.model_dump()).model_dump()
