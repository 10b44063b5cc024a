"""Run directories: studies, stages and panels, the metric registry, the run context and the runner."""

from .context import RunContext
from .registry import REGISTRY, MetricSpec
from .runner import RunExistsError, load_config_file, package_versions, run_study
from .study import ConfigError, Panel, Stage, Study, check_config, deep_merge

__all__ = [
    "REGISTRY",
    "ConfigError",
    "MetricSpec",
    "Panel",
    "RunContext",
    "RunExistsError",
    "Stage",
    "Study",
    "check_config",
    "deep_merge",
    "load_config_file",
    "package_versions",
    "run_study",
]
