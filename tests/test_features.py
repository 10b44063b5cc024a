"""Feature maps and extraction: layers by module name, one forward pass, text, pooling.

torchvision and timm cannot be installed next to the pinned CPU torch, so their naming is
reproduced by look-alike modules: a ResNet with stages ``layer1 … layer4`` and a ViT with
``patch_embed`` and ``blocks.N``; a tiny attention encoder with a Hugging Face-style signature
stands in for BERT (the real MiniLM is tested in ``tests/test_analyze_model.py``).
"""

import numpy as np
import pytest
import torch
from torch import nn

from repgeo.features import FeatureMap, block_layers, check_layer_names, extract, layer_names
from repgeo.models import MLP, SmallCNN, over_checkpoints


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


# ----------------------------------------------------------------------------- look-alikes
class BasicBlock(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv1 = nn.Conv2d(c, c, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(c)
        self.conv2 = nn.Conv2d(c, c, 3, padding=1)
        self.bn2 = nn.BatchNorm2d(c)

    def forward(self, x):
        out = torch.relu(self.bn1(self.conv1(x)))
        return torch.relu(self.bn2(self.conv2(out)) + x)


class ResNetLike(nn.Module):
    """torchvision's ResNet naming: conv1, bn1, relu, maxpool, layer1..layer4, avgpool, fc."""

    def __init__(self, c=4, n_classes=3):
        super().__init__()
        self.conv1 = nn.Conv2d(3, c, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(c)
        self.relu = nn.ReLU()
        self.maxpool = nn.Identity()
        for i in range(1, 5):
            setattr(self, f"layer{i}", nn.Sequential(BasicBlock(c), BasicBlock(c)))
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(c, n_classes)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


class ViTBlock(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.norm1 = nn.LayerNorm(d)
        self.attn = nn.MultiheadAttention(d, 2, batch_first=True)
        self.norm2 = nn.LayerNorm(d)
        self.mlp = nn.Sequential(nn.Linear(d, 2 * d), nn.GELU(), nn.Linear(2 * d, d))

    def forward(self, x):
        h = self.norm1(x)
        x = x + self.attn(h, h, h, need_weights=False)[0]
        return x + self.mlp(self.norm2(x))


class ViTLike(nn.Module):
    """timm's ViT naming: patch_embed, cls_token, pos_embed, blocks.N, norm, head."""

    def __init__(self, d=8, depth=3, n_classes=3):
        super().__init__()
        self.patch_embed = nn.Conv2d(3, d, 4, stride=4)
        self.cls_token = nn.Parameter(torch.randn(1, 1, d) * 0.1)
        self.pos_embed = nn.Parameter(torch.randn(1, 5, d) * 0.1)
        self.blocks = nn.Sequential(*[ViTBlock(d) for _ in range(depth)])
        self.norm = nn.LayerNorm(d)
        self.head = nn.Linear(d, n_classes)

    def forward(self, x):
        x = self.patch_embed(x).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], 1) + self.pos_embed
        return self.head(self.norm(self.blocks(x))[:, 0])


class TinyLayer(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.q, self.k, self.v = nn.Linear(d, d), nn.Linear(d, d), nn.Linear(d, d)
        self.mlp = nn.Linear(d, d)

    def forward(self, h, attention_mask=None):
        s = self.q(h) @ self.k(h).transpose(1, 2) / h.shape[-1] ** 0.5
        if attention_mask is not None:
            s = s.masked_fill(attention_mask[:, None, :] == 0, -1e9)
        h = h + torch.softmax(s, -1) @ self.v(h)
        return h + torch.tanh(self.mlp(h))


class TinyEncoder(nn.Module):
    """A Hugging Face-style encoder: ids or inputs_embeds, attention_mask, a ModelOutput-like
    dict; attention mixes tokens, masked keys are ignored."""

    def __init__(self, vocab=40, d=6, depth=2):
        super().__init__()
        self.embeddings = nn.Embedding(vocab, d)
        self.layer = nn.ModuleList(TinyLayer(d) for _ in range(depth))

    def forward(self, input_ids=None, attention_mask=None, inputs_embeds=None):
        h = self.embeddings(input_ids) if inputs_embeds is None else inputs_embeds
        for block in self.layer:
            h = block(h, attention_mask)
        return {"last_hidden_state": h}


class ToyTokenizer:
    """Whitespace tokens; [CLS] = 1 first; pads with 0 to the batch's longest (right)."""

    def __init__(self):
        self.vocab = {}
        self.calls = 0

    def __call__(self, texts, padding=True, truncation=True, max_length=None, return_tensors="pt"):
        self.calls += 1
        ids = [
            [1] + [2 + self.vocab.setdefault(w, len(self.vocab) % 37) for w in t.split()]
            for t in texts
        ]
        if max_length is not None:
            ids = [i[:max_length] for i in ids]
        T = max(len(i) for i in ids)
        return {
            "input_ids": torch.tensor([i + [0] * (T - len(i)) for i in ids]),
            "attention_mask": torch.tensor([[1] * len(i) + [0] * (T - len(i)) for i in ids]),
        }


def _fd_jacobian(f, x, eps=1e-6):
    cols = []
    for j in range(x.shape[0]):
        e = torch.zeros_like(x)
        e[j] = eps
        cols.append((f(x + e) - f(x - e)) / (2 * eps))
    return torch.stack(cols, 1)


def _capture(model, x, name, **kw):
    """The output of module ``name`` in a plain forward pass (reference)."""
    out = []
    h = dict(model.named_modules())[name].register_forward_hook(lambda m, i, o: out.append(o))
    with torch.no_grad():
        model(x, **kw) if not isinstance(x, dict) else model(**x)
    h.remove()
    return out[-1]


# ----------------------------------------------------------------------------- FeatureMap
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


def test_container_module_names_of_traceable_models():
    """torchvision's "layer2", timm's "blocks.1", a user's "enc": module names, cut by fx."""
    torch.manual_seed(0)
    res = ResNetLike().eval()
    x = torch.randn(2, 3, 8, 8)
    phi = FeatureMap(res, "layer2", input_shape=(3, 8, 8))
    assert phi.method == "fx"
    torch.testing.assert_close(phi(x.reshape(2, -1)), _capture(res, x, "layer2").reshape(2, -1))
    nested = FeatureMap(res, "layer3.1.conv2", input_shape=(3, 8, 8))
    torch.testing.assert_close(
        nested(x.reshape(2, -1)), _capture(res, x, "layer3.1.conv2").reshape(2, -1)
    )
    vit = ViTLike().eval()
    phi = FeatureMap(vit, "blocks.1", input_shape=(3, 8, 8))
    torch.testing.assert_close(phi(x.reshape(2, -1)), _capture(vit, x, "blocks.1").reshape(2, -1))


def test_unknown_layer_names_closest_matches_not_the_whole_list():
    with pytest.raises(ValueError, match=r"unknown layer 'act9' for MLP; closest matches: 'act1'"):
        FeatureMap(MLP([3, 4, 2]), "act9")
    res = ResNetLike()
    with pytest.raises(ValueError) as info:
        extract(res, torch.randn(2, 3, 8, 8), layers=["layer5"])
    msg = str(info.value)
    assert "'layer1'" in msg and "lists all" in msg
    assert msg.count("'") <= 14  # five matches at most, never the ~60 names
    with pytest.raises(ValueError, match="closest matches: 'layer1.0.conv2', 'layer1.0.conv1'"):
        FeatureMap(res, "layer1.0.conv3")
    # the fx node name of a module call is accepted as well (a traceable model)
    x = torch.randn(2, 3 * 8 * 8)
    torch.testing.assert_close(
        FeatureMap(res.eval(), "layer1_0_conv1", input_shape=(3, 8, 8))(x),
        FeatureMap(res, "layer1.0.conv1", input_shape=(3, 8, 8))(x),
    )
    with pytest.raises(ValueError, match="closest matches: 'head'"):
        FeatureMap(Branchy(), "heads")
    with pytest.raises(TypeError, match="torch.nn.Module"):
        FeatureMap(lambda x: x, "a")
    assert check_layer_names(res, ["layer1", "fc"]) == ["layer1", "fc"]


def test_layer_names_are_module_names_with_filters():
    res = ResNetLike()
    names = layer_names(res)
    assert names == [n for n, _ in res.named_modules() if n]
    assert layer_names(res, depth=1)[:4] == ["conv1", "bn1", "relu", "maxpool"]
    assert layer_names(res, types=BasicBlock) == [
        f"layer{i}.{j}" for i in range(1, 5) for j in (0, 1)
    ]
    assert layer_names(res, types="BasicBlock", depth=2) == layer_names(res, types=BasicBlock)
    assert "add" in layer_names(Branchy(), kind="fx") and "add" not in layer_names(Branchy())
    with pytest.raises(ValueError, match="cannot be traced"):
        layer_names(Dynamic(), kind="fx")
    with pytest.raises(TypeError, match="module classes"):
        layer_names(res, types=[3])


def test_block_layers_follow_the_model_family():
    assert block_layers(ResNetLike()) == ["layer1", "layer2", "layer3", "layer4"]
    assert block_layers(ViTLike()) == ["patch_embed", "blocks.0", "blocks.1", "blocks.2"]
    assert block_layers(TinyEncoder()) == ["embeddings", "layer.0", "layer.1"]
    assert block_layers(MLP([3, 5, 5, 2], seed=0)) == ["act1", "act2"]
    assert block_layers(Branchy()) == ["a", "b", "head"]
    with pytest.raises(ValueError, match="no submodules"):
        block_layers(nn.Linear(2, 2))


def test_eval_mode_is_used_and_restored():
    net = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.Dropout(0.5), nn.ReLU())
    net.train()
    phi = FeatureMap(net, "3")
    x = torch.randn(6, 4)
    a, b = phi(x), phi(x)
    torch.testing.assert_close(a, b)  # dropout off, batch stats not used
    torch.testing.assert_close(phi(x[:1]), a[:1])  # no coupling between samples
    assert net.training and net[1].training


# ----------------------------------------------------------------------------- extract
def test_cnn_with_input_shape_and_extract():
    cnn = SmallCNN(seed=0)
    X = np.random.default_rng(0).random((50, 64)).astype(np.float32)
    Z = extract(cnn, X, layer="act3", device="cpu", batch_size=7)
    assert Z.shape == (50, 64) and Z.dtype == np.float32
    with torch.no_grad():
        full = cnn[:9](torch.from_numpy(X)).numpy()
    np.testing.assert_allclose(Z, full, rtol=1e-5, atol=1e-6)
    img = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Flatten())
    phi = FeatureMap(img, "1", input_shape=(1, 8, 8))
    assert phi(torch.randn(3, 64)).shape == (3, 72)


def test_many_layers_in_one_forward_pass_equal_one_layer_at_a_time():
    torch.manual_seed(0)
    res = ResNetLike().eval()
    X = torch.randn(30, 3, 8, 8)
    calls = []
    res.register_forward_pre_hook(lambda m, i: calls.append(1))
    names = ["conv1", "layer1", "layer2", "layer3", "layer4", "avgpool", "fc"]
    Z = extract(res, X, layers=names, batch_size=10)
    assert list(Z) == names and len(calls) == 3  # 7 layers, 3 batches, 3 forward passes
    for name in names:
        ref = _capture(res, X, name).reshape(30, -1).numpy()
        np.testing.assert_allclose(Z[name], ref, rtol=1e-5, atol=1e-6)
        one = extract(res, X.reshape(30, -1), layer=name, input_shape=(3, 8, 8))
        np.testing.assert_allclose(one, ref, rtol=1e-5, atol=1e-6)
    pooled = extract(res, X, layers=["layer2"], pooling="mean")["layer2"]
    np.testing.assert_allclose(pooled, _capture(res, X, "layer2").mean((2, 3)).numpy(), rtol=1e-5)
    with pytest.raises(ValueError, match="applies to sequence outputs"):
        extract(res, X, layer="layer2", pooling="cls")


def test_vit_tokens_pooled_by_cls_and_mean():
    torch.manual_seed(0)
    vit = ViTLike().eval()
    X = torch.randn(6, 3, 8, 8)
    ref = _capture(vit, X, "blocks.2")  # (6, 5, 8): cls + 4 patches
    Z = extract(vit, X, layers=["blocks.0", "blocks.2"], pooling="cls")
    np.testing.assert_allclose(Z["blocks.2"], ref[:, 0].numpy(), rtol=1e-5, atol=1e-6)
    mean = extract(vit, X, layer="blocks.2", pooling="mean")
    np.testing.assert_allclose(mean, ref.mean(1).numpy(), rtol=1e-5, atol=1e-6)
    assert extract(vit, X, layer="blocks.2", pooling="none").shape == (6, 5, 8)


def test_fx_node_names_are_read_in_one_pass_too():
    net = Branchy().eval()
    X = torch.randn(9, 5)
    Z = extract(net, X, layers=["a", "add", "head"])
    for name in ("a", "add", "head"):
        np.testing.assert_allclose(Z[name], FeatureMap(net, name)(X).detach().numpy(), rtol=1e-6)


def test_over_checkpoints_reads_every_layer_in_one_pass():
    cks = [(0, MLP([3, 8, 6, 2], seed=0)), (5, MLP([3, 8, 6, 2], seed=1))]
    X = np.random.default_rng(0).normal(size=(20, 3)).astype(np.float32)
    calls = []
    for _, m in cks:
        m.register_forward_pre_hook(lambda mod, i: calls.append(1))
    res = over_checkpoints(cks, lambda Z, step: float(np.abs(Z).sum()), X)
    assert len(calls) == 2  # one pass per checkpoint for both hidden layers
    for epoch, m in cks:
        for layer in ("act1", "act2"):
            ref = float(np.abs(FeatureMap(m, layer)(torch.from_numpy(X)).detach().numpy()).sum())
            assert res[layer][epoch] == pytest.approx(ref, rel=1e-6)


# ----------------------------------------------------------------------------- text
def test_text_pooling_over_the_attention_mask():
    torch.manual_seed(0)
    enc = TinyEncoder().eval()
    tok = ToyTokenizer()
    sentences = ["the cat sat", "a much longer sentence about many other things", "dogs run"]
    Z = extract(enc, sentences, layers=["layer.0", "layer.1"], tokenizer=tok, batch_size=2)
    assert tok.calls == 2  # tokenised per batch
    for i, s in enumerate(sentences):  # alone (no padding) = in a padded batch
        alone = extract(enc, [s], layer="layer.1", tokenizer=tok)
        np.testing.assert_allclose(Z["layer.1"][i], alone[0], rtol=1e-5, atol=1e-6)
        batch = tok([s])
        h = _capture(enc, batch, "layer.1")[0]
        np.testing.assert_allclose(alone[0], h.mean(0).numpy(), rtol=1e-5, atol=1e-6)
        cls = extract(enc, [s, sentences[1]], layer="layer.1", tokenizer=tok, pooling="cls")[0]
        last = extract(enc, [s, sentences[1]], layer="layer.1", tokenizer=tok, pooling="last")[0]
        np.testing.assert_allclose(cls, h[0].numpy(), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(last, h[-1].numpy(), rtol=1e-5, atol=1e-6)
    tokens = extract(enc, sentences, layer="layer.1", tokenizer=tok, pooling="none", batch_size=1)
    mask = tok(sentences)["attention_mask"].numpy().astype(bool)
    assert tokens.shape == (3, mask.shape[1], 6)
    assert np.isnan(tokens[~mask]).all() and np.isfinite(tokens[mask]).all()


def test_tokenised_batches_and_left_padding():
    torch.manual_seed(0)
    enc = TinyEncoder().eval()
    ids = torch.tensor([[0, 0, 1, 5, 6], [1, 7, 8, 9, 10]])
    mask = torch.tensor([[0, 0, 1, 1, 1], [1, 1, 1, 1, 1]])
    last = extract(enc, {"input_ids": ids, "attention_mask": mask}, layer="layer.0", pooling="last")
    h = _capture(enc, {"input_ids": ids, "attention_mask": mask}, "layer.0")
    np.testing.assert_allclose(last, h[:, -1].numpy(), rtol=1e-5, atol=1e-6)
    mean = extract(enc, {"input_ids": ids, "attention_mask": mask}, layer="layer.0")
    np.testing.assert_allclose(mean[0], h[0, 2:].mean(0).numpy(), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="same number of rows"):
        extract(enc, {"input_ids": ids, "attention_mask": mask[:1]}, layer="layer.0")


def test_pullback_with_respect_to_input_embeddings_with_the_mask_held_fixed():
    from repgeo.geometry import pullback_metric

    torch.manual_seed(0)
    enc = TinyEncoder().double().eval()
    tok = ToyTokenizer()
    batch = tok(["the cat sat on", "dogs"])  # the second is padded: 3 masked positions
    mask = batch["attention_mask"][1:]
    E = enc.embeddings(batch["input_ids"][1:]).detach()  # (1, T, d)
    T, d = E.shape[1:]
    phi = FeatureMap(
        enc, "layer.1", input_shape=(T, d), input_fn=lambda e: {"inputs_embeds": e},
        forward_kwargs={"attention_mask": mask}, pooling="mean",
    )  # fmt: skip
    assert phi.method == "hook"
    x = E.reshape(1, -1)
    ref = extract(enc, {"input_ids": batch["input_ids"][1:], "attention_mask": mask},
                  layer="layer.1", dtype=torch.float64)  # fmt: skip
    np.testing.assert_allclose(phi(x).detach().numpy(), ref, rtol=1e-10)
    J = torch.func.jacrev(phi.single)(x[0])
    torch.testing.assert_close(J, _fd_jacobian(phi.single, x[0]), rtol=1e-5, atol=1e-8)
    kept = mask[0].bool().repeat_interleave(d)
    assert torch.count_nonzero(J[:, ~kept]) == 0  # masked tokens do not move the output
    g = pullback_metric(phi, x)
    np.testing.assert_allclose(
        np.asarray(g)[0], (J.T @ J).detach().numpy() / J.shape[0], rtol=1e-8, atol=1e-12
    )
    # batched: the fixed mask of batch 1 is expanded to every row
    torch.testing.assert_close(phi(x.repeat(3, 1)), phi(x).repeat(3, 1))


# ----------------------------------------------------------------------------- bad input
def test_extract_bad_input():
    net = MLP([4, 3], seed=0)
    with pytest.raises(ValueError, match="NaN"):
        extract(net, np.full((2, 4), np.nan))
    with pytest.raises(ValueError, match="2-D"):
        extract(net, np.zeros(4))
    with pytest.raises(ValueError, match="batch_size must be >= 1"):
        extract(net, np.zeros((2, 4)), batch_size=0)
    with pytest.raises(TypeError, match="tokenizer="):
        extract(net, ["a sentence"], layer="out")
    with pytest.raises(TypeError, match="one string"):
        extract(net, "a sentence", layer="out")
    with pytest.raises(TypeError, match="mixes strings"):
        extract(TinyEncoder(), ["a", 3], layer="layer.0", tokenizer=ToyTokenizer())
    with pytest.raises(ValueError, match="empty"):
        extract(net, [], layer="out")
    with pytest.raises(TypeError, match="dtype object"):
        extract(net, np.array([[1, "a"], [2, None]], dtype=object), layer="out")
    with pytest.raises(TypeError, match="not both"):
        extract(net, np.zeros((2, 4)), layer="out", layers=["out"])
    with pytest.raises(ValueError, match="pooling must be one of"):
        extract(net, np.zeros((2, 4)), layer="out", pooling="max")
    with pytest.raises(ValueError, match="layers is empty"):
        extract(net, np.zeros((2, 4)), layers=[])
    with pytest.raises(TypeError, match="sequence of layer names"):
        extract(net, np.zeros((2, 4)), layers="out")
    with pytest.raises(ValueError, match="one row per sample"):
        FeatureMap(net, "out", pooling="none")


def test_extract_leaves_the_callers_model_as_it_was():
    net = MLP([4, 8, 3], seed=0).double()
    net.train()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    Z = extract(net, np.ones((5, 4)), layer="act1", dtype=torch.float32, device="cpu")
    assert Z.dtype == np.float32 and Z.shape == (5, 8)
    assert net.training and all(m.training for m in net.modules())
    assert all(p.dtype == torch.float64 for p in net.parameters())
    for k, v in net.state_dict().items():
        assert v.dtype == torch.float64 and torch.equal(v, before[k])
    ref = FeatureMap(MLP([4, 8, 3], seed=0), "act1")(torch.ones(5, 4)).detach().numpy()
    np.testing.assert_allclose(Z, ref, rtol=1e-6)
    # the multi-layer and text paths too
    enc = TinyEncoder().double().train()
    before = {k: v.clone() for k, v in enc.state_dict().items()}
    Z = extract(enc, ["a b", "c"], layers=["layer.0", "layer.1"], tokenizer=ToyTokenizer())
    assert Z["layer.0"].dtype == np.float32
    assert enc.training and all(p.dtype == torch.float64 for p in enc.parameters())
    assert all(torch.equal(v, before[k]) for k, v in enc.state_dict().items())


def test_a_later_in_place_op_does_not_change_what_a_layer_gave():
    # Linear then ReLU(inplace=True): the hook's tensor is overwritten by the ReLU; reading it
    # after the forward pass would return the post-ReLU values without any error
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(5, 8), nn.ReLU(inplace=True), nn.Linear(8, 3))
    x = torch.randn(20, 5)
    want = net[0](x).detach().numpy()
    assert (want < 0).any()  # the ReLU would change it
    got = extract(net, x, layer="0")
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)
    both = extract(net, x, layers=["0", "1"])
    np.testing.assert_allclose(both["0"], want, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(both["1"], np.maximum(want, 0), rtol=1e-6, atol=1e-6)
    phi = FeatureMap(net, "0")
    np.testing.assert_allclose(phi(x).detach().numpy(), want, rtol=1e-6, atol=1e-6)


def test_a_module_that_rewrites_a_shared_output_mapping_is_read_before_it():
    # sentence-transformers' Pooling -> Normalize share one dict; Normalize replaces the entry
    class Pool(nn.Module):
        def forward(self, feats):
            feats["sentence_embedding"] = feats["token_embeddings"].mean(1)
            return feats

    class Norm(nn.Module):
        def forward(self, feats):
            e = feats["sentence_embedding"]
            feats["sentence_embedding"] = e / e.norm(dim=1, keepdim=True)
            return feats

    class Wrap(nn.Module):
        def __init__(self):
            super().__init__()
            self.pool, self.norm = Pool(), Norm()

        def forward(self, x):
            return self.norm(self.pool({"token_embeddings": x}))["sentence_embedding"]

    x = 3.0 * torch.randn(6, 4, 5)
    got = extract(Wrap(), x, layer="pool")
    np.testing.assert_allclose(got, x.mean(1).numpy(), rtol=1e-6, atol=1e-6)
