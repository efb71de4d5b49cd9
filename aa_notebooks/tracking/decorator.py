"""`@track_agent`: record every call of a sync or async agent function as an execution.

A generator function (sync or async: a streaming agent) is recorded from its call until its
last item: an exception while streaming is the run's failure, and a consumer that stops reading
early ends the run as a success, where it stopped.

Arguments of the decorated function named `query`, `user_id`, `session_id` or `flow_id` fill
those fields of the execution (they win over the decorator's own values); the agent name is the
function's qualified name unless given. Inside the call, `current_run()` returns the run, to add
steps and token usage. The default tracker is looked up at call time, so `configure` may come
after the decoration.
"""

from __future__ import annotations

import functools
import inspect
import uuid
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

from aa_notebooks.tracking.defaults import get_tracker
from aa_notebooks.tracking.tracker import Tracker

P = ParamSpec("P")
R = TypeVar("R")
FROM_ARGUMENTS = ("query", "user_id", "session_id", "flow_id")


def track_agent(
    agent_name: str | None = None,
    *,
    agent_type: str | None = None,
    model: str | None = None,
    user_id: uuid.UUID | str | None = None,
    flow_id: str | None = None,
    agent_id: uuid.UUID | str | None = None,
    timeout_s: float | None = None,
    tracker: Tracker | None = None,
) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Decorate an agent function so each call is recorded (see the module docstring)."""

    def decorate(function: Callable[P, R]) -> Callable[P, R]:
        signature = inspect.signature(function)
        from_call = [name for name in FROM_ARGUMENTS if name in signature.parameters]
        fixed: dict[str, Any] = {
            "agent_name": agent_name or function.__qualname__,
            "agent_type": agent_type,
            "model": model,
            "user_id": user_id,
            "flow_id": flow_id,
            "agent_id": agent_id,
            "timeout_s": timeout_s,
        }

        def fields(args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
            if not from_call:
                return fixed
            given = signature.bind_partial(*args, **kwargs).arguments
            found = {name: given[name] for name in from_call if given.get(name) is not None}
            if "query" in found:
                found["query"] = str(found["query"])
            return {**fixed, **found}

        if inspect.isasyncgenfunction(function):

            @functools.wraps(function)
            async def tracked_stream(*args: P.args, **kwargs: P.kwargs) -> Any:
                async with (tracker or get_tracker()).execution(**fields(args, kwargs)):
                    stream = function(*args, **kwargs)
                    try:
                        async for item in stream:
                            yield item
                    except GeneratorExit:  # the consumer stopped reading
                        await stream.aclose()

            return tracked_stream

        if inspect.isgeneratorfunction(function):

            @functools.wraps(function)
            def tracked_generator(*args: P.args, **kwargs: P.kwargs) -> Any:
                with (tracker or get_tracker()).execution(**fields(args, kwargs)):
                    try:
                        yield from function(*args, **kwargs)
                    except GeneratorExit:  # the consumer stopped reading
                        return

            return tracked_generator

        if inspect.iscoroutinefunction(function):

            @functools.wraps(function)
            async def tracked_async(*args: P.args, **kwargs: P.kwargs) -> Any:
                async with (tracker or get_tracker()).execution(**fields(args, kwargs)):
                    return await function(*args, **kwargs)

            return tracked_async  # type: ignore[return-value]  # R is this coroutine's type

        @functools.wraps(function)
        def tracked(*args: P.args, **kwargs: P.kwargs) -> R:
            with (tracker or get_tracker()).execution(**fields(args, kwargs)):
                return function(*args, **kwargs)

        return tracked

    return decorate
