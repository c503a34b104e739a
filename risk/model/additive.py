"""The default attrition model: an additive model of smooth shapes, then a calibration step.

A client's log-odds of leaving are a sum of one shape per term,

    log-odds = average client's log-odds + sum over terms t of shape_t(term_t) - shape_t(average),

over TERMS, sensible transforms of the three counts: the logs of last month's
activity, last year's activity and the number of employees, and the activity
trend log((last month + 1) / (last year / 12 + 1)). Each shape is a cubic
B-spline (scikit-learn's SplineTransformer, 16 knots at quantiles of the
training rows, flat beyond the outermost knots so a wild figure cannot send the
score anywhere); the splines' weights are one LogisticRegression whose L2
penalty, through a change of basis (`smoothing`), penalises wiggles: a P-spline.
The same settings serve any law: no term or shape is chosen for one data set.
Missing figures are imputed with the training medians inside the model.

`decision_function` is the model's own log-odds, the sum above: the reasons
(reasons.py) are its terms, exact shares that add up to it.
`predict_proba` is calibrated: the log-odds go through a sigmoid (Platt)
fitted on out-of-fold log-odds of 3-fold cross-fitting, the scheme of
scikit-learn's CalibratedClassifierCV(method="sigmoid", ensemble=False), which
fits it (3 folds, not 5: as calibrated on every law of bench/bench_models.py,
at 60 % of the time). So "70 %" means about 70 % of such clients leave, and the ranking is
the log-odds' ranking (the sigmoid rises).

Scoring evaluates each fitted shape as a piecewise cubic (scipy's PPoly, the
same spline) over the whole column: no design matrix. The counts are whole
numbers, so a shape of one count is also tabled at 0, 1, 2, ... up to its
outermost knot (flat beyond): a whole-number column is then one array lookup,
the same values as the spline's. A million clients take about 0.1 s.
"""
from __future__ import annotations

import numpy as np
from scipy.interpolate import BSpline, PPoly
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.calibration import CalibratedClassifierCV
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.preprocessing import SplineTransformer
from threadpoolctl import threadpool_limits

from risk.data import contract

# The model's terms, and which of the contract's features each is made from.
TERMS = ("log last month's activity", "log last year's activity", "log number of employees",
         "activity trend")
TERM_FEATURES: dict[str, tuple[str, ...]] = {
    TERMS[0]: ("lastmonth_activity",),
    TERMS[1]: ("lastyear_activity",),
    TERMS[2]: ("number_of_employees",),
    TERMS[3]: ("lastmonth_activity", "lastyear_activity"),
}
N_KNOTS = 16       # knots per term, at quantiles: 18 cubic B-splines per term
DEGREE = 3
# A shape of one count is tabled at whole numbers up to this many entries (8 MB at most).
MAX_TABLE = 1_000_000
# The feature each one-count term is made from, by position in contract.FEATURES.
ONE_COUNT = {t: contract.FEATURES.index(TERM_FEATURES[term][0])
             for t, term in enumerate(TERMS) if len(TERM_FEATURES[term]) == 1}
C = 1.0            # L2 regularisation of the weights (scikit-learn's C: larger is weaker)
FOLDS = 3          # cross-fitting of the calibration
SOLVER, MAX_ITER = "newton-cholesky", 100
# Rows the shapes and the calibration are fitted on at most (a seeded random sample
# beyond): four smooth curves are pinned down well before, and the fit's time
# grows with the rows (1,000,000 rows took 25 s, against 0.5 s for this many).
MAX_FIT_ROWS = 25_000
LINEAR_FREEDOM = 10.0  # the straight-line part of each shape: penalised 1/100 as much (smoothing())


def term(x: np.ndarray, t: int) -> np.ndarray:
    """TERMS[t] of each row of a filled feature matrix (columns contract.FEATURES, no NaN)."""
    if t in ONE_COUNT:
        return np.log1p(x[:, ONE_COUNT[t]])
    month = x[:, contract.FEATURES.index("lastmonth_activity")]
    year = x[:, contract.FEATURES.index("lastyear_activity")]
    return np.log1p(month) - np.log(year / 12 + 1)  # log((month + 1) / (year / 12 + 1))


def terms(x: np.ndarray) -> np.ndarray:
    """The TERMS of each row of a filled feature matrix, one column each."""
    return np.column_stack([term(x, t) for t in range(len(TERMS))])


def quantile_knots(column: np.ndarray, n_knots: int) -> np.ndarray:
    """Distinct knots at evenly spaced quantiles (counts repeat: fewer knots where they do)."""
    return np.unique(np.quantile(column, np.linspace(0, 1, n_knots)))


def smoothing(width: int) -> np.ndarray:
    """T such that weights = T @ g turns a plain ridge penalty on g into a smoothness penalty on the weights.

    P-splines (Eilers and Marx): the penalty is the sum of squared second
    differences of neighbouring B-spline weights, which leaves straight lines
    free; LogisticRegression's L2 penalty on g is that penalty on T @ g, the
    straight line kept nearly free (penalised 1 / LINEAR_FREEDOM² as much). So
    C sets how smooth the shapes are, and where data are few a shape runs
    straight on instead of wiggling. A constant is left out: the B-splines sum
    to one, so the intercept is it (one column fewer per term to fit).
    """
    d = np.diff(np.eye(width), n=2, axis=0)
    values, vectors = np.linalg.eigh(d.T @ d)
    bent = values > 1e-9 * values.max()
    line = np.arange(width) - (width - 1) / 2
    line = line / np.linalg.norm(line)
    return np.column_stack([line * LINEAR_FREEDOM, vectors[:, bent] / np.sqrt(values[bent])])


def shapes(splines: list[tuple[int, SplineTransformer]], weights: np.ndarray) -> list[tuple[int, PPoly, float, float]]:
    """Each term's fitted shape (its B-splines times their weights) as a piecewise cubic, with its knots' range."""
    out = []
    start = 0
    for t, spline in splines:
        basis = spline.bsplines_[0]
        width = basis.c.shape[1]
        shape = BSpline(basis.t, weights[start:start + width], DEGREE, extrapolate=False)
        start += width
        low, high = float(basis.t[DEGREE]), float(basis.t[-DEGREE - 1])
        out.append((t, PPoly.from_spline(shape, extrapolate=False), low, high))
    return out


class AdditiveModel(ClassifierMixin, BaseEstimator):
    """Additive logistic model over spline shapes of TERMS, with a cross-fitted sigmoid calibration.

    A scikit-learn classifier: fit(X, y), decision_function (the model's own
    log-odds), predict_proba (calibrated), predict (calibrated probability >= 0.5).
    X holds the contract's FEATURES in order; NaN is a missing figure.
    """

    def __init__(self, n_knots: int = N_KNOTS, C: float = C, folds: int = FOLDS,
                 max_rows: int = MAX_FIT_ROWS, random_state: int = 0) -> None:
        self.n_knots = n_knots
        self.C = C
        self.folds = folds
        self.max_rows = max_rows
        self.random_state = random_state

    # --- fitting --------------------------------------------------------------------

    def fit(self, X: np.ndarray, y: np.ndarray) -> "AdditiveModel":
        x = np.asarray(X, dtype=float)
        y = np.asarray(y).astype(np.int64)
        known = np.where(np.isnan(x).all(axis=0), 0.0, x)  # a column with no value at all: 0
        # Whole numbers, as the counts are (a median of an even count can end in .5).
        self.fill_ = np.round(np.nanmedian(known, axis=0))
        self.n_features_in_ = x.shape[1]
        if len(x) > self.max_rows:
            kept = np.sort(np.random.default_rng(self.random_state).choice(len(x), self.max_rows, replace=False))
            x, y = x[kept], y[kept]
        self.classes_, counts = np.unique(y, return_counts=True)
        if len(self.classes_) != 2:
            raise ValueError(f"needs two classes in y, got {self.classes_.tolist()}")
        if counts.min() < 2:
            raise ValueError(f"needs at least 2 rows of each class to calibrate, got {counts.tolist()}")
        z = terms(self._filled(x))
        splines = self._splines(z)
        smooth = [smoothing(spline.n_features_out_) for _, spline in splines]
        design = np.hstack([spline.transform(z[:, [t]]) @ m for (t, spline), m in zip(splines, smooth)])
        # Newton steps (newton-cholesky): the smoothing basis is badly scaled for
        # L-BFGS, which took 5x longer. One BLAS thread: on matrices this small,
        # threads cost more than they save on a busy 2-core machine. C is fixed,
        # not cross-validated: a search over C multiplies the fits, and one C
        # held every law of bench/bench_models.py.
        with threadpool_limits(limits=1):
            calibrated = CalibratedClassifierCV(
                LogisticRegression(C=self.C, solver=SOLVER, max_iter=MAX_ITER),
                method="sigmoid", ensemble=False,
                cv=StratifiedKFold(min(self.folds, int(counts.min())), shuffle=True,
                                   random_state=self.random_state),
            ).fit(design, y)
        fitted = calibrated.calibrated_classifiers_[0]
        sigmoid = fitted.calibrators[0]
        g = np.split(fitted.estimator.coef_[0], np.cumsum([m.shape[1] for m in smooth])[:-1])
        self.shapes_ = shapes(splines, np.concatenate([m @ part for m, part in zip(smooth, g)]))
        self.tables_ = self._tables()
        self.splines_ = splines  # the bases the weights were fitted on (tests check the shapes against them)
        # Centre each shape on the training rows: the intercept becomes the average client's log-odds.
        raw = self._shape_values(self._filled(x))
        self.centre_ = raw.mean(axis=0)
        self.intercept_ = float(fitted.estimator.intercept_[0] + self.centre_.sum())
        # scikit-learn's sigmoid calibration: p = 1 / (1 + exp(a * log-odds + b)).
        self.calibration_ = (float(sigmoid.a_), float(sigmoid.b_))
        return self

    def _splines(self, z: np.ndarray) -> list[tuple[int, SplineTransformer]]:
        """A SplineTransformer per term that varies (a constant term has no shape and is left out)."""
        out = []
        for t in range(z.shape[1]):
            knots = quantile_knots(z[:, t], self.n_knots)
            if len(knots) < 2:
                continue
            out.append((t, SplineTransformer(knots=knots[:, None], degree=DEGREE, extrapolation="constant",
                                             sparse_output=True).fit(z[:, [t]])))
        return out

    # --- scoring --------------------------------------------------------------------

    def _filled(self, x: np.ndarray) -> np.ndarray:
        return np.where(np.isnan(x), self.fill_, x)

    def _tables(self) -> dict[int, np.ndarray]:
        """The shape of each one-count term at 0, 1, 2, ... up to its outermost knot (flat beyond)."""
        out = {}
        for t, shape, low, high in self.shapes_:
            size = int(np.ceil(np.expm1(high))) + 1
            if t in ONE_COUNT and size <= MAX_TABLE:
                out[t] = shape(np.clip(np.log1p(np.arange(size, dtype=float)), low, high))
        return out

    def _shape(self, filled: np.ndarray, t: int, shape: PPoly, low: float, high: float) -> np.ndarray:
        """TERMS[t]'s shape value per row of a filled feature matrix, uncentred."""
        table = self.tables_.get(t)
        if table is not None:
            v = filled[:, ONE_COUNT[t]]
            if len(v) and v.min() >= 0 and np.array_equal(v, np.trunc(v)):
                return table.take(np.minimum(v, len(table) - 1).astype(np.int64))
        # Flat beyond the outer knots, as SplineTransformer(extrapolation="constant").
        return shape(np.clip(term(filled, t), low, high))

    def _shape_values(self, filled: np.ndarray) -> np.ndarray:
        """Each TERM's shape value per row (0 for a term without a shape), uncentred."""
        out = np.zeros((len(filled), len(TERMS)))
        for t, shape, low, high in self.shapes_:
            out[:, t] = self._shape(filled, t, shape, low, high)
        return out

    def term_contributions(self, X: np.ndarray) -> np.ndarray:
        """Each TERM's share of the log-odds per row, against the average client (columns TERMS).

        intercept_ + the row's sum is decision_function, exactly.
        """
        out = self._shape_values(self._filled(np.asarray(X, dtype=float)))
        out -= self.centre_
        return out

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        """The model's own log-odds of leaving per row (before calibration).

        intercept_ + the sum of term_contributions, summed without the
        (rows x terms) array: batch scoring's time is mostly this.
        """
        filled = self._filled(np.asarray(X, dtype=float))
        total = np.full(len(filled), self.intercept_ - float(self.centre_.sum()))
        for t, shape, low, high in self.shapes_:
            total += self._shape(filled, t, shape, low, high)
        return total

    def calibrated(self, log_odds: np.ndarray) -> np.ndarray:
        """The calibrated probability of leaving for the model's log-odds."""
        a, b = self.calibration_
        return 1.0 / (1.0 + np.exp(a * np.asarray(log_odds, dtype=float) + b))

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        p = self.calibrated(self.decision_function(X))
        return np.column_stack([1.0 - p, p])

    def predict(self, X: np.ndarray) -> np.ndarray:
        """The likelier class (a tie at exactly 0.5 goes to the first, as argmax and LogisticRegression do)."""
        return self.classes_.take((self.predict_proba(X)[:, 1] > 0.5).astype(np.int64))
