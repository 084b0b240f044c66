import warnings

import numpy as np
import pytest

from fgssl.evaluate.probe import choose_k, fit_linear_probe, knn_predict


def _brute_force_knn(bank, bank_labels, queries, k, temperature, num_classes):
    bank = bank / np.linalg.norm(bank, axis=1, keepdims=True)
    predictions = []
    for q in queries:
        q = q / np.linalg.norm(q)
        similarity = bank @ q
        nearest = np.argsort(-similarity, kind="stable")[:k]
        votes = np.zeros(num_classes)
        for i in nearest:
            votes[bank_labels[i]] += np.exp(similarity[i] / temperature)
        predictions.append(votes.argmax())
    return np.array(predictions)


@pytest.mark.parametrize("k, temperature", [(1, 0.07), (5, 0.07), (20, 0.5), (200, 1.0)])
def test_weighted_knn_matches_brute_force(k, temperature):
    rng = np.random.default_rng(k)
    bank, labels = rng.normal(size=(120, 8)), rng.integers(0, 5, 120)
    queries = rng.normal(size=(37, 8))
    ours = knn_predict(bank, labels, queries, k, temperature, num_classes=5, chunk=10)
    assert np.array_equal(ours, _brute_force_knn(bank, labels, queries, min(k, 120),
                                                 temperature, 5))


def test_knn_recovers_separable_classes_and_k_is_chosen_on_val():
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(4, 16)) * 5
    labels = np.repeat(np.arange(4), 30)
    features = centres[labels] + rng.normal(size=(120, 16))
    k, score = choose_k(features[::2], labels[::2], features[1::2], labels[1::2])
    assert score == 1.0 and k in (5, 10, 20, 50)
    with pytest.raises(ValueError, match="k must be at least 1"):
        knn_predict(features, labels, features, k=0)


def test_linear_probe_selects_regularisation_on_val_only():
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(3), 40)
    features = rng.normal(size=(120, 10))
    features[:, 0] += 2.0 * labels
    train, val = slice(0, 120, 2), slice(1, 120, 2)
    probe = fit_linear_probe(features[train], labels[train], features[val], labels[val],
                             c_grid=(1e-4, 1.0))
    assert probe.C == 1.0  # 1e-4 underfits: val says so
    assert probe.val_top1 == pytest.approx((probe.predict(features[val]) == labels[val]).mean())


def test_probe_accuracy_finds_what_the_features_encode_and_not_what_they_do_not():
    from fgssl.evaluate.probe import probe_accuracy

    rng = np.random.default_rng(0)
    features = rng.normal(size=(400, 6))
    encoded = (features[:, 0] > 0).astype(int)  # a property the features carry
    absent = rng.integers(0, 2, 400)            # one they do not
    assert probe_accuracy(features[::2], encoded[::2], features[1::2], encoded[1::2]) > 0.95
    assert 0.4 < probe_accuracy(features[::2], absent[::2], features[1::2], absent[1::2]) < 0.6
    with pytest.raises(ValueError, match="two distinct values"):
        probe_accuracy(features, np.zeros(400), features, np.zeros(400))


@pytest.mark.parametrize("classes", [2, 4])
def test_the_probe_as_a_torch_layer_gives_its_logits(classes):
    import torch

    rng = np.random.default_rng(0)
    centres = rng.normal(size=(classes, 6)) * 3
    labels = np.repeat(np.arange(classes), 30)
    features = (centres[labels] + rng.normal(size=(len(labels), 6))) * 5 + 2  # not standard
    probe = fit_linear_probe(features, labels, features, labels)
    with torch.no_grad():
        logits = probe.as_layer()(torch.as_tensor(features, dtype=torch.float32)).numpy()
    assert logits.shape == (len(labels), classes)
    assert np.array_equal(logits.argmax(1), probe.predict(features))
    decision = probe.classifier.decision_function(probe.scaler.transform(features))
    if classes == 2:  # sklearn's one logit z is the difference of the two
        assert np.allclose(logits[:, 1] - logits[:, 0], decision, atol=1e-4)
    else:
        assert np.allclose(logits, decision, atol=1e-4)


def test_one_label_per_class_fits_without_a_warning_about_regression():
    # a small label budget (one image per class) is a classification all the same: sklearn's
    # "y could represent a regression problem" would only confuse the reader of the output
    rng = np.random.default_rng(0)
    classes = 24
    x, y = rng.normal(size=(classes, 8)), np.arange(classes)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        probe = fit_linear_probe(x, y, x, y, c_grid=(1.0,))
    assert probe.val_top1 == 1.0  # it fits the one image of each class
