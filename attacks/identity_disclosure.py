"""Identity disclosure on fully synthetic data: El Emam, Mosquera & Bass (JMIR 2020).

The adversary holds the synthetic table and knows the quasi-identifiers (QIs) of real people.
A synthetic record that matches a real person on the QIs -- exactly, or after the
generalisation the parameters declare -- *identifies* that person with probability one over the
number of people sharing those QIs, and the disclosure is *meaningful* only when the matched
synthetic record also teaches the adversary the person's sensitive values ("learning something
new": at least a share ``L`` of the sensitive columns agree, numbers within a tolerance).

Per training record ``s`` (El Emam et al.'s notation):

* ``I_s`` -- some synthetic record has the same (generalised) QIs as ``s``;
* ``R_s`` -- one of those matching synthetic records agrees with ``s`` on at least a share
  ``L`` of the sensitive columns (categorical: equal; numeric: within ``tolerance`` times the
  column's declared range);
* ``f_s`` -- the number of training records sharing ``s``'s QIs (sample equivalence class);
  ``F_s`` -- the number in the population (train + control, scaled up to ``population_size``
  when the real data is a sample of a known larger population).

Two directions are computed, as in the paper: population-to-synthetic ``(1/n) sum I_s R_s /
F_s`` (the adversary picks a random member of the population class) and sample-to-synthetic
``p = (1/n) sum I_s R_s / f_s`` (the adversary knows the person is in the training data). The
larger -- always the sample direction, because ``F_s >= f_s`` -- is used, so the gate fails
closed. The paper's matching-error adjustment ``lambda`` is taken as 1 (the conservative
choice).

Chance matches: a synthetic record drawn from the population's patterns can match and teach a
person the generator never saw. The same procedure runs on the control records (each counted as
if it had been added to the training data: class size = matches in train + 1), giving the
chance rate ``c`` and the chance share ``h_c`` of records matched and taught. With ``h_m`` that
share among members, the share of members disclosed by a leak is ``q = (h_m - h_c) / (1 -
h_c)`` and the reported risk is ``p - (1 - q) c``: the disclosure the training data caused,
exact both when nothing leaked and when every member was copied. Its baseline is therefore 0.

Interval: the training (control) records are the trials of the member (control) rates and the
per-record probabilities their outcomes -- binomial intervals (Clopper-Pearson exact by default,
or Wilson) with the summed probabilities as success counts; a [0, 1]-valued mean has at most the
binomial variance, so this is conservative. The four rates' intervals are taken at the
Bonferroni level ``1 - (1 - level) / 4`` and combined at their extremes.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from privgate import Attack, AttackContext, AttackResult, hookimpl
from privgate.attacks._common import (
    check_choice,
    check_columns,
    jsonable,
    modelled_columns,
    resolve_params,
)
from privgate.encoding import category_key, is_missing, to_numeric
from privgate.errors import InputError
from privgate.schema import NUMERIC_KINDS, Column, Schema
from privgate.stats import BINOMIAL_METHODS, rate_ci, zero_success_upper

NAME = "identity-disclosure"
MISSING = "\x00<missing>"
#: Training rows processed at once when pairing records with matching synthetic records.
CHUNK = 20_000


def _generalise_spec(schema: Schema, qis: list[str], spec: Any) -> dict[str, tuple[str, float]]:
    """Check ``generalise``: ``{column: bin width}`` for numbers, ``{column: {"prefix": k}}``."""
    if spec is None:
        return {}
    if not isinstance(spec, Mapping):
        raise InputError(f"attack {NAME!r}: parameter 'generalise' must be a table "
                         f"{{column = rule}}, got {spec!r}")
    out: dict[str, tuple[str, float]] = {}
    for col, rule in spec.items():
        if col not in qis:
            raise InputError(f"attack {NAME!r}: 'generalise' names {col!r}, which is not a "
                             f"quasi-identifier (quasi-identifiers: {qis})")
        column = schema[col]
        if isinstance(rule, Mapping) and set(rule) == {"prefix"}:
            k = rule["prefix"]
            if isinstance(k, bool) or not isinstance(k, int) or k < 1:
                raise InputError(f"attack {NAME!r}: generalise.{col}.prefix must be an integer "
                                 f">= 1, got {k!r}")
            out[col] = ("prefix", float(k))
        elif (isinstance(rule, int | float) and not isinstance(rule, bool)
              and math.isfinite(rule) and rule > 0):
            if column.kind not in NUMERIC_KINDS:
                raise InputError(f"attack {NAME!r}: generalise.{col} is a bin width, but "
                                 f"{col!r} is {column.kind.value}; use {{ prefix = k }}")
            out[col] = ("width", float(rule))
        else:
            raise InputError(f"attack {NAME!r}: generalise.{col} must be a positive bin width "
                             f"(numbers) or {{ prefix = k }} (text), got {rule!r}")
    return out


def _qi_keys(df: pd.DataFrame, schema: Schema, qis: list[str],
             rules: Mapping[str, tuple[str, float]]) -> np.ndarray:
    """One 64-bit hash per row of its generalised quasi-identifier values."""
    parts: dict[str, pd.Series] = {}
    for col in qis:
        column = schema[col]
        rule = rules.get(col)
        if column.kind in NUMERIC_KINDS:
            values = to_numeric(df[col], column)
            if rule is not None:
                values = np.floor(values / rule[1]) * rule[1]
            parts[col] = values.astype(float).fillna(-np.inf).reset_index(drop=True)
        else:
            text = pd.Series(_category_keys(df[col]), dtype=object)
            if rule is not None:
                text = text.str.slice(0, int(rule[1])).where(text != MISSING, MISSING)
            parts[col] = text.astype(object).reset_index(drop=True)
    frame = pd.DataFrame(parts)
    return pd.util.hash_pandas_object(frame, index=False).to_numpy(dtype=np.uint64)


def _category_keys(series: pd.Series) -> np.ndarray:
    """Categories as comparable text (``1`` == ``1.0`` == ``"1"``; missing as one marker)."""
    return np.array([MISSING if is_missing(v) else str(category_key(v))
                     for v in series.tolist()], dtype=object)


class _Sensitive:
    """The sensitive columns as arrays, and the agreement rule between two sets of rows."""

    def __init__(self, columns: list[Column], frames: list[pd.DataFrame],
                 tolerance: Mapping[str, float]) -> None:
        self.columns = columns
        self.tol: dict[str, float] = {}
        for col in columns:
            if col.kind in NUMERIC_KINDS:
                if col.bounds is not None:
                    span = col.bounds[1] - col.bounds[0]
                else:  # no declared range: the observed one (attacks may read the data)
                    vals = pd.concat([to_numeric(f[col.name], col) for f in frames])
                    span = float(vals.max() - vals.min()) if vals.notna().any() else 0.0
                self.tol[col.name] = float(tolerance[col.name]) * span

    def arrays(self, df: pd.DataFrame) -> list[np.ndarray]:
        out = []
        for col in self.columns:
            if col.kind in NUMERIC_KINDS:
                out.append(to_numeric(df[col.name], col).to_numpy(dtype=float))
            else:
                out.append(_category_keys(df[col.name]))
        return out

    def agreements(self, a: list[np.ndarray], ia: np.ndarray, b: list[np.ndarray],
                   ib: np.ndarray) -> np.ndarray:
        """How many sensitive columns agree between rows ``a[ia]`` and ``b[ib]`` (pairwise)."""
        count = np.zeros(len(ia), dtype=np.int64)
        for col, xa, xb in zip(self.columns, a, b, strict=True):
            va, vb = xa[ia], xb[ib]
            if col.kind in NUMERIC_KINDS:
                both_missing = np.isnan(va) & np.isnan(vb)
                with np.errstate(invalid="ignore"):
                    close = np.abs(va - vb) <= self.tol[col.name] + 1e-9
                count += (close | both_missing).astype(np.int64)
            else:
                count += (va == vb).astype(np.int64)
        return count


def _learns(keys: np.ndarray, sens: list[np.ndarray], syn_keys: np.ndarray,
            syn_sens: list[np.ndarray], rule: _Sensitive, needed: int) -> tuple[np.ndarray,
                                                                                  np.ndarray]:
    """Per real row: ``I`` (a synthetic row shares its QIs) and ``R`` (one of them teaches).

    Synthetic rows are grouped by QI key (sorted once); each real row is paired with every
    synthetic row of its key, in chunks so that large classes do not exhaust memory.
    """
    order = np.argsort(syn_keys, kind="mergesort")
    sorted_keys = syn_keys[order]
    start = np.searchsorted(sorted_keys, keys, side="left")
    stop = np.searchsorted(sorted_keys, keys, side="right")
    counts = stop - start
    matched = counts > 0
    learns = np.zeros(len(keys), dtype=bool)
    rows = np.nonzero(matched)[0]
    for lo in range(0, len(rows), CHUNK):
        block = rows[lo:lo + CHUNK]
        sizes = counts[block]
        real_idx = np.repeat(block, sizes)
        # positions of every matching synthetic row: start + 0..count-1 for each real row
        offsets = np.arange(int(sizes.sum())) - np.repeat(np.cumsum(sizes) - sizes, sizes)
        syn_idx = order[np.repeat(start[block], sizes) + offsets]
        ok = rule.agreements(sens, real_idx, syn_sens, syn_idx) >= needed
        learns[np.unique(real_idx[ok])] = True
    return matched, learns


class IdentityDisclosure(Attack):
    """Meaningful identity disclosure (El Emam et al. 2020); risk = re-identification rate."""

    name: ClassVar[str] = NAME
    risk_kind: ClassVar[str] = "identity-disclosure"
    description: ClassVar[str] = (
        "Quasi-identifier matching of real people to synthetic records, counted only when the "
        "match also reveals their sensitive values (El Emam, Mosquera & Bass 2020); risk = the "
        "expected share of training records correctly re-identified.")
    explanation: ClassVar[str] = (
        "The simulated adversary knows a few ordinary facts about real people -- the "
        "quasi-identifiers, such as age, sex and education -- and looks for synthetic records "
        "with exactly those facts. When it finds one, it guesses that the synthetic record is "
        "that person; the guess is right one time in as many as there are people sharing "
        "those facts. A correct guess only matters if the synthetic record also tells the "
        "adversary something new and true about the person, such as their occupation or "
        "income. The risk is the expected share of the people in the training data that are "
        "both correctly matched and taught something true this way. It is compared with the "
        "same figure for people who were never in the training data. Health-data regulators "
        "commonly accept 0.09.")
    references: ClassVar[tuple[str, ...]] = (
        "El Emam, Mosquera & Bass (2020). Evaluating identity disclosure risk in fully "
        "synthetic health data: model development and validation. J Med Internet Res "
        "22(11):e23139.",
        "El Emam (2013). Guide to the De-Identification of Personal Health Information. CRC "
        "Press (the 0.09 threshold).",
    )

    DEFAULTS: ClassVar[dict[str, Any]] = {
        "quasi_identifiers": None,
        "sensitive": None,
        "generalise": None,
        "tolerance": 0.05,
        "min_sensitive_share": 1.0,
        "population_size": None,
        "interval": "exact",
    }

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        p = resolve_params(self.name, self.DEFAULTS, params)
        check_choice(self.name, p, "interval", tuple(BINOMIAL_METHODS))
        share = p["min_sensitive_share"]
        if (isinstance(share, bool) or not isinstance(share, int | float)
                or not 0 < share <= 1):
            raise InputError(f"attack {NAME!r}: parameter 'min_sensitive_share' (the share L "
                             f"of sensitive columns that must agree) must be in (0, 1], got "
                             f"{share!r}")
        pop = p["population_size"]
        if pop is not None and (isinstance(pop, bool) or not isinstance(pop, int) or pop < 1):
            raise InputError(f"attack {NAME!r}: parameter 'population_size' must be a positive "
                             f"integer (people in the population the data was drawn from), "
                             f"got {pop!r}")

    # -- parameters that need the schema ----------------------------------------------------

    def check_schema(self, schema: Schema) -> None:
        """Column parameters must name modelled columns; the QIs and secrets must not meet."""
        p = resolve_params(self.name, self.DEFAULTS, self.params)
        plans = self._plans(schema, p)
        every_qi = sorted({q for qis, _, _ in plans for q in qis})
        _generalise_spec(schema, every_qi, p["generalise"])
        self._tolerance(p["tolerance"], sorted({c for _, sens, _ in plans for c in sens}))

    def _plans(self, schema: Schema, p: Mapping[str, Any]
               ) -> list[tuple[list[str], list[str], str]]:
        """One (quasi-identifiers, sensitive columns, where the QIs came from) per attack run.

        With sensitive columns (declared, or ``params.sensitive``) there is one run. With none
        -- a table with no roles declared -- each column that is not a quasi-identifier is the
        secret in turn and the worst case is reported, as the inference attack does; with no
        quasi-identifiers declared either, the adversary is taken to know every other column.
        """
        qis_given = p["quasi_identifiers"]
        if qis_given is not None:
            qis_given = check_columns(self.name, schema, list(qis_given), "quasi_identifiers")
        if p["sensitive"] is not None:
            sensitive = check_columns(self.name, schema, list(p["sensitive"]), "sensitive")
            candidates = [sensitive]
            declared = True
        else:
            known = qis_given if qis_given is not None else schema.quasi_identifiers
            declared_sensitive = [c for c in schema.sensitive if c not in known]
            declared = bool(declared_sensitive)
            candidates = ([declared_sensitive] if declared
                          else [[c.name] for c in schema.modelled if c.name not in known])
        plans = []
        for sensitive in candidates:
            if qis_given is not None:
                qis, source = qis_given, "parameter"
            elif schema.quasi_identifiers:
                qis, source = schema.quasi_identifiers, "schema"
            else:
                qis = [c.name for c in schema.modelled if c.name not in sensitive]
                source = ("assumed: the schema declares no quasi-identifiers, so the adversary "
                          "is taken to know every column but the secret (worst case)")
            overlap = sorted(set(qis) & set(sensitive))
            if overlap:
                raise InputError(f"attack {NAME!r}: column(s) {overlap} are both "
                                 "quasi-identifier and sensitive; a column the adversary "
                                 "already knows cannot be learned")
            if not declared and source != "parameter" and not schema.sensitive:
                source += "; no sensitive column declared, so every other column is the secret " \
                          "in turn and the worst is reported"
            plans.append((qis, sensitive, source))
        if not plans or not all(q and s for q, s, _ in plans):
            raise InputError(f"attack {NAME!r}: needs at least one quasi-identifier and one "
                             f"other column to learn; the table has "
                             f"{[c.name for c in schema.modelled]}")
        return plans

    @staticmethod
    def _tolerance(value: Any, sensitive: list[str]) -> dict[str, float]:
        if isinstance(value, Mapping):
            unknown = sorted(set(value) - set(sensitive))
            if unknown:
                raise InputError(f"attack {NAME!r}: 'tolerance' names {unknown}, which are not "
                                 f"sensitive columns ({sensitive})")
            out = {c: float(value.get(c, IdentityDisclosure.DEFAULTS["tolerance"]))
                   for c in sensitive}
        elif isinstance(value, int | float) and not isinstance(value, bool):
            out = {c: float(value) for c in sensitive}
        else:
            raise InputError(f"attack {NAME!r}: 'tolerance' must be a number or a table "
                             f"{{column = share of range}}, got {value!r}")
        bad = {c: t for c, t in out.items() if not (math.isfinite(t) and 0 <= t <= 1)}
        if bad:
            raise InputError(f"attack {NAME!r}: tolerance must be a share of the column's "
                             f"range in [0, 1], got {bad}")
        return out

    # -- the attack ---------------------------------------------------------------------------

    def run(self, context: AttackContext) -> AttackResult:
        """Match real records to synthetic ones on the QIs; count meaningful disclosures.

        With several candidate secrets (no sensitive column declared) the attack runs once per
        secret and reports the worst: the highest risk, with the interval [max of the lower
        bounds, max of the upper bounds] (the upper bound keeps at least the stated level for
        the maximum; no multiplicity adjustment).
        """
        p = resolve_params(self.name, self.DEFAULTS, self.params)
        method = check_choice(self.name, p, "interval", tuple(BINOMIAL_METHODS))
        modelled_columns(self.name, context)
        self.check_schema(context.schema)
        runs = [self._one(context, p, method, qis, sensitive, source)
                for qis, sensitive, source in self._plans(context.schema, p)]
        worst = max(runs, key=lambda r: (r.risk, r.ci_high))
        if len(runs) == 1:
            return worst
        low = min(max(r.ci_low for r in runs), worst.risk)
        high = max(max(r.ci_high for r in runs), worst.risk)
        details = dict(worst.details)
        details["per_secret"] = {
            ",".join(r.details["sensitive"]): {
                "risk": r.risk, "ci": [r.ci_low, r.ci_high],
                "quasi_identifiers": r.details["quasi_identifiers"]} for r in runs}
        details["secrets_from"] = ("every column that is not a quasi-identifier, in turn (no "
                                   "sensitive column declared); the worst is reported")
        return AttackResult(
            attack=self.name, risk_kind=self.risk_kind, risk=worst.risk, ci_low=low,
            ci_high=high, confidence_level=worst.confidence_level,
            interval_method=worst.interval_method + "; over several candidate secrets the "
            "highest risk is reported with the interval [max of lower bounds, max of upper "
            "bounds] (no multiplicity adjustment)",
            baseline=worst.baseline, baseline_description=worst.baseline_description,
            n_trials=worst.n_trials, details=jsonable(details), null_upper=worst.null_upper,
            record_risk=worst.record_risk, binomial_method=worst.binomial_method,
            binomial_level=worst.binomial_level)

    def _one(self, context: AttackContext, p: Mapping[str, Any], method: str,
             qis: list[str], sensitive: list[str], qi_source: str) -> AttackResult:
        """The attack for one set of quasi-identifiers and sensitive columns."""
        schema = context.schema
        spec = p["generalise"]
        if isinstance(spec, Mapping):  # rules for columns that are QIs in this run
            spec = {c: r for c, r in spec.items() if c in qis}
        rules = _generalise_spec(schema, qis, spec)
        tol = p["tolerance"]
        if isinstance(tol, Mapping):  # tolerances for this run's secrets
            tol = {c: t for c, t in tol.items() if c in sensitive}
        tolerance = self._tolerance(tol, sensitive)
        train, control, syn = context.train, context.control, context.synthetic
        rule = _Sensitive([schema[c] for c in sensitive], [train, control], tolerance)
        needed = max(1, math.ceil(float(p["min_sensitive_share"]) * len(sensitive) - 1e-9))

        k_train = _qi_keys(train, schema, qis, rules)
        k_control = _qi_keys(control, schema, qis, rules)
        k_syn = _qi_keys(syn, schema, qis, rules)
        s_syn = rule.arrays(syn)
        i_train, r_train = _learns(k_train, rule.arrays(train), k_syn, s_syn, rule, needed)
        i_control, r_control = _learns(k_control, rule.arrays(control), k_syn, s_syn, rule,
                                       needed)

        # equivalence class sizes: f in the training sample, F in the population
        train_counts = pd.Series(k_train).value_counts()
        f_s = train_counts.reindex(k_train).to_numpy(dtype=float)
        real_counts = pd.Series(np.concatenate([k_train, k_control])).value_counts()
        n_real = len(train) + len(control)
        scale = 1.0 if p["population_size"] is None else max(
            1.0, float(p["population_size"]) / n_real)
        big_f = np.maximum(real_counts.reindex(k_train).to_numpy(dtype=float) * scale, f_s)
        hit = (i_train & r_train).astype(float)
        per_record = hit / f_s
        n, n_control = len(train), len(control)
        sample_rate = float(per_record.sum() / n)
        population_rate = float((hit / big_f).sum() / n)
        # control records counted as if they had been added to the training data
        f_c = train_counts.reindex(k_control).fillna(0).to_numpy(dtype=float) + 1.0
        control_record = (i_control & r_control).astype(float) / f_c
        control_rate = float(control_record.mean())

        # Chance correction. A member is disclosed either because the generator leaked it
        # (a share q of the members) or by a chance match, as often as a non-member: with h the
        # 0/1 "matched and taught" indicator, mean(h) over members = q + (1 - q) * mean(h) over
        # control, and the member rate p = truth + (1 - q) * c, c the control rate. So
        # truth = p - (1 - q) * c: exact when nothing leaked (p = c) and when everything did
        # (q = 1). The four rates' intervals are taken at the Bonferroni level
        # 1 - (1 - level) / 4 and combined at their extremes (truth rises with p and q, falls
        # with c), so the combined interval keeps at least the stated level.
        level = context.confidence_level
        each = 1.0 - (1.0 - level) / 4.0
        h_train, h_control = i_train & r_train, i_control & r_control
        t_low, t_high = rate_ci(per_record.sum(), n, each, method)
        c_low, c_high = rate_ci(control_record.sum(), n_control, each, method)
        ht_low, ht_high = rate_ci(int(h_train.sum()), n, each, method)
        hc_low, hc_high = rate_ci(int(h_control.sum()), n_control, each, method)
        leaked = _leaked_share(float(h_train.mean()), float(h_control.mean()))
        risk = _clip01(sample_rate - (1.0 - leaked) * control_rate)
        low = min(_clip01(t_low - (1.0 - _leaked_share(ht_low, hc_high)) * c_high), risk)
        high = max(_clip01(t_high - (1.0 - _leaked_share(ht_high, hc_low)) * c_low), risk)

        details = {
            "quasi_identifiers": qis,
            "quasi_identifiers_source": qi_source,
            "sensitive": sensitive,
            "generalise": {c: ({"prefix": int(v)} if kind == "prefix" else v)
                           for c, (kind, v) in rules.items()},
            "tolerance": tolerance,
            "min_sensitive_share": float(p["min_sensitive_share"]),
            "min_sensitive_agreeing": needed,
            "estimator": (
                "El Emam et al. 2020 (lambda = 1): the sample-to-synthetic rate (1/n) sum "
                "I_s R_s / f_s over the n training records (never below the population-to-"
                "synthetic rate, which uses F_s >= f_s), less the chance rate of control "
                "records for the members not leaked: p - (1 - q) c, q = (h_train - h_control) "
                "/ (1 - h_control) from the shares h matched and taught"),
            "sample_rate": sample_rate,
            "sample_rate_ci": [t_low, t_high],
            "population_rate": population_rate,
            "control_rate": control_rate,
            "control_rate_ci": [c_low, c_high],
            "leaked_share": leaked,
            "matched_and_taught_share": float(h_train.mean()),
            "control_matched_and_taught_share": float(h_control.mean()),
            "rate_ci_level": each,
            "population": ("train + control" if p["population_size"] is None else
                           f"{int(p['population_size']):,} people (F_s scaled from train + "
                           "control)"),
            "matched_rate": float(i_train.mean()),
            "control_matched_rate": float(i_control.mean()),
            "unique_in_train_rate": float(np.mean(f_s == 1)),
            "n_train": n,
            "n_control": n_control,
            "n_synthetic": int(len(syn)),
        }
        return AttackResult(
            attack=self.name,
            risk_kind=self.risk_kind,
            risk=risk,
            ci_low=low,
            ci_high=high,
            confidence_level=level,
            interval_method=(
                f"{BINOMIAL_METHODS[method]} binomial intervals at {each:.4g} (Bonferroni over "
                f"four rates) for the member rates ({n:,} training records as trials) and the "
                f"control rates ({n_control:,} records), the summed per-record "
                "re-identification probabilities as success counts (conservative: a [0, 1]-"
                "valued mean has at most the binomial variance), combined at their extremes"),
            baseline=0.0,
            baseline_description=(
                "a generator that never saw the training rows discloses its members no more "
                "often than people it never saw: 0 after the chance correction (the raw chance "
                "rate, measured on control records, is in details.control_rate)"),
            n_trials=n,
            details=jsonable(details),
            null_upper=zero_success_upper(n, each, method),
            record_risk=pd.Series(per_record, index=pd.RangeIndex(n), name=self.name),
            binomial_method=method,
            binomial_level=each,
        )


def _clip01(x: float) -> float:
    return float(min(1.0, max(0.0, x)))


def _leaked_share(member_hits: float, control_hits: float) -> float:
    """The share q of members disclosed by a leak: ``(h_m - h_c) / (1 - h_c)``, in [0, 1]."""
    if control_hits >= 1.0:
        return 0.0
    return _clip01((member_hits - control_hits) / (1.0 - control_hits))


@hookimpl
def privgate_attacks() -> list[type[Attack]]:
    """Register the identity-disclosure attack."""
    return [IdentityDisclosure]
