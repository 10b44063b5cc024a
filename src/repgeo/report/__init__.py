"""HTML report of a run directory and atomic figure export."""

from .figures import save_figure
from .html import render_report

__all__ = ["render_report", "save_figure"]
