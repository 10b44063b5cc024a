"""HTML report and figure helpers."""

from .figures import new_figure, save_figure
from .html import render_report

__all__ = ["new_figure", "render_report", "save_figure"]
