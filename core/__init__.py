"""privgate: decide whether a synthetic data set is safe to release.

The public API for plugin authors lives here: the ``hookimpl`` marker and the contracts
(:class:`Generator`, :class:`Attack`, :class:`Metric`, :class:`Policy`, :class:`Reporter`).
"""

from privgate.attack import Attack, AttackContext, AttackResult
from privgate.errors import InputError, PluginError, PrivgateError
from privgate.generator import Generator, PrivacyBudget, PrivacySpent
from privgate.hookspecs import PLUGIN_API_VERSION, hookimpl
from privgate.metric import Metric, MetricResult
from privgate.policy import Policy
from privgate.reporting import Reporter, ReportSection
from privgate.schema import Column, Kind, Role, Schema

__version__ = "0.1.0"

__all__ = [
    "Attack", "AttackContext", "AttackResult", "Column", "Generator", "InputError", "Kind",
    "Metric", "MetricResult", "PLUGIN_API_VERSION", "PluginError", "Policy", "PrivacyBudget",
    "PrivacySpent", "PrivgateError", "Reporter", "ReportSection", "Role", "Schema",
    "__version__", "hookimpl",
]
