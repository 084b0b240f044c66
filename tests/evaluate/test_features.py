import numpy as np
import pytest
import torch

from fgssl.data.cache import CachedImages
from fgssl.evaluate.features import assert_frozen, extract_features, frozen
from fgssl.evaluate.probe import fit_linear_probe
from fgssl.models.backbones import build_backbone


def _data(n: int = 40) -> CachedImages:
    rng = np.random.default_rng(0)
    return CachedImages(rng.integers(0, 256, (n, 16, 16, 3), dtype=np.uint8), np.arange(n) % 4)


def test_probing_leaves_weights_and_batchnorm_statistics_unchanged():
    torch.manual_seed(0)
    backbone = build_backbone("small_cnn").train()
    before = {k: v.clone() for k, v in backbone.state_dict().items()}
    features, labels = extract_features(backbone, _data())
    fit_linear_probe(features[:20], labels[:20], features[20:], labels[20:])
    after = backbone.state_dict()
    for name, tensor in before.items():  # includes BN running_mean / running_var
        assert torch.equal(tensor, after[name]), name
    assert backbone.training  # the caller's mode is restored
    assert all(p.requires_grad for p in backbone.parameters())


def test_every_module_gets_back_its_own_mode_and_every_parameter_its_flag():
    backbone = build_backbone("small_cnn").train()
    backbone.features[0].eval()  # a part the caller keeps in eval mode (a frozen stem)
    backbone.features[1].requires_grad_(False)
    with frozen(backbone):
        pass
    assert backbone.training and backbone.features[2].training
    assert not backbone.features[0].training and not backbone.features[0][1].training
    assert not any(p.requires_grad for p in backbone.features[1].parameters())
    assert all(p.requires_grad for p in backbone.features[2].parameters())


def test_features_are_deterministic_and_shaped():
    backbone = build_backbone("small_cnn")
    a, labels = extract_features(backbone, _data(), batch_size=7)
    b, _ = extract_features(backbone, _data(), batch_size=40)
    assert a.shape == (40, backbone.feature_dim) and a.dtype == np.float32
    assert np.allclose(a, b, atol=1e-5) and labels.tolist() == (np.arange(40) % 4).tolist()


def test_frozen_asserts_eval_mode_and_no_gradients():
    backbone = build_backbone("small_cnn")
    with frozen(backbone):
        assert_frozen(backbone)
        assert not any(p.requires_grad for p in backbone.parameters())
    with pytest.raises(AssertionError, match="not in eval mode"):
        assert_frozen(backbone.train())
    backbone.eval()
    with pytest.raises(AssertionError, match="require gradients"):
        assert_frozen(backbone)


def test_view_features_pair_rows_by_image_and_change_nothing():
    from fgssl.evaluate.features import view_features
    from fgssl.gpu_augment import BatchSimCLRViews

    torch.manual_seed(0)
    backbone = build_backbone("small_cnn").train()
    before = {k: v.clone() for k, v in backbone.state_dict().items()}
    images = torch.randint(0, 256, (6, 3, 16, 16), dtype=torch.uint8)
    first, second = view_features(backbone, images, BatchSimCLRViews(16))
    assert first.shape == second.shape == (6, backbone.feature_dim)
    assert not first.requires_grad and not torch.equal(first, second)
    for name, tensor in before.items():
        assert torch.equal(tensor, backbone.state_dict()[name]), name
    assert backbone.training
