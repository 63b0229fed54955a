"""The machinery of the blocking facade: one event loop per `ChatKit`, and the
descriptor that turns an async method into a blocking one with the same signature.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, Concatenate, Generic, Self, TypeVar, overload

from anyio.from_thread import BlockingPortal, start_blocking_portal
from typing_extensions import ParamSpec

from .errors import ChatKitError

if TYPE_CHECKING:
    from ._facade import AsyncChatKit

__all__ = ["Runner", "SyncResource", "blocking", "sync"]

P = ParamSpec("P")
T = TypeVar("T")
S = TypeVar("S")


class Runner:
    """Owns the background event loop of one `ChatKit`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cm: AbstractContextManager[BlockingPortal] | None = None
        self._portal: BlockingPortal | None = None
        self._stopped = False

    def portal(self) -> BlockingPortal:
        with self._lock:
            if self._stopped:
                raise ChatKitError("this ChatKit is closed; create a new one")
            if self._portal is None:
                self._cm = start_blocking_portal()
                self._portal = self._cm.__enter__()
            return self._portal

    def stop(self, kit: AsyncChatKit) -> None:
        with self._lock:
            portal, cm = self._portal, self._cm
            self._portal = self._cm = None
            self._stopped = True
        if portal is not None and cm is not None:
            try:
                portal.call(kit.close)
            finally:
                cm.__exit__(None, None, None)


def blocking(
    runner: Runner, stream: AsyncIterator[T], close: Callable[[], Awaitable[None]]
) -> Iterator[T]:
    """Iterate an async iterator from blocking code; ``close`` runs when iteration ends."""
    portal = runner.portal()
    try:
        while True:
            try:
                yield portal.call(stream.__anext__)
            except StopAsyncIteration:
                return
    finally:
        portal.call(close)


class SyncResource(Generic[S]):
    def __init__(self, target: S, runner: Runner) -> None:
        self._target = target
        self._runner = runner


class sync(Generic[P, T]):
    """Expose the async method ``method`` as a blocking one with the same signature."""

    def __init__(self, method: Callable[Concatenate[Any, P], Awaitable[T]]) -> None:
        self._method = method
        self.__doc__ = method.__doc__
        self.__name__ = method.__name__

    @overload
    def __get__(self, obj: None, owner: type[Any]) -> Self: ...

    @overload
    def __get__(self, obj: SyncResource[Any], owner: type[Any]) -> Callable[P, T]: ...

    def __get__(self, obj: SyncResource[Any] | None, owner: type[Any]) -> Self | Callable[P, T]:
        if obj is None:
            return self
        bound: Callable[P, Awaitable[T]] = functools.partial(self._method, obj._target)
        runner = obj._runner

        @functools.wraps(getattr(obj._target, self.__name__))
        def call(*args: P.args, **kwargs: P.kwargs) -> T:
            return runner.portal().call(functools.partial(bound, *args, **kwargs))

        return call
