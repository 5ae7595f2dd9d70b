"""The per-key asyncio locks every backend uses in-process."""

from __future__ import annotations

import asyncio

import pytest

from stores.keyed_locks import KeyedLocks


async def test_a_key_is_forgotten_once_nobody_holds_or_waits_for_it() -> None:
    locks = KeyedLocks()

    async def hold(key: str) -> None:
        async with locks.hold(key):
            await asyncio.sleep(0.01)

    await asyncio.gather(*(hold(f"s{i % 10}") for i in range(100)))

    assert len(locks) == 0


async def test_holders_of_one_key_take_turns_and_other_keys_do_not_wait() -> None:
    locks = KeyedLocks()
    inside: list[str] = []

    async def hold(key: str) -> None:
        async with locks.hold(key):
            inside.append(key)
            assert inside.count(key) == 1, f"two holders of {key}"
            await asyncio.sleep(0.01)
            inside.remove(key)

    await asyncio.gather(*(hold(key) for key in ["a"] * 5 + ["b"] * 5))

    assert len(locks) == 0


async def test_a_cancelled_waiter_leaves_nothing_behind() -> None:
    locks = KeyedLocks()

    async with locks.hold("a"):
        waiter = asyncio.create_task(_hold_once(locks, "a"))
        await asyncio.sleep(0.01)
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter

    assert len(locks) == 0


async def _hold_once(locks: KeyedLocks, key: str) -> None:
    async with locks.hold(key):
        pass
