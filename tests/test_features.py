import numpy as np
import pytest
import torch
from torch import nn

from repgeo.features import FeatureMap, extract, layer_names
from repgeo.models import MLP, SmallCNN


class Branchy(nn.Module):
    """Not a Sequential: a residual block (fx-traceable)."""

    def __init__(self):
        super().__init__()
        self.a = nn.Linear(5, 6)
        self.b = nn.Linear(6, 6)
        self.head = nn.Linear(6, 2)

    def forward(self, x):
        h = torch.tanh(self.a(x))
        h = h + torch.tanh(self.b(h))
        return self.head(h)


class Dynamic(Branchy):
    """Shape-dependent control flow: torch.fx cannot trace it (hook fallback), vmap can."""

    def forward(self, x):
        h = torch.tanh(self.a(x))
        if h.shape[-1] != 6:  # static under vmap, a Proxy under fx
            h = h * 2
        return self.head(torch.tanh(self.b(h)))


def _fd_jacobian(f, x, eps=1e-6):
    cols = []
    for j in range(x.shape[0]):
        e = torch.zeros_like(x)
        e[j] = eps
        cols.append((f(x + e) - f(x - e)) / (2 * eps))
    return torch.stack(cols, 1)


@pytest.mark.parametrize(
    ("model", "layer", "method", "n_out"),
    [
        (MLP([5, 7, 4, 3], activation="tanh", seed=0), "act2", "sequential", 4),
        (Branchy(), "add", "fx", 6),
        (Branchy(), "a", "fx", 6),
        (Dynamic(), "b", "hook", 6),
        (MLP([5, 7, 3], seed=0), None, "identity", 3),
    ],
)
def test_feature_map_jacobians_under_torch_func(model, layer, method, n_out):
    model = model.double()
    phi = FeatureMap(model, layer)
    assert phi.method == method
    x = torch.randn(4, 5, dtype=torch.float64)
    assert phi(x).shape == (4, n_out)
    J = torch.func.vmap(torch.func.jacrev(phi.single))(x)
    Jf = torch.func.vmap(torch.func.jacfwd(phi.single))(x)
    assert J.shape == (4, n_out, 5)
    for i in range(4):
        torch.testing.assert_close(J[i], _fd_jacobian(phi.single, x[i]), rtol=1e-5, atol=1e-7)
    torch.testing.assert_close(J, Jf)
    v = torch.randn(5, dtype=torch.float64)
    _, jvp = torch.func.jvp(phi.single, (x[0],), (v,))
    torch.testing.assert_close(jvp, J[0] @ v)
    u = torch.randn(n_out, dtype=torch.float64)
    _, vjp_fn = torch.func.vjp(phi.single, x[0])
    torch.testing.assert_close(vjp_fn(u)[0], u @ J[0])


def test_sequential_slice_matches_full_forward():
    net = MLP([5, 7, 4, 3], seed=0)
    x = torch.randn(3, 5)
    h = net.act1(net.fc1(x))
    torch.testing.assert_close(FeatureMap(net, "act1")(x), h)
    torch.testing.assert_close(FeatureMap(net, "out")(x), net(x))


def test_unknown_layer_lists_valid_names():
    with pytest.raises(ValueError, match=r"valid layer names are: \['fc1', 'act1', 'out'\]"):
        FeatureMap(MLP([3, 4, 2]), "act9")
    with pytest.raises(ValueError, match="valid layer names are: .*'head'"):
        FeatureMap(Branchy(), "nope")
    with pytest.raises(TypeError, match="torch.nn.Module"):
        FeatureMap(lambda x: x, "a")
    assert "add" in layer_names(Branchy())


def test_eval_mode_is_used_and_restored():
    net = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.Dropout(0.5), nn.ReLU())
    net.train()
    phi = FeatureMap(net, "3")
    x = torch.randn(6, 4)
    a, b = phi(x), phi(x)
    torch.testing.assert_close(a, b)  # dropout off, batch stats not used
    torch.testing.assert_close(phi(x[:1]), a[:1])  # no coupling between samples
    assert net.training and net[1].training


def test_cnn_with_input_shape_and_extract():
    cnn = SmallCNN(seed=0)
    X = np.random.default_rng(0).random((50, 64)).astype(np.float32)
    Z = extract(cnn, X, layer="act3", device="cpu", batch_size=7)
    assert Z.shape == (50, 64) and Z.dtype == np.float32
    with torch.no_grad():
        full = cnn[:9](torch.from_numpy(X)).numpy()
    np.testing.assert_allclose(Z, full, rtol=1e-5, atol=1e-6)
    # an image model that wants (C, H, W) input
    img = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Flatten())
    phi = FeatureMap(img, "1", input_shape=(1, 8, 8))
    assert phi(torch.randn(3, 64)).shape == (3, 72)


def test_extract_bad_input():
    net = MLP([4, 3], seed=0)
    with pytest.raises(ValueError, match="NaN"):
        extract(net, np.full((2, 4), np.nan))
    with pytest.raises(ValueError, match="2-D"):
        extract(net, np.zeros(4))
    with pytest.raises(ValueError, match="batch_size must be >= 1"):
        extract(net, np.zeros((2, 4)), batch_size=0)


def test_extract_leaves_the_callers_model_as_it_was():
    import numpy as np

    net = MLP([4, 8, 3], seed=0).double()
    net.train()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    Z = extract(net, np.ones((5, 4)), layer="act1", dtype=torch.float32, device="cpu")
    assert Z.dtype == np.float32 and Z.shape == (5, 8)
    assert net.training and all(m.training for m in net.modules())
    assert all(p.dtype == torch.float64 for p in net.parameters())
    for k, v in net.state_dict().items():
        assert v.dtype == torch.float64 and torch.equal(v, before[k])
    # same numbers as a float32 copy computed directly
    ref = FeatureMap(MLP([4, 8, 3], seed=0), "act1")(torch.ones(5, 4)).detach().numpy()
    np.testing.assert_allclose(Z, ref, rtol=1e-6)
