"""Run directories: studies, stages and panels, the metric registry, the run context and the runner."""

from .context import RunContext
from .registry import REGISTRY, MetricSpec
from .runner import (
    ReportError,
    RunExistsError,
    RunLockedError,
    is_run_manifest,
    load_config_file,
    package_versions,
    run_study,
)
from .study import ConfigError, Option, Panel, Stage, Study, check_config, deep_merge

__all__ = [
    "REGISTRY",
    "ConfigError",
    "MetricSpec",
    "Option",
    "Panel",
    "ReportError",
    "RunContext",
    "RunExistsError",
    "RunLockedError",
    "Stage",
    "Study",
    "check_config",
    "deep_merge",
    "is_run_manifest",
    "load_config_file",
    "package_versions",
    "run_study",
]
