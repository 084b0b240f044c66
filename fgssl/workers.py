"""Independent pieces of work side by side in worker processes, their progress shown here.

Small networks on a CPU put a second thread to poor use: two one-thread trainings side by
side do more work than one two-thread training after the other (docs/RESULTS.md has the
measurement). :func:`run_all` runs
tasks ``workers`` at a time, each worker a process with an equal share of this process's
threads, started with ``spawn`` (``fork`` is unsafe once torch's thread pool exists). What a
task reports — ``report("phase", text)`` or ``report("steps", done, total)`` — travels back
through a queue to this process's :class:`ProgressBars`, one bar per worker.

Example::

    >>> def square(x: int, report: Report) -> int:   # at module level: workers import it
    ...     report("phase", f"squaring {x}")
    ...     return x * x
    >>> with ProgressBars(2) as bars:                                   # doctest: +SKIP
    ...     run_all([1, 2, 3], square, workers=2, bars=bars)
    {1: 1, 2: 4, 3: 9}
"""

from __future__ import annotations

import functools
import multiprocessing
import os
import signal
import sys
from collections.abc import Callable, Hashable, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import _process_worker  # whose loop a stopped worker leaves
from typing import Any, TypeVar

import torch
from tqdm.auto import tqdm

Task = TypeVar("Task", bound=Hashable)
Result = TypeVar("Result")
Report = Callable[..., None]  # ("phase", text) or ("steps", done, total)


def default_workers() -> int:
    """Two workers on a CPU with two or more cores, one with a GPU (tasks would share it)."""
    if torch.cuda.is_available():
        return 1
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return min(2, cores or 1)


class ProgressBars:
    """One tqdm bar per worker: the phase of its task as the description, and the steps of
    a training with their ETA."""

    def __init__(self, workers: int, enabled: bool = True) -> None:
        self.bars = [tqdm(total=0, position=slot, disable=not enabled, unit="step")
                     for slot in range(workers)]

    def __enter__(self) -> ProgressBars:
        return self

    def __exit__(self, *exc_info: object) -> None:
        for bar in self.bars:
            bar.close()

    def show(self, slot: int, kind: str, *message: Any) -> None:
        """Worker ``slot`` reports ``("phase", text)`` or ``("steps", done, total)``."""
        bar = self.bars[slot]
        if kind == "phase":
            bar.set_description_str(message[0], refresh=False)
            bar.reset(total=0)
        else:
            done, total = message
            if bar.total != total:
                bar.reset(total=total)
            bar.update(done - bar.n)


def run_all(tasks: Sequence[Task], work: Callable[[Task, Report], Result], workers: int,
            bars: ProgressBars, started: Callable[[Task], None] = lambda task: None,
            finished: Callable[[Task, Result], None] = lambda task, result: None
            ) -> dict[Task, Result]:
    """``work(task, report)`` for every task, taken in order, at most ``workers`` at a time:
    in this process with one worker, else in worker processes (then ``work``, the tasks and
    the results must pickle). ``started(task)`` and ``finished(task, result)`` are called
    here as each task begins and ends; a task's exception is raised here."""
    done: dict[Task, Result] = {}
    if workers == 1:
        for task in tasks:
            started(task)
            done[task] = work(task, functools.partial(bars.show, 0))
            finished(task, done[task])
        return done
    context = multiprocessing.get_context("spawn")
    reports = context.SimpleQueue()  # put() writes at once: a task's reports precede its result
    threads = max(1, torch.get_num_threads() // workers)
    pool = ProcessPoolExecutor(workers, context, initializer=_start_worker,
                               initargs=(threads, reports))
    try:
        waiting, running, free = list(tasks), {}, list(range(workers))
        while waiting or running:
            while waiting and free:
                task, slot = waiting.pop(0), free.pop(0)
                started(task)
                running[pool.submit(_run_in_worker, work, task, slot)] = task, slot
            ended, _ = wait(running, timeout=0.25, return_when=FIRST_COMPLETED)
            while not reports.empty():
                slot, task, *message = reports.get()
                if (task, slot) in running.values():  # not a late word from a finished task
                    bars.show(slot, *message)
            for future in ended:
                task, slot = running.pop(future)
                free.append(slot)
                done[task] = future.result()
                finished(task, done[task])
    except BaseException:  # Ctrl-C, or a task's error: stop the others rather than wait
        _stop(pool)
        raise
    pool.shutdown()
    return done


def _stop(pool: ProcessPoolExecutor, grace_s: float = 5.0) -> None:
    """End every worker of ``pool`` now: SIGTERM (a worker leaves by SystemExit: its
    ``finally`` blocks tidy up), SIGKILL after ``grace_s``."""
    processes = list(pool._processes.values())  # the executor has no terminate() of its own
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        process.terminate()
    for process in processes:
        process.join(grace_s)
        if process.is_alive():
            process.kill()
            process.join()


_REPORTS: Any = None  # in a worker process: the queue back to the parent's progress bars


def _start_worker(threads: int, reports: Any) -> None:
    """A worker: its share of the threads; Ctrl-C is for the parent, which stops it."""
    global _REPORTS
    torch.set_num_threads(threads)
    _REPORTS = reports
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _leave)


def _leave(signum: int, frame: Any) -> None:
    """SIGTERM in a worker: leave by SystemExit, so that Python shuts down cleanly (and
    multiprocessing frees its semaphores). The executor's loop catches the first one as the
    task's error, and one raised inside a finaliser is only reported, and lost: so it is
    raised again every 0.1 s while the worker is still in that loop, and such reports are not
    printed. Once out of the loop the worker is shutting down: raising then would cut short
    the finalisers that free its semaphores."""
    sys.unraisablehook = _ignore
    if not _in_executor_loop(frame):
        return
    if hasattr(signal, "setitimer"):  # not on Windows, where SIGTERM ends a process at once
        signal.signal(signal.SIGALRM, _leave)
        signal.setitimer(signal.ITIMER_REAL, 0.1)
    raise SystemExit(128 + signum)


def _in_executor_loop(frame: Any) -> bool:
    """Whether ``frame`` runs inside the executor's worker loop, which takes tasks until told
    to stop."""
    while frame is not None:
        if frame.f_code is _process_worker.__code__:
            return True
        frame = frame.f_back
    return False


def _ignore(unraisable: Any) -> None:
    """A leaving worker's reports of exceptions it could not raise: not shown."""


def _run_in_worker(work: Callable[[Task, Report], Result], task: Task, slot: int) -> Result:
    return work(task, lambda *message: _REPORTS.put((slot, task, *message)))
