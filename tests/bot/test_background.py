"""Background work: tracked, drained with a bound, failures logged instead of raised."""

import asyncio
import logging

from bot.background import BackgroundTasks


async def test_drain_waits_for_running_work():
    tasks = BackgroundTasks()
    done = []

    async def work():
        await asyncio.sleep(0.05)
        done.append(1)

    tasks.spawn(work(), name="w")
    assert tasks.pending == 1
    assert await tasks.drain(within=2) == 0
    assert done == [1]
    assert tasks.pending == 0


async def test_drain_cancels_what_outlives_the_bound():
    tasks = BackgroundTasks()
    cancelled = asyncio.Event()

    async def slow():
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    tasks.spawn(slow(), name="slow")
    await asyncio.sleep(0)
    assert await tasks.drain(within=0.05) == 1
    assert cancelled.is_set()


async def test_no_new_work_after_drain_began():
    tasks = BackgroundTasks()
    await tasks.drain(within=0.1)
    ran = []

    async def work():
        ran.append(1)

    assert tasks.spawn(work(), name="late") is None
    await asyncio.sleep(0.01)
    assert ran == []


async def test_a_failing_task_is_logged_not_raised(caplog):
    tasks = BackgroundTasks()

    async def broken():
        raise RuntimeError("boom")

    with caplog.at_level(logging.ERROR, logger="bot.background"):
        task = tasks.spawn(broken(), name="broken")
        assert task is not None
        await tasks.join()
    assert task.exception() is None
    assert "background work failed" in caplog.text


async def test_limited_work_runs_a_few_at_a_time():
    tasks = BackgroundTasks(event_slots=2)
    running, peak = 0, 0

    async def work():
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.01)
        running -= 1

    for i in range(6):
        tasks.spawn(work(), name=f"w{i}", limited=True)
    unlimited_peak_probe = tasks.spawn(work(), name="free")
    assert unlimited_peak_probe is not None
    await tasks.join()
    assert peak == 3  # two limited slots plus the one unlimited task
