"""Blocking work on a shared resource (SQLite) from the event loop: one thread at a time.

``asyncio.to_thread`` hands a call to a worker thread; cancelling the awaiting
task does not stop that thread, it only stops waiting for it. A caller that
then goes on (a service shutting down closes its database) would use the
connection beside the thread still working on it, which crashes the SQLite
module. Two guards close that:

* :func:`in_thread` waits for the thread to end even when it is cancelled,
  and passes the cancellation on only then, so an ``asyncio.Lock`` held
  around it really means one call at a time;
* :func:`serialised` makes a synchronous store's methods take the store's own
  lock, so it holds whoever calls it, from whichever thread.
"""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import Callable
from typing import Concatenate, ParamSpec, Protocol, TypeVar

_P = ParamSpec("_P")
_T = TypeVar("_T")


async def in_thread(func: Callable[_P, _T], /, *args: _P.args, **kwargs: _P.kwargs) -> _T:
    """``func(*args, **kwargs)`` in a worker thread; returns only once it has ended.

    A cancellation that arrives meanwhile is passed on after the thread ends
    (its result is dropped); so are repeated ones.
    """
    work = asyncio.ensure_future(asyncio.to_thread(func, *args, **kwargs))
    try:
        return await asyncio.shield(work)
    except asyncio.CancelledError:
        while not work.done():
            try:
                await asyncio.wait({work})
            except asyncio.CancelledError:
                continue  # still cancelled once the thread is done
        if not work.cancelled():
            work.exception()  # retrieved: the caller is cancelled and will not read it
        raise


class Guarded(Protocol):
    """An object whose methods share one reentrant lock."""

    @property
    def guard(self) -> threading.RLock:
        """The lock every public method of the object takes."""
        ...


_G = TypeVar("_G", bound=Guarded)


def serialised(method: Callable[Concatenate[_G, _P], _T]) -> Callable[Concatenate[_G, _P], _T]:
    """The method runs holding its object's ``guard`` (one thread in the store at a time)."""

    @functools.wraps(method)
    def locked(self: _G, /, *args: _P.args, **kwargs: _P.kwargs) -> _T:
        with self.guard:
            return method(self, *args, **kwargs)

    return locked
