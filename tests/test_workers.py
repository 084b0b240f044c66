import multiprocessing
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from fgssl.workers import ProgressBars, run_all


class RecordingBars(ProgressBars):
    def __init__(self, workers):
        super().__init__(workers, enabled=False)
        self.shown = []

    def show(self, slot, kind, *message):
        self.shown.append((slot, kind, *message))
        super().show(slot, kind, *message)


def train_for(steps, report):  # a module-level task: worker processes import it
    report("phase", f"{steps} steps")
    for done in range(1, steps + 1):
        report("steps", done, steps)
    return steps * 10, torch.get_num_threads()


def fail_on_one(task, report):
    if task == 1:
        raise FloatingPointError(f"task {task}: the loss became nan")
    return task


_HELD = []  # what a worker keeps until it exits, as tqdm keeps its lock


def hold_a_semaphore_then_leave_slowly(task, report):
    """One task fails after a second; the other, in the other worker, holds a named semaphore
    (registered with multiprocessing's resource tracker, as tqdm's lock is) and would leave
    slowly: a finaliser that runs before the semaphore's own takes half a second."""
    if task == "fails":
        time.sleep(1)
        raise FloatingPointError("the loss became nan")
    _HELD.append(multiprocessing.get_context("spawn").Lock())
    multiprocessing.util.Finalize(None, time.sleep, args=(0.5,), exitpriority=100)
    time.sleep(60)


@pytest.mark.parametrize("workers", [1, 2])
def test_every_task_runs_once_in_order_with_its_progress_shown(workers):
    started, finished = [], []
    with RecordingBars(workers) as bars:
        done = run_all([3, 1, 2], train_for, workers, bars, started.append,
                       lambda task, result: finished.append(task))
    assert {task: result[0] for task, result in done.items()} == {3: 30, 1: 10, 2: 20}
    assert started == [3, 1, 2] and sorted(finished) == [1, 2, 3]
    phases = [message for _, kind, message, *_ in bars.shown if kind == "phase"]
    assert sorted(phases) == ["1 steps", "2 steps", "3 steps"]
    assert {slot for slot, *_ in bars.shown} <= set(range(workers))
    if workers == 2:  # each worker gets its share of this process's threads
        assert {threads for _, threads in done.values()} == {
            max(1, torch.get_num_threads() // 2)}


def test_a_task_that_fails_in_a_worker_fails_here_with_its_message():
    with ProgressBars(2, enabled=False) as bars, \
            pytest.raises(FloatingPointError, match="task 1: the loss became nan"):
        run_all([0, 1], fail_on_one, 2, bars)


def _children(pid):
    """The processes whose parent is ``pid`` (Linux's /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # ended meanwhile
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def _running(pid):
    """Whether ``pid`` is a live process (not ended, nor a zombie that init has yet to reap:
    a container's init may never reap it)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads Linux's /proc")
def test_ctrl_c_stops_a_study_at_once_keeps_what_finished_and_leaves_no_worker(tmp_path):
    command = [sys.executable, "-m", "fgssl", "demo", "--profile", "ci", "--methods", "random",
               "jigsaw", "simclr", "--seeds", "1", "--workers", "2", "--out", str(tmp_path)]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}  # its lines as they come
    study = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env=env)
    for line in study.stdout:  # until the first unit is done, the others still running
        if "done (1/" in line:
            break
    workers = _children(study.pid)
    assert workers, "the study runs its units in worker processes"
    interrupted = time.perf_counter()
    study.send_signal(signal.SIGINT)  # to the parent alone: it must stop its workers itself
    _, err = study.communicate(timeout=30)
    assert time.perf_counter() - interrupted < 10 and study.returncode == 130
    assert err.strip().splitlines()[-1].startswith("fgssl: stopped (Ctrl-C); every finished")
    assert "Traceback" not in err
    time.sleep(0.5)
    assert not [pid for pid in workers if _running(pid)]
    kept = sorted(p.stem for p in (tmp_path / "evaluations").glob("*.json"))
    assert kept  # the finished unit's evaluation, read back by the next run:
    again = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0
    for entry in kept:
        assert f"{entry}: reading back its model and evaluation" in again.stdout


def test_a_stopped_worker_finishes_its_shutdown_and_leaks_no_semaphore():
    # stopped while its finalisers run, a worker would leave its semaphore registered, and
    # the resource tracker would warn of a leak when the program ends
    script = ("from tests.test_workers import hold_a_semaphore_then_leave_slowly as task\n"
              "from fgssl.workers import ProgressBars, run_all\n"
              "try:\n"
              "    run_all(['holds', 'fails'], task, 2, ProgressBars(2, enabled=False))\n"
              "except FloatingPointError:\n"
              "    print('stopped')\n")
    ended = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                           timeout=60, cwd=Path(__file__).parents[1])
    assert ended.stdout.strip() == "stopped", ended.stderr
    assert "leaked semaphore" not in ended.stderr
