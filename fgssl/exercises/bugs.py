"""The study's 13 bugs (docs/STUDY.md) as exercises for ``10_assignment_debugging_ssl``.

Each bug comes with the study's code (``BUGS[n].study``, printed by :func:`show_bug`), the
function the student writes to do the same job correctly, and a check that tests the
*behaviour* the bug broke — the head's weights change during training, dropout is off in
eval, the scheduler steps, the confusion matrix's rows are the true classes — through
:func:`fgssl.exercises.checks.check` (so a failure is one line with a hint, and the
notebook goes on with the reference fix). ``check_bug(n, yours)`` runs bug n's.
The fixes and the checks themselves are in :mod:`fgssl.exercises.bug_fixes`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fgssl.exercises.bug_fixes import BUG_EXERCISES
from fgssl.exercises.checks import EXERCISES, check


@dataclass(frozen=True)
class Bug:
    """One of the study's bugs: what it broke, its code, and what to write instead."""

    number: int
    title: str
    study: str
    task: str


BUGS: dict[int, Bug] = {bug.number: bug for bug in (
    Bug(1, "the classifier head is never trained",
        'for name, param in model.named_parameters():\n'
        '    param.requires_grad = name in ("layer4.0.weight", "fc.0.weight", "fc.0.bias")\n'
        '# ... but the new head is named fc.weight / fc.bias',
        "finetune_last_block(model): make layer4 and the fc head trainable, nothing else"),
    Bug(2, "dropout stays on at test time",
        "def forward(self, x):\n    return self.fc(F.dropout(x, p=0.5))  # training=True always",
        "dropout_head(features, weight, training): dropout (p=0.5) only when training, then "
        "features @ weight.T"),
    Bug(3, "class weights that make the imbalance worse",
        "weights = torch.tensor(counts / counts.sum())  # 'to fix the imbalance'",
        "balancing_weights(labels, num_classes): weights n / (k * count_c): rare classes "
        "count more"),
    Bug(4, "a module 'unfrozen' by setting an attribute",
        "model.layer4.requires_grad = True  # sets an attribute; unfreezes nothing",
        "unfreeze(module): make every parameter of module trainable, and return it"),
    Bug(5, "the optimizer is built before the head is replaced",
        "optimizer = torch.optim.SGD(model.parameters(), lr=0.1)\n"
        "model.fc = nn.Linear(model.fc.in_features, num_classes)  # never trained",
        "new_head_and_optimizer(model, num_classes): a new fc head, and an SGD optimizer "
        "(lr 0.1) that trains it"),
    Bug(6, "a learning-rate schedule that is never stepped",
        "scheduler = StepLR(optimizer, step_size=2, gamma=0.1)\nfor epoch in range(epochs):\n"
        "    train_one_epoch(model, optimizer)  # scheduler.step() nowhere",
        "learning_rates(epochs): SGD at 0.1 on any small model, StepLR(step_size=2, "
        "gamma=0.1) stepped after each epoch; return the rate of each epoch"),
    Bug(7, "validation leaves the model in eval mode",
        "for epoch in range(epochs):\n    train_one_epoch(model)\n    model.eval()\n"
        "    validate(model)  # and model.train() is never called again",
        "train_and_validate(model, epochs): per epoch one training step in train mode on "
        "torch.ones(4, 2), then one validation pass in eval mode without gradients"),
    Bug(8, "the model chosen and scored on the same split",
        "best = max(models, key=lambda m: accuracy(m, test))\nprint(accuracy(best, test))",
        "select_then_report(val_scores, test_scores): the index of the model best on val, "
        "and its test score"),
    Bug(9, "a confusion matrix the wrong way round",
        "cm = confusion_matrix(predictions, labels)  # sklearn wants (y_true, y_pred)",
        "confusion(true, predicted, num_classes): rows the true classes, columns the "
        "predictions, every class present"),
    Bug(10, "a 'max-min Hamming' permutation set that is neither, without a seed",
        "permutations = [np.random.permutation(9) for _ in range(100)]",
        "seeded_permutations(count, tiles, seed): fgssl's greedy max-min Hamming set "
        "(fgssl.methods.jigsaw.max_min_hamming), from a generator seeded with seed"),
    Bug(11, "unreadable images silently replaced",
        "try:\n    image = Image.open(path)\nexcept Exception:\n"
        "    image, label = Image.open(paths[0]), labels[0]  # the first image, its label",
        "read_images(paths, labels): the readable images as RGB arrays, their labels, and the "
        "list of paths that could not be read"),
    Bug(12, "Grad-CAM on differently normalised inputs",
        "cam_input = transforms.ToTensor()(image)  # training also subtracted the ImageNet mean "
        "and divided by its std",
        "cam_preprocess(images): uint8 (B, 3, H, W) -> exactly what training fed the network"),
    Bug(13, "a GPU check that is always true",
        'device = "cuda" if torch.cuda.is_available else "cpu"  # a function is truthy',
        "pick_device(cuda_available): 'cuda' if cuda_available() says so, else 'cpu'"),
)}
EXERCISES.update({exercise.name: exercise for exercise in BUG_EXERCISES})


def check_bug(number: int, yours: Any) -> Any:
    """Check your fix of the study's bug ``number`` (notebook 10) on hidden cases and print the
    verdict (✓, or ✗ with a hint).

    Args:
        number: the bug, as :func:`show_bug` printed it.
        yours: your fixed function.

    Returns:
        ``yours`` when it passed, else the kit's fixed function: what the cells after it use."""
    if number not in BUGS:
        raise ValueError(f"the study has bugs 1 to {len(BUGS)}, not {number}")
    return check(f"bug{number:02d}", yours)


def show_bug(number: int) -> None:
    """Print the study's bug ``number``: what went wrong, the study's code, and what to write.

    Args:
        number: 1 to the number of bugs in :data:`BUGS`."""
    if number not in BUGS:
        raise ValueError(f"the study has bugs 1 to {len(BUGS)}, not {number}")
    bug = BUGS[number]
    print(f"Bug {bug.number}: {bug.title}\n\nThe study's code:\n\n"
          + "\n".join(f"    {line}" for line in bug.study.splitlines())
          + f"\n\nWrite: {bug.task}")
