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
from collections.abc import AsyncGenerator, Callable, Generator
from typing import Any, ParamSpec, TypeVar

from aa_notebooks.errors import InvalidInputError
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

        if inspect.isasyncgenfunction(function) or inspect.isgeneratorfunction(function):
            if timeout_s is not None:
                raise InvalidInputError(
                    f"timeout_s does not apply to a streaming agent ({function.__qualname__} "
                    "yields): its consumer decides how long it runs"
                )

            def tracker_of() -> Tracker:  # looked up per call, as for the other functions
                return tracker or get_tracker()

            if inspect.isasyncgenfunction(function):
                return _async_stream(function, tracker_of, fields)  # type: ignore[return-value]
            return _stream(function, tracker_of, fields)  # type: ignore[arg-type,return-value]

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


def _stream(
    function: Callable[..., Generator[Any, Any, Any]],
    tracker_of: Callable[[], Tracker],
    fields: Callable[[tuple[Any, ...], dict[str, Any]], dict[str, Any]],
) -> Callable[..., Generator[Any, Any, Any]]:
    """A generator agent, recorded from its call to its last item: the run is current only
    while the agent's own code runs (a generator runs in its consumer's context, where another
    tracked agent may be current)."""

    @functools.wraps(function)
    def tracked_stream(*args: Any, **kwargs: Any) -> Generator[Any, Any, Any]:
        scope = tracker_of().execution(**fields(args, kwargs))
        scope.begin()
        stream = function(*args, **kwargs)
        while True:
            try:
                with scope.current():
                    item = next(stream)
            except StopIteration:
                scope.end(None)
                return
            except BaseException as error:
                scope.end(error)
                raise
            try:
                yield item
            except GeneratorExit:  # the consumer stopped reading: the run ends here
                with scope.current():
                    stream.close()
                scope.end(None)
                return

    return tracked_stream


def _async_stream(
    function: Callable[..., AsyncGenerator[Any, Any]],
    tracker_of: Callable[[], Tracker],
    fields: Callable[[tuple[Any, ...], dict[str, Any]], dict[str, Any]],
) -> Callable[..., AsyncGenerator[Any, Any]]:
    """`_stream` for an async generator agent. One left with `break` is closed by asyncio later,
    in another task: the run is recorded then."""

    @functools.wraps(function)
    async def tracked_stream(*args: Any, **kwargs: Any) -> AsyncGenerator[Any, Any]:
        scope = tracker_of().execution(**fields(args, kwargs))
        await scope.begin_async()
        stream = function(*args, **kwargs)
        while True:
            try:
                with scope.current():
                    item = await anext(stream)
            except StopAsyncIteration:
                scope.end(None)
                return
            except BaseException as error:
                scope.end(error)
                raise
            try:
                yield item
            except GeneratorExit:  # the consumer stopped reading: the run ends here
                with scope.current():
                    await stream.aclose()
                scope.end(None)
                return

    return tracked_stream
