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
