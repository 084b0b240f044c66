from fgssl.study import units
from fgssl.study.units import Settings, Unit, units_for


def test_units_group_the_entries_that_share_a_training_costliest_first():
    grouped = units_for(["random", "srgan-g", "random-srgan-d", "jigsaw", "srgan-d"])
    assert [unit.entries for unit in grouped] == [("srgan-d", "srgan-g"), ("jigsaw",),
                                                  ("random-srgan-d",), ("random",)]
    assert [unit.training for unit in grouped] == ["srgan", "jigsaw", None, None]
    assert Unit(("simclr-object_crop",)).training == "simclr variant=object_crop"


def test_end_to_end_entries_train_their_own_recipe_on_the_chosen_budgets(tmp_path):
    settings = Settings(None, "synthbirds", None, (1.0, 0.3, 0.1), 2, tmp_path,
                        end_to_end_at=(1.0, 0.1), dataset={})
    for entry in ("scratch", "pmg", "pmg-imagenet"):
        jobs = units._jobs(entry, settings)
        assert {(j.protocol, j.labels) for j in jobs} == {("finetune", 1.0), ("finetune", 0.1)}
        assert len(jobs) == 4  # two seeds each
    frozen = {(j.protocol, j.labels) for j in units._jobs("simclr", settings)}
    assert ("finetune", 1.0) not in frozen and ("linear", 0.3) in frozen
    assert ("finetune", 0.1) in frozen  # fine-tuned at the low-label point
    assert {(j.protocol, j.labels) for j in units._jobs("supervised", settings)} == \
        {("linear", 1.0), ("knn", 1.0)}  # it saw every label: probed with all of them
    assert not any(j.protocol == "finetune" for j in units._jobs("srgan-g", settings))


def test_the_declared_recipes_are_the_study_s():
    from fgssl.study.entries import study_entries

    table = study_entries()
    pmg, pretrained = table["pmg"].entry.end_to_end, table["pmg-imagenet"].entry.end_to_end
    assert pmg.head == "pmg" and pmg.backbone_lr_factor == 1.0  # from scratch
    assert pretrained.backbone_lr_factor == 0.1 and table["pmg-imagenet"].entry.weights == \
        "imagenet"  # PMG's paper: pretrained layers at a tenth
    assert table["scratch"].entry.end_to_end.epochs_of == "supervised"  # not fine-tuning's
