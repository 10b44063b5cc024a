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
