"""Every figure repgeo draws: public functions that take results or arrays and return a Figure.

The report of a study shows nothing that a user cannot redraw from Python: each figure comes
from a function here, fed with the numbers a public analysis returns (or that a run directory
holds in ``arrays/`` and ``metrics.json``). Plotting never computes an analysis.

Modules
-------
training    training curves, PCA pictures of embeddings
geometry    decision panels, volume and curvature maps, Jacobian spectra
hashing     separation histograms, invariance/AUROC over training, collision and k-shot curves
latent      similarity heatmaps, stitching matrices
diffusion   geodesic scores, 2-D embeddings, DSE/DSMI over training
coding      ΔR and intrinsic dimension per layer over training
embeddings  quantities per layer, across two models, over checkpoints, on a plane (analyze)
"""

from ._style import STYLE, new_figure, style
from .coding import *  # noqa: F403
from .coding import __all__ as _coding
from .diffusion import *  # noqa: F403
from .diffusion import __all__ as _diffusion
from .embeddings import *  # noqa: F403
from .embeddings import __all__ as _embeddings
from .geometry import *  # noqa: F403
from .geometry import __all__ as _geometry
from .hashing import *  # noqa: F403
from .hashing import __all__ as _hashing
from .latent import *  # noqa: F403
from .latent import __all__ as _latent
from .sweep import *  # noqa: F403
from .sweep import __all__ as _sweep
from .training import *  # noqa: F403
from .training import __all__ as _training

__all__ = ["STYLE", "new_figure", "style"]
__all__ += [*_coding, *_diffusion, *_geometry, *_hashing, *_latent, *_sweep, *_training]
__all__ += _embeddings
