"""Run directories: studies, stages, the run context, atomic I/O and the runner."""

from .context import RunContext
from .runner import RunExistsError, load_config_file, package_versions, run_study
from .study import Stage, Study, deep_merge

__all__ = [
    "RunContext",
    "RunExistsError",
    "Stage",
    "Study",
    "deep_merge",
    "load_config_file",
    "package_versions",
    "run_study",
]
