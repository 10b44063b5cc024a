"""N-way k-shot evaluation of embeddings on (unseen) classes, vectorised over episodes.

An *episode* draws ``n_way`` classes, ``k_shot`` support and ``n_query`` query samples of each
(disjoint), and classifies every query by its nearest class prototype (mean support embedding)
or nearest support sample, by cosine similarity or Euclidean distance. The accuracy is averaged
over episodes with a normal confidence interval. If an embedding hashes class manifolds
(Dikkala et al. 2021), one example of an unseen class is enough: 1-shot accuracy on classes the
network never saw is high.

Episodes are drawn in blocks of fixed size (so the numbers do not depend on the memory budget)
and scored in batches sized by the budget; nothing is looped per episode in Python.

References
----------
.. [1] N. Dikkala, G. Kaplun, R. Panigrahy. arXiv:2103.06875 (2021).
.. [2] J. Snell, K. Swersky, R. Zemel. "Prototypical networks for few-shot learning." NeurIPS
   (2017).
.. [3] O. Vinyals et al. "Matching networks for one shot learning." NeurIPS (2016).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator

from .._backend import chunk_rows, iter_chunks, to_numpy, to_torch
from .._validation import (
    check_array,
    check_choice,
    check_labels,
    check_positive_int,
    check_random_state,
    check_scalar,
)

__all__ = [
    "FewShotEvaluator",
    "episode_accuracy",
    "k_shot_curve",
    "one_shot_accuracy",
    "sample_episodes",
]

_METRICS = ("cosine", "euclidean")
_CLASSIFIERS = ("prototype", "nearest")


def _class_index(y: np.ndarray, need: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Eligible classes (with at least ``need`` samples), their members grouped, starts, counts."""
    classes, inverse, counts = np.unique(y, return_inverse=True, return_counts=True)
    order = np.argsort(inverse, kind="stable")
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    ok = counts >= need
    return classes[ok], order, starts[ok], counts[ok]


def _without_replacement(rng: np.random.Generator, n: np.ndarray, size: int) -> np.ndarray:
    """``size`` distinct integers in ``[0, n)`` for every entry of ``n`` (shape ``n.shape + (size,)``),
    in uniformly random order.

    Sequential sampling: the j-th draw is uniform over the ``n - j`` values not drawn yet,
    obtained by shifting a uniform draw past the earlier ones in increasing order.
    """
    chosen = np.empty((*n.shape, size), dtype=np.int64)
    for j in range(size):
        r = (rng.random(n.shape) * (n - j)).astype(np.int64)
        if j:
            prev = np.sort(chosen[..., :j], axis=-1)
            for t in range(j):
                r += r >= prev[..., t]
        chosen[..., j] = r
    return chosen


def _draw_block(
    rng: np.random.Generator,
    n_episodes: int,
    n_way: int,
    size: int,
    order: np.ndarray,
    starts: np.ndarray,
    counts: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Class positions (E, W) and sample indices (E, W, size), each class's draws distinct."""
    C = counts.size
    if n_way <= 32 and n_way < C:  # few ways: O(W²) per episode, no (E, C) array
        ways = _without_replacement(rng, np.full((n_episodes, 1), C), n_way)[:, 0]
    elif n_way == C:
        ways = np.argsort(rng.random((n_episodes, C)), axis=1)
    else:
        ways = np.argpartition(rng.random((n_episodes, C)), n_way - 1, axis=1)[:, :n_way]
    chosen = _without_replacement(rng, counts[ways], size)
    return ways, order[starts[ways][..., None] + chosen]


def _blocks(
    y: np.ndarray, n_way: int, k_shot: int, n_query: int, n_episodes: int, rng: np.random.Generator
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    size = k_shot + n_query
    classes, order, starts, counts = _class_index(y, size)
    block = int(np.clip((1 << 17) // (n_way * size), 1, 4096))
    starts_e = range(0, n_episodes, block)
    children = np.random.SeedSequence(int(rng.integers(2**63))).spawn(len(starts_e))
    for child, start in zip(children, starts_e):
        m = min(block, n_episodes - start)
        ways, idx = _draw_block(np.random.default_rng(child), m, n_way, size, order, starts, counts)
        yield classes[ways], idx[..., :k_shot], idx[..., k_shot:]


def _check_episode_args(
    y: np.ndarray, n_way: int | None, k_shot: int, n_query: int, n_episodes: int
) -> tuple[int, int, int, int]:
    k_shot = check_positive_int(k_shot, "k_shot")
    n_query = check_positive_int(n_query, "n_query")
    n_episodes = check_positive_int(n_episodes, "n_episodes")
    _, counts = np.unique(y, return_counts=True)
    eligible = int((counts >= k_shot + n_query).sum())
    if n_way is None:
        n_way = eligible
    n_way = check_positive_int(n_way, "n_way", min_val=2)
    if eligible < n_way:
        raise ValueError(
            f"{n_way}-way episodes with {k_shot} support + {n_query} query samples need {n_way} classes "
            f"with at least {k_shot + n_query} samples; y has {eligible} such class(es) "
            f"(class sizes range {counts.min()}–{counts.max()})."
        )
    return n_way, k_shot, n_query, n_episodes


def sample_episodes(
    y: Any,
    *,
    n_way: int | None = 5,
    k_shot: int = 1,
    n_query: int = 5,
    n_episodes: int = 100,
    random_state: Any = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Draw N-way k-shot episodes (the indices :func:`one_shot_accuracy` evaluates).

    Parameters
    ----------
    y : array_like of shape (n_samples,)
        Class labels.
    n_way : int or None, default=5
        Classes per episode (``None``: every class with enough samples).
    k_shot, n_query : int
        Support and query samples per class (disjoint).
    n_episodes : int, default=100
    random_state : int, Generator or None

    Returns
    -------
    classes : ndarray of shape (n_episodes, n_way)
        Class labels of each episode's ways.
    support : ndarray of shape (n_episodes, n_way, k_shot), int64
        Row indices of the support samples; ``support[e, w]`` belong to ``classes[e, w]``.
    query : ndarray of shape (n_episodes, n_way, n_query), int64

    Examples
    --------
    >>> import numpy as np
    >>> y = np.repeat(np.arange(4), 3)
    >>> c, s, q = sample_episodes(y, n_way=2, k_shot=1, n_query=2, n_episodes=3)
    >>> s.shape, q.shape, bool((y[s[..., 0]] == c).all()), bool((y[q] == c[..., None]).all())
    ((3, 2, 1), (3, 2, 2), True, True)
    """
    y = check_labels(y)
    n_way, k_shot, n_query, n_episodes = _check_episode_args(y, n_way, k_shot, n_query, n_episodes)
    rng = check_random_state(random_state)
    parts = list(_blocks(y, n_way, k_shot, n_query, n_episodes, rng))
    return tuple(np.concatenate([p[i] for p in parts]) for i in range(3))  # type: ignore[return-value]


def _score_chunk(
    Zt: torch.Tensor, support: np.ndarray, query: np.ndarray, metric: str, classifier: str
) -> torch.Tensor:
    """Per-episode accuracy for a chunk of episodes; Zt already normalised for cosine."""
    E, W, k = support.shape
    q = query.shape[2]
    dev = Zt.device
    d = Zt.shape[1]
    S = Zt.index_select(0, torch.as_tensor(support.reshape(-1), device=dev)).reshape(E, W, k, d)
    Q = Zt.index_select(0, torch.as_tensor(query.reshape(-1), device=dev)).reshape(E, W * q, d)
    if classifier == "prototype":
        P = S.mean(2)  # (E, W, d)
        if metric == "cosine":
            P = P / P.norm(dim=-1, keepdim=True).clamp_min(torch.finfo(P.dtype).tiny)
            scores = torch.bmm(Q, P.transpose(1, 2))
        else:  # -||q - p||^2 up to the query's own norm
            scores = 2 * torch.bmm(Q, P.transpose(1, 2)) - (P * P).sum(-1)[:, None, :]
    else:
        Sf = S.reshape(E, W * k, -1)
        scores = torch.bmm(Q, Sf.transpose(1, 2))
        if metric == "euclidean":
            scores = 2 * scores - (Sf * Sf).sum(-1)[:, None, :]
        scores = scores.reshape(E, W * q, W, k).amax(-1)
    truth = torch.arange(W, device=dev).repeat_interleave(q)
    return (scores.argmax(-1) == truth).to(torch.float64).mean(1)


def episode_accuracy(
    Z: Any,
    support: Any,
    query: Any,
    *,
    metric: str = "cosine",
    classifier: str = "prototype",
) -> np.ndarray:
    """Accuracy of each episode: queries classified among the episode's ways.

    Parameters
    ----------
    Z : array_like of shape (n_samples, n_features)
        Embeddings.
    support : array_like of shape (n_episodes, n_way, k_shot)
        Row indices into ``Z``; way ``w`` of an episode is the class of ``support[e, w]``.
    query : array_like of shape (n_episodes, n_way, n_query)
        Row indices of queries whose true way is ``w``.
    metric : {"cosine", "euclidean"}, default="cosine"
    classifier : {"prototype", "nearest"}, default="prototype"
        Nearest class mean of the support [2]_, or nearest support sample [3]_.

    Returns
    -------
    ndarray of shape (n_episodes,), float64

    Examples
    --------
    >>> import numpy as np
    >>> Z = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9]])
    >>> episode_accuracy(Z, [[[0], [2]]], [[[1], [3]]]).tolist()
    [1.0]
    """
    check_choice(metric, "metric", _METRICS)
    check_choice(classifier, "classifier", _CLASSIFIERS)
    Z = check_array(Z, name="Z")
    support = to_numpy(
        check_array(
            support, name="support", ndim=3, dtype="int", shape_hint="(n_episodes, n_way, k_shot)"
        )
    )
    query = to_numpy(
        check_array(
            query, name="query", ndim=3, dtype="int", shape_hint="(n_episodes, n_way, n_query)"
        )
    )
    if support.shape[:2] != query.shape[:2]:
        raise ValueError(
            f"support and query must agree on (n_episodes, n_way); got {support.shape[:2]} and {query.shape[:2]}."
        )
    n = Z.shape[0]
    for name, arr in (("support", support), ("query", query)):
        if arr.size and (arr.min() < 0 or arr.max() >= n):
            raise ValueError(
                f"{name} indices must lie in [0, {n - 1}]; got [{arr.min()}, {arr.max()}]."
            )
    Zt = _prepare(Z, metric)
    return to_numpy(_score(Zt, support, query, metric, classifier))


def _prepare(Z: Any, metric: str) -> torch.Tensor:
    """Embeddings ready for scoring: unit rows (cosine) or the whole set rescaled by a power of
    two (Euclidean; exact, and the nearest prototype does not change under isotropic scaling),
    so that no magnitude overflows or underflows in the scores."""
    Zt, _ = to_torch(Z)
    if not Zt.is_floating_point() or torch.finfo(Zt.dtype).bits < 32:
        Zt = Zt.to(torch.float32)  # half precision would round the scores of close classes
    tiny = torch.finfo(Zt.dtype).tiny
    if metric == "cosine":
        Zt = Zt / Zt.abs().amax(1, keepdim=True).clamp_min(tiny)
        return Zt / Zt.norm(dim=1, keepdim=True).clamp_min(tiny)
    amax = float(Zt.abs().amax()) if Zt.numel() else 0.0
    if amax > 0:
        Zt = Zt * math.ldexp(1.0, -max(math.frexp(amax)[1], -1000))
    return Zt


def _score(
    Zt: torch.Tensor, support: np.ndarray, query: np.ndarray, metric: str, classifier: str
) -> torch.Tensor:
    E, W, k = support.shape
    q = query.shape[2]
    d = Zt.shape[1]
    per_episode = Zt.element_size() * (W * (k + q) * d + 2 * W * q * W * k + W * d) + 64
    out = torch.empty(E, dtype=torch.float64, device=Zt.device)
    # besides the budget, keep each batch's score block to ~2^22 entries: small blocks stay in
    # cache, and many-way episodes (scores of W·q queries × W·k candidates) go one at a time
    cap = max(1, (1 << 22) // (W * q * W * (k if classifier == "nearest" else 1)))
    for sl in iter_chunks(E, chunk_rows(per_episode, maximum=min(cap, 1 << 16))):
        out[sl] = _score_chunk(Zt, support[sl], query[sl], metric, classifier)
    return out


def one_shot_accuracy(
    Z: Any,
    y: Any,
    *,
    n_way: int | None = 5,
    k_shot: int = 1,
    n_query: int = 5,
    n_episodes: int = 1000,
    metric: str = "cosine",
    classifier: str = "prototype",
    confidence: float = 0.95,
    random_state: Any = 0,
) -> dict[str, Any]:
    """Mean N-way k-shot accuracy over random episodes, with a confidence interval.

    Parameters
    ----------
    Z : array_like of shape (n_samples, n_features)
        Embeddings of samples of the classes to evaluate (typically unseen classes).
    y : array_like of shape (n_samples,)
        Their class labels.
    n_way : int or None, default=5
        Classes per episode; ``None`` uses every class with ``k_shot + n_query`` samples.
    k_shot : int, default=1
        Support examples per class (1 = one-shot).
    n_query : int, default=5
        Query examples per class.
    n_episodes : int, default=1000
    metric : {"cosine", "euclidean"}, default="cosine"
    classifier : {"prototype", "nearest"}, default="prototype"
    confidence : float, default=0.95
        Level of the normal-approximation interval mean ± z·sd/√n_episodes.
    random_state : int, Generator or None

    Returns
    -------
    dict
        ``mean``, ``ci_low``, ``ci_high``, ``sem``, ``std`` (floats), ``chance`` (1/n_way),
        ``n_way``, ``k_shot``, ``n_query``, ``n_episodes``, and ``accuracies`` (ndarray of
        shape (n_episodes,)).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> y = np.repeat(np.arange(20), 10)
    >>> Z = rng.normal(size=(20, 16))[y] + 0.1 * rng.normal(size=(200, 16))
    >>> one_shot_accuracy(Z, y, n_way=5, n_episodes=200)["mean"]
    1.0
    """
    from scipy.stats import norm

    Z = check_array(Z, name="Z")
    y = check_labels(y, n_samples=Z.shape[0])
    check_choice(metric, "metric", _METRICS)
    check_choice(classifier, "classifier", _CLASSIFIERS)
    confidence = float(
        check_scalar(
            confidence, "confidence", min_val=0.0, max_val=1.0, include_min=False, include_max=False
        )
    )
    n_way, k_shot, n_query, n_episodes = _check_episode_args(y, n_way, k_shot, n_query, n_episodes)
    rng = check_random_state(random_state)
    Zt = _prepare(Z, metric)
    accs = []
    for _, sup, qry in _blocks(y, n_way, k_shot, n_query, n_episodes, rng):
        accs.append(_score(Zt, sup, qry, metric, classifier))
    acc = to_numpy(torch.cat(accs)).astype(np.float64)
    mean = float(acc.mean())
    std = float(acc.std(ddof=1)) if acc.size > 1 else 0.0
    sem = std / np.sqrt(acc.size)
    z = float(norm.ppf(0.5 + confidence / 2))
    return {
        "mean": mean,
        "ci_low": mean - z * sem,
        "ci_high": mean + z * sem,
        "sem": sem,
        "std": std,
        "chance": 1.0 / n_way,
        "n_way": n_way,
        "k_shot": k_shot,
        "n_query": n_query,
        "n_episodes": n_episodes,
        "accuracies": acc,
    }


def k_shot_curve(
    Z: Any,
    y: Any,
    *,
    shots: Sequence[int] = (1, 2, 5, 10),
    n_way: int | None = 5,
    n_query: int = 5,
    n_episodes: int = 500,
    metric: str = "cosine",
    classifier: str = "prototype",
    random_state: Any = 0,
) -> dict[int, dict[str, Any]]:
    """:func:`one_shot_accuracy` for several numbers of shots (same episodes' seed for each).

    Returns
    -------
    dict
        ``{k: result}`` for each ``k`` in ``shots`` whose episodes are feasible (shots larger
        than the smallest usable class size are skipped).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> y = np.repeat(np.arange(10), 12)
    >>> Z = rng.normal(size=(10, 8))[y] + rng.normal(size=(120, 8))
    >>> curve = k_shot_curve(Z, y, shots=(1, 5), n_episodes=200)
    >>> curve[5]["mean"] > curve[1]["mean"]
    True
    """
    shots = [check_positive_int(k, "shots[i]") for k in shots]
    if not shots:
        raise ValueError("shots must list at least one number of shots; got an empty list.")
    y_arr = check_labels(y)
    counts = np.unique(y_arr, return_counts=True)[1]
    seed = int(check_random_state(random_state).integers(2**62))
    out: dict[int, dict[str, Any]] = {}
    for k in shots:
        need = n_way if n_way is not None else 2
        if (counts >= k + n_query).sum() < need:
            continue
        out[k] = one_shot_accuracy(
            Z,
            y_arr,
            n_way=n_way,
            k_shot=k,
            n_query=n_query,
            n_episodes=n_episodes,
            metric=metric,
            classifier=classifier,
            random_state=seed,
        )
    if not out:
        raise ValueError(
            f"no number of shots in {shots} is feasible with {n_query} queries and class sizes up to {counts.max()}."
        )
    return out


class FewShotEvaluator(BaseEstimator):
    """N-way k-shot accuracy as a scorer (see :func:`one_shot_accuracy`).

    The score is an accuracy in [0, 1] (neither a similarity nor a distance; chance is
    ``1/n_way``); higher is better. Nothing is fitted: the scorer holds options only.

    Parameters
    ----------
    n_way, k_shot, n_query, n_episodes, metric, classifier, confidence, random_state
        As in :func:`one_shot_accuracy`.

    Attributes
    ----------
    result_ : dict
        Everything returned by the last :meth:`evaluate`.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> y = np.repeat(np.arange(10), 10)
    >>> ev = FewShotEvaluator(n_way=5, n_episodes=2000)
    >>> abs(ev.score(rng.normal(size=(100, 32)), y) - 0.2) < 0.02
    True
    """

    higher_is_better = True

    def __init__(
        self,
        *,
        n_way: int | None = 5,
        k_shot: int = 1,
        n_query: int = 5,
        n_episodes: int = 1000,
        metric: str = "cosine",
        classifier: str = "prototype",
        confidence: float = 0.95,
        random_state: Any = 0,
    ) -> None:
        self.n_way = n_way
        self.k_shot = k_shot
        self.n_query = n_query
        self.n_episodes = n_episodes
        self.metric = metric
        self.classifier = classifier
        self.confidence = confidence
        self.random_state = random_state

    def evaluate(self, X: Any, y: Any) -> dict[str, Any]:
        """Run the episodes on embeddings ``X`` with labels ``y``; store and return the full result."""
        self.result_ = one_shot_accuracy(
            X,
            y,
            n_way=self.n_way,
            k_shot=self.k_shot,
            n_query=self.n_query,
            n_episodes=self.n_episodes,
            metric=self.metric,
            classifier=self.classifier,
            confidence=self.confidence,
            random_state=self.random_state,
        )
        return self.result_

    def score(self, X: Any, y: Any) -> float:
        """Mean accuracy over episodes of ``X`` (n_samples, n_features) with labels ``y``; higher is better."""
        return self.evaluate(X, y)["mean"]
