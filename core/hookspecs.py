"""privgate's hook specifications: the only way privgate meets its generators, attacks,
metrics, policies and report writers.

Every built-in registers through these hooks and the ``privgate`` entry-point group, exactly as a
third-party package does. A plugin module implements any subset of them with the
``privgate.hookimpl`` marker::

    from privgate import hookimpl

    @hookimpl
    def privgate_generators():
        return [MyGenerator]

The documentation of each hook below is its reference; ``docs/plugins.md`` is generated from it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pluggy

from privgate.attack import Attack
from privgate.generator import Generator
from privgate.metric import Metric
from privgate.policy import Policy
from privgate.reporting import Reporter, ReportSection

PROJECT = "privgate"

#: The plugin API this privgate implements. A plugin module may declare the API it was written
#: for as ``PRIVGATE_PLUGIN_API = "1"``; a different major version is not loaded (``privgate
#: plugins`` shows why). Minor versions (``"1.1"``) only add hooks and stay compatible.
PLUGIN_API_VERSION = "1"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def privgate_generators() -> Iterable[type[Generator]]:
    """Register synthetic-data generators.

    Called once, when the plugin manager builds its registry (at the start of every command).

    Returns:
        An iterable of :class:`privgate.generator.Generator` subclasses. Each class's ``name``
        attribute (for example ``"dpsgd-vae"``) is how configs and ``--generator`` refer to it;
        ``is_private`` says whether it claims differential privacy. privgate instantiates the
        class with the ``params`` table of the audit config as keyword arguments, then calls
        ``check_schema(schema)`` (before any budget is reserved), then
        ``fit(train, schema, budget, seed=...)`` and ``sample(n, seed=...)``. A name that another
        plugin already registered is an error naming both plugins. A fit and sample that raises
        anything but :class:`privgate.errors.InputError`, runs past ``[execution]
        plugin_timeout_s``, returns a table that does not fit the schema (columns, rows, kinds,
        missing values, categories, bounds), or reports a ``privacy_spent`` outside its budget
        (epsilon not finite, negative, or above the budget plus
        :data:`privgate.validate.EPSILON_TOLERANCE`) marks the generator ``error`` (exit code 3)
        and the privacy ledger books at least the planned budget. An ``InputError`` raised
        before training releases the reservation (less any ``spent_epsilon`` it carries).
    """


@hookspec
def privgate_attacks() -> Iterable[type[Attack]]:
    """Register privacy attacks.

    Called once, when the plugin manager builds its registry.

    Returns:
        An iterable of :class:`privgate.attack.Attack` subclasses, each with a unique ``name``
        and a ``risk_kind`` (one of ``privgate.attack.RISK_KINDS``) that policies threshold.
        privgate instantiates the class with the attack's ``params`` from the audit config
        (the constructor checks them: a bad type or range raises
        :class:`privgate.errors.InputError`, exit code 2), calls ``check_schema(schema)``
        before any slow work, and calls ``run(context)`` once per audited synthetic table
        (``context`` holds fresh copies of the tables). The returned
        :class:`privgate.attack.AttackResult` must carry a risk in [0, 1], a confidence interval
        containing it at no lower a level than the audit's, its method, a baseline, and the
        number of trials. Core re-validates every field and builds its own copy, whatever
        class the plugin returned; an exception or a malformed result marks the attack
        ``error`` and fails the gate. An :class:`~privgate.errors.InputError` from ``run``
        means the attack cannot run on this table's shape: its checks are ``cannot-certify``.
        ``requires_generator = True`` (shadow models) refuses a synthetic table given as a
        file. An attack that fits the audited generator again on the training rows (canary
        audits) says how often in ``refits()``: core books each such fit in the privacy ledger
        at the generator's budget. Every string and ``details`` entry is screened for values
        of the real data before it is written (:mod:`privgate.redact`).
    """


@hookspec
def privgate_metrics() -> Iterable[type[Metric]]:
    """Register utility metrics.

    Called once, when the plugin manager builds its registry.

    Returns:
        An iterable of :class:`privgate.metric.Metric` subclasses with unique ``name``s.
        privgate calls ``compute(context)`` on each audited synthetic table. Metrics describe
        the data's usefulness in the report; they never gate a release.
    """


@hookspec
def privgate_policies() -> Iterable[Policy]:
    """Register threshold policies.

    Called once, when the plugin manager builds its registry.

    Returns:
        An iterable of :class:`privgate.policy.Policy` instances. A policy maps risk kinds
        (``"singling-out"``, ``"linkability"``, ``"inference"``, ``"membership"``,
        ``"distinguishability"``) to thresholds in [0, 1]; a check passes only when the attack's
        upper confidence bound is at or below the threshold. A policy from a distribution other
        than privgate is marked "third-party policy from DIST VERSION" wherever its verdict
        appears (console, report, JUnit).
    """


@hookspec
def privgate_reporters() -> Iterable[type[Reporter]]:
    """Register output formats.

    Called once, when the plugin manager builds its registry.

    Returns:
        An iterable of :class:`privgate.reporting.Reporter` subclasses, each with a unique
        ``format`` (built-ins: ``"html"``, ``"junit"``, ``"compare"``), a default ``filename``
        and the ``languages`` it writes (a tuple of codes such as ``("en", "ko")``; empty for
        output without a language). privgate constructs a reporter with the options every
        reporter takes, ``lang`` (one of its ``languages``, or ``None`` for the document's own)
        and ``results_sha256`` (the hash of the results.json being re-rendered, or ``None``);
        ``--lang`` is refused (exit code 2) unless a registered reporter declares it. After an
        audit, privgate instantiates every registered reporter whose ``on_audit`` is true and
        calls ``write(result, sections, out_dir)`` with a read-only copy of the result document
        (what ``results.json`` holds; a mutation raises :class:`privgate.views.ReadOnlyError`)
        and the sections from :func:`privgate_report_sections`. ``out_dir`` is an empty staging
        folder of the reporter's own; privgate moves its files into the output folder and
        refuses any file name another writer already claimed. ``results.json`` itself is
        written by core, never by a reporter, and the verdict and exit code are computed by core
        alone. A reporter draws an attack's or a metric's evidence from its typed fields
        (``roc``, ``auroc``, ``tpr_at_fpr``, ``trials_planned``, ``interval``, ``figures``),
        never from its name or its ``details``. ``privgate report --compare OLD NEW`` calls the
        ``compare`` reporter with ``{"comparison": {"old", "new", "old_label", "new_label"}}``.
    """


@hookspec
def privgate_report_sections(result: Mapping[str, Any]) -> Sequence[ReportSection] | None:
    """Contribute sections to the HTML report.

    Called each time a report is rendered (after an audit, and by ``privgate report``).

    Args:
        result: a read-only copy of the audit's result document, as written to
            ``results.json`` (each plugin gets its own; changing it is refused).

    Returns:
        A sequence of :class:`privgate.reporting.ReportSection` (sorted by ``order``) whose
        blocks are the presentation primitives of :mod:`privgate.figures`: paragraphs, tables,
        key-value lists, bar charts, line charts and heat maps, each text escaped and each chart
        drawn as inline SVG with its caption; or ``None`` to add nothing. Sections must never
        contain raw training or control rows: after an audit, text that carries a rare real
        value or a real record is withheld, and control characters are stripped.
    """
