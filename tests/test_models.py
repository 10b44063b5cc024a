import numpy as np
import pytest
import torch

from repgeo.data import load_digits
from repgeo.models import (
    MLP,
    SmallCNN,
    TrainConfig,
    checkpoint_epochs,
    list_checkpoints,
    load_model,
    train,
)


def test_mlp_paper_init_and_names():
    net = MLP([2, 500, 2], activation="sigmoid", init="paper", seed=0)
    assert [n for n, _ in net.named_children()] == ["fc1", "act1", "out"]
    w = net.fc1.weight.detach()
    assert abs(float(w.std()) - 1.0) < 0.1 and abs(float(net.fc1.bias.detach().std()) - 1.0) < 0.15
    assert net.out.scale == pytest.approx(1 / np.sqrt(500))
    # readout variance is O(1) regardless of width under the 1/sqrt(width) scaling
    out = net(torch.randn(2000, 2)).detach()
    assert 0.05 < float(out.var()) < 2.0
    assert net.hidden_layers == ["act1"]


def test_model_seeds_are_deterministic_and_validated():
    a, b = MLP([4, 8, 3], seed=1), MLP([4, 8, 3], seed=1)
    for p, q in zip(a.parameters(), b.parameters()):
        assert torch.equal(p, q)
    with pytest.raises(ValueError, match="activation must be one of"):
        MLP([4, 3], activation="swish")
    with pytest.raises(ValueError, match="at least input and output"):
        MLP([4])
    with pytest.raises(ValueError, match="side must be even"):
        SmallCNN(side=7)


def test_checkpoint_epochs():
    assert checkpoint_epochs(100, 5)[0] == 0 and checkpoint_epochs(100, 5)[-1] == 100
    assert checkpoint_epochs(10, [3, 5]) == [0, 3, 5, 10]
    with pytest.raises(ValueError, match=r"lie in \[0, 10\]"):
        checkpoint_epochs(10, [20])


def _data():
    ds = load_digits()
    return ds.X[:300], ds.y[:300]


def test_training_is_deterministic_and_learns(tmp_path):
    X, y = _data()
    cfg = TrainConfig(epochs=8, batch_size=32, lr=0.01, checkpoints=3)
    h1 = train(
        MLP([64, 32, 10], seed=0),
        X,
        y,
        config=cfg,
        random_state=0,
        device="cpu",
        checkpoint_dir=tmp_path / "a",
    )
    h2 = train(
        MLP([64, 32, 10], seed=0),
        X,
        y,
        config=cfg,
        random_state=0,
        device="cpu",
        checkpoint_dir=tmp_path / "b",
    )
    assert h1["train_loss"] == h2["train_loss"]
    assert h1["train_acc"][-1] > 0.9 > h1["train_acc"][0]
    cks = list_checkpoints(tmp_path / "a")
    assert [e for e, _ in cks] == h1["checkpoints"] == checkpoint_epochs(8, 3)
    m = load_model(cks[-1][1])  # rebuilt from the config in the safetensors metadata
    assert isinstance(m, MLP)
    acc = (m(torch.from_numpy(X)).argmax(1).numpy() == y).mean()
    assert acc == pytest.approx(h1["train_acc"][-1])


def test_training_resumes_to_identical_weights(tmp_path):
    X, y = _data()
    cfg = TrainConfig(epochs=6, batch_size=32, lr=0.01, checkpoints=[0, 2, 4, 6])
    full = train(
        MLP([64, 16, 10], seed=3),
        X,
        y,
        config=cfg,
        random_state=5,
        device="cpu",
        checkpoint_dir=tmp_path / "full",
    )
    # an interrupted run: train 4 epochs into a folder, then continue to 6 with the same folder
    part_cfg = TrainConfig(epochs=6, batch_size=32, lr=0.01, checkpoints=[0, 2, 4, 6])
    d = tmp_path / "part"

    class Stop(Exception):
        pass

    net = MLP([64, 16, 10], seed=3)
    calls = {"n": 0}
    orig = net.forward

    def flaky(x):
        calls["n"] += 1
        if calls["n"] == 60:  # somewhere in epoch 5
            raise Stop
        return orig(x)

    net.forward = flaky
    with pytest.raises(Stop):
        train(net, X, y, config=part_cfg, random_state=5, device="cpu", checkpoint_dir=d)
    assert [e for e, _ in list_checkpoints(d)] == [0, 2, 4]
    resumed = train(
        MLP([64, 16, 10], seed=99),
        X,
        y,
        config=part_cfg,
        random_state=5,
        device="cpu",
        checkpoint_dir=d,
    )
    assert resumed["train_loss"] == pytest.approx(full["train_loss"], rel=1e-6)
    a = load_model(tmp_path / "full" / "epoch_00006.safetensors")
    b = load_model(d / "epoch_00006.safetensors")
    for p, q in zip(a.parameters(), b.parameters()):
        torch.testing.assert_close(p, q)


def test_training_bad_input(tmp_path):
    X, y = _data()
    net = MLP([64, 8, 10], seed=0)
    with pytest.raises(ValueError, match="same number of samples|must have 300 entries"):
        train(net, X, y[:10], config={"epochs": 1})
    with pytest.raises(ValueError, match="labels must lie in"):
        train(MLP([64, 8, 3], seed=0), X, y, config={"epochs": 1})
    with pytest.raises(ValueError, match="unknown training option"):
        train(net, X, y, config={"epochz": 1})
    with pytest.raises(ValueError, match="NaN"):
        train(net, np.full_like(X, np.nan), y, config={"epochs": 1})
    with pytest.raises(ValueError, match="optimizer must be one of"):
        TrainConfig(optimizer="lbfgs")
    with pytest.raises(FileNotFoundError):
        load_model(tmp_path / "none.safetensors")
    assert not list(tmp_path.iterdir())  # nothing written on bad input


def test_cnn_trains_on_flat_digits():
    X, y = _data()
    h = train(
        SmallCNN(seed=0), X, y, config={"epochs": 3, "batch_size": 32, "lr": 3e-3}, device="cpu"
    )
    assert h["train_acc"][-1] > 0.5


# ----------------------------------------------------------------------------- hostile checkpoints
def _crafted(path, config, tensors):
    import json

    from safetensors.torch import save as st_save

    path.write_bytes(st_save(tensors, metadata={"config": json.dumps(config)}))
    return path


@pytest.mark.parametrize(
    "config",
    [
        {"kind": "mlp", "widths": [3, 5, 2]},
        {"kind": "mlp", "widths": [4, 6, 6, 3], "init": "paper", "bias": False},
        {"kind": "cnn"},
        {
            "kind": "cnn",
            "side": 6,
            "in_channels": 3,
            "channels": [4, 5],
            "hidden": 7,
            "n_classes": 3,
        },
    ],
)
def test_expected_shapes_match_the_models_built(config):
    from repgeo.models.checkpoints import expected_shapes
    from repgeo.models.training import build_model

    built = {k: tuple(v.shape) for k, v in build_model(config, seed=0).state_dict().items()}
    assert expected_shapes(config) == built


def test_crafted_checkpoint_is_refused_before_its_model_is_built(tmp_path, monkeypatch):
    """Issue 13.7: a file declaring a [20000, 20000, 10] MLP with tiny tensors built the 1.85 GB
    model (24 s) before noticing; now the header is compared first and nothing is built."""
    import repgeo.models.training as training

    built = []
    real = training.build_model
    monkeypatch.setattr(training, "build_model", lambda *a, **k: built.append(1) or real(*a, **k))
    small = MLP([3, 4, 2], seed=0).state_dict()
    path = _crafted(
        tmp_path / "evil.safetensors", {"kind": "mlp", "widths": [20000, 20000, 10]}, small
    )
    with pytest.raises(ValueError, match=r"evil\.safetensors does not hold the weights"):
        load_model(path)
    assert built == []
    # the same check when loading into a given model
    with pytest.raises(ValueError, match=r"evil\.safetensors does not hold the weights"):
        load_model(path, MLP([5, 4, 2], seed=0))


def test_truncated_or_garbled_checkpoints_name_the_file(tmp_path):
    from repgeo._io import DamagedFileError, sha256_bytes
    from repgeo.models import save_model

    path = save_model(MLP([3, 4, 2], seed=0), tmp_path / "epoch_00000.safetensors")
    data = path.read_bytes()
    for name, blob in {
        "cut.safetensors": data[: len(data) - 7],
        "tiny.safetensors": data[:5],
        "header.safetensors": (10**9).to_bytes(8, "little") + data[8:],
        "json.safetensors": data[:8] + b"{" * (len(data) - 8),
    }.items():
        (tmp_path / name).write_bytes(blob)
        with pytest.raises(DamagedFileError, match=name.replace(".", r"\.")):
            load_model(tmp_path / name)
    load_model(path, sha256=sha256_bytes(data))
    with pytest.raises(DamagedFileError, match="SHA-256"):
        load_model(path, sha256="0" * 64)


def test_load_checkpoints_expected_epochs_and_checksums(tmp_path):
    from repgeo._io import DamagedFileError, sha256_file
    from repgeo.models import load_checkpoints, save_model

    for e in (0, 2, 4):
        save_model(MLP([3, 4, 2], seed=e), tmp_path / f"epoch_{e:05d}.safetensors")
    sums = {e: sha256_file(tmp_path / f"epoch_{e:05d}.safetensors") for e in (0, 2, 4)}
    assert [e for e, _ in load_checkpoints(tmp_path, epochs=[0, 2, 4], checksums=sums)] == [0, 2, 4]
    (tmp_path / "epoch_00002.safetensors").unlink()
    assert [e for e, _ in load_checkpoints(tmp_path)] == [0, 4]  # a listing cannot tell
    with pytest.raises(FileNotFoundError, match=r"epoch_00002\.safetensors \(epoch 2\) is missing"):
        load_checkpoints(tmp_path, epochs=[0, 2, 4])
    sums[4] = "f" * 64
    with pytest.raises(DamagedFileError, match="epoch_00004"):
        load_checkpoints(tmp_path, epochs=[0, 4], checksums=sums)


def test_resnet_matches_torchvisions_architecture_and_validates():
    from torch import nn

    from repgeo.models import ResNet

    # torchvision's published sizes: resnet18/34 have 11,689,512 / 21,797,672 parameters with
    # 1000 classes; with 10 the fc loses 512 * 990 + 990 = 507,870
    assert sum(p.numel() for p in ResNet(18).parameters()) == 11_689_512 - 507_870
    assert sum(p.numel() for p in ResNet(34).parameters()) == 21_797_672 - 507_870
    net = ResNet(18, widths=(8, 16, 16, 32), act=nn.GELU, n_classes=3).eval()
    assert net(torch.rand(2, 3, 32, 32)).shape == (2, 3)
    assert [n for n, _ in net.named_children()] == [
        "conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4", "avgpool", "fc"
    ]  # fmt: skip
    assert isinstance(net.layer1[0].relu, nn.GELU)
    with pytest.raises(ValueError, match="depth must be 18 or 34"):
        ResNet(50)
    with pytest.raises(ValueError, match="4 entries"):
        ResNet(blocks=(1, 1, 1))
