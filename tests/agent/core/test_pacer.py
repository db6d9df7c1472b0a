"""The connection pacer lets a bounded number through per event-loop turn, in order."""

from __future__ import annotations

import asyncio

from cctv_sentinel.discovery.base import Pacer


async def test_callers_go_through_per_turn_in_arrival_order() -> None:
    pacer = Pacer(3)
    turn = 0
    passed: list[tuple[int, int]] = []

    async def caller(n: int) -> None:
        await pacer.turn()
        passed.append((n, turn))

    tasks = [asyncio.create_task(caller(n)) for n in range(10)]
    while not all(t.done() for t in tasks):
        await asyncio.sleep(0)
        turn += 1
    assert [n for n, _ in passed] == list(range(10))
    per_turn: dict[int, int] = {}
    for _, t in passed:
        per_turn[t] = per_turn.get(t, 0) + 1
    assert max(per_turn.values()) <= 3
    assert len(per_turn) >= 4  # 10 callers at 3 a turn


async def test_a_cancelled_caller_gives_its_place_up() -> None:
    pacer = Pacer(1)
    order: list[str] = []

    async def caller(name: str) -> None:
        await pacer.turn()
        order.append(name)

    tasks = {name: asyncio.create_task(caller(name)) for name in "abc"}
    await asyncio.sleep(0)  # a went through; b and c wait for later turns
    assert order == ["a"]
    tasks["b"].cancel()
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert order == ["a", "c"]  # the next turn's one place went to c
    assert tasks["b"].cancelled()
