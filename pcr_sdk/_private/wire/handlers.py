"""Typed worker handlers: `handler(data: InModel) -> OutModel` with pydantic models.

Light on purpose (standard library only, like `pcr_sdk.worker`): a handler's annotations are
looked at only if it has some, and a model is recognised only if pydantic is imported already.
A module that defines a model has imported pydantic, so an untyped handler never loads it.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from typing import Any

logger = logging.getLogger("pcr_sdk.worker")

Handler = Callable[[Any], object]


class InvalidInputError(Exception):
    """The job's input does not validate against the handler's input model."""

    def __init__(self, model: type[Any], detail: str) -> None:
        super().__init__(f"the input is not a valid {model.__name__}: {detail}")
        self.model = model


def _base_model() -> type[Any] | None:
    pydantic = sys.modules.get("pydantic")
    return None if pydantic is None else getattr(pydantic, "BaseModel", None)


def _is_model(annotation: object, base: type[Any]) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, base)


def handler_models(handler: Handler) -> tuple[type[Any] | None, type[Any] | None]:
    """The pydantic models of `handler`'s first parameter and of its return value, or None."""
    base = _base_model()
    function = getattr(handler, "__func__", handler)
    if not callable(function) or not hasattr(function, "__code__"):
        function = type(handler).__call__  # an object with a __call__ method
    if base is None or not getattr(function, "__annotations__", None):
        return None, None
    import inspect  # noqa: PLC0415 # only for annotated handlers
    import typing  # noqa: PLC0415

    try:
        hints = typing.get_type_hints(function)
    except (NameError, AttributeError, TypeError, SyntaxError) as err:  # stays untyped
        logger.warning(
            "the annotations of %r cannot be resolved (%s): its input is passed as parsed JSON",
            handler, err,
        )  # fmt: skip
        return None, None
    parameters = [
        p.name
        for p in inspect.signature(handler).parameters.values()
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]
    first = hints.get(parameters[0]) if parameters else None
    returned = hints.get("return")
    return (
        first if _is_model(first, base) else None,
        returned if _is_model(returned, base) else None,
    )


def typed(handler: Handler) -> Handler:
    """`handler` taking and returning plain JSON data: its input validated as its input model
    (`InvalidInputError` if it does not validate; the handler is not called), a model it
    returns (or, if its return annotation is a model, the data it returns validated as that
    model) serialized with `model_dump(mode="json")`. An untyped handler is returned as is,
    except that a model it returns is serialized too."""
    input_model, output_model = handler_models(handler)

    def call(data: Any) -> object:
        if input_model is not None:
            data = _validate(input_model, data)
        return _plain(handler(data), output_model)

    return call


def _validate(model: type[Any], data: Any) -> Any:
    pydantic = sys.modules["pydantic"]
    try:
        return model.model_validate(data)
    except pydantic.ValidationError as err:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'input'}: {e['msg']}" for e in err.errors()
        )
        raise InvalidInputError(model, f"{err.error_count()} error(s): {problems}") from err


def _plain(result: object, output_model: type[Any] | None) -> object:
    base = _base_model()
    if base is None:
        return result
    if output_model is not None and not isinstance(result, output_model):
        result = output_model.model_validate(result)
    if isinstance(result, base):
        return result.model_dump(mode="json")
    return result
