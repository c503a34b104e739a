"""Generate the shipped client data, or one new extract, from a seeded model of the business.

    python generate_data.py                     # rewrite practicedata/, sourcedata/, testdata/
    python generate_data.py --extract sourcedata/clients_2026_12.csv --law drifted
    python generate_data.py --extract new.csv --law base --rows 2000 --seed 7
    python generate_data.py --config other/config.json [--extract NAME.csv]
                        # the data folders beside that config; an extract named by file
                        # name alone goes into its input_folder_path

The same seed gives byte-identical files; an extract's default seed comes
from its file name, so each new extract holds new clients and the same name
gives the same bytes. How a client is made:

- `number_of_employees`: log-normal, median 45, heavily right-skewed (a few
  clients have thousands of employees).
- `lastyear_activity`: log-normal around 1,200 a year, slightly higher for
  larger companies.
- `lastmonth_activity`: Poisson around last year's monthly mean times a trend
  (log-normal, sd 0.45): some clients grow, some fade.
- `exited`, law `base`: attrition is driven mostly by falling activity
  (logit = -1.8 - 4.0 log trend - 0.3 log size), about 24 % exit.
- `exited`, law `drifted`: after a price change, small companies leave whatever
  their activity (logit = -1.6 - 0.8 log trend - 1.3 log size). A model trained
  on the base law scores an F1 of about 0.27 on it against about 0.56.
- `exited`, law `base_rate`: the base law with a raised intercept (-0.2):
  the exit rate about doubles, to about 47 %.
- `exited`, law `gradual`: the log-odds blend (1 - mix) base + mix drifted
  (`--mix`, default 0.5): a law on its way from one to the other.
- law `covariate`: the base law of who leaves, but other clients: more small
  companies (size median 20) and busier ones (activity x 1.6).
- law `season`: a seasonal month: exits rise (intercept -1.2, about 33 %
  leave) and last month's activity is a quieter x 0.8.
- law `segment`: the base law, but 30 % of the clients come from a new
  segment of larger companies (size median 400) with twice the activity.

Laws of other shapes (SHAPES), the same clients, for the model benchmark
(bench/bench_models.py): no model should fit only the base law's shape.
- `cliff`: a threshold in activity: clients whose last month fell below 60 %
  of last year's monthly average leave at about 55 %, the others at about 10 %
  (logit = -2.2 + 2.6 [trend < 0.6] - 0.2 log size).
- `interaction`: falling activity drives small companies out, hardly large ones
  (logit = -1.6 - 4.5 log trend / (1 + size / 45) - 0.2 log size).
- `logistic_logs`: logistic in the logs of the raw counts
  (logit = -0.9 - 1.1 log(1 + last month) + 0.8 log(1 + last year) - 0.25 log(1 + employees)).
- `linear_raw`: linear in the raw counts, the course model's own shape
  (logit = 0.3 - 0.025 last month + 0.0009 last year - 0.004 employees).
- about 1 % of rows miss one feature value (left empty).

Broken extracts, for the quality gate (labels from the base law):
- `units`: both activity figures in another unit (x 1000);
- `swapped`: `lastmonth_activity` and `lastyear_activity` swapped;
- `missing`: a missing-value surge, 30 % of each feature empty.

`--no-labels` leaves `exited` empty: an extract whose outcomes are not known yet.
`--scale COLUMN FACTOR` writes one feature in another unit (e.g. employees x10).

Team data (`--team-info clientinfo.csv`): for every client of `sourcedata/`,
an account manager (anna, ben, carla, dev, eve; a few clients unassigned), an
annual contract value (log-normal, larger for larger companies, median about
12,000), a company name, a contact (a name and a fictional 555 phone number)
and a CRM link (https://crm.example.com/accounts/<id>). Laws of what a call does (`CALL_EFFECT_LAWS`, for
tests and bench/bench_effect.py): `segmented` saves some small and mid-size
clients (-4 and -12 points of exit probability) and pushes a few large ones
to leave (+5 points); `uniform` -8 points for all; `zero` does nothing.

Shipped data (seed 2026): `sourcedata/` holds two monthly extracts of 10,000
clients in all; 150 rows appear in both (exact duplicates) and 150 clients of
the first reappear in the second with new figures. `practicedata/` holds 1,000
other clients in two files sharing 40 rows; `testdata/testdata.csv` 2,000 more.
"""
from __future__ import annotations

import argparse
import logging
import sys
import zlib
from pathlib import Path
from urllib.parse import quote

import numpy as np
import pandas as pd

from risk import artifacts, config
from risk.data import contract

log = logging.getLogger("generate_data")

HERE = Path(__file__).resolve().parent
SEED = 2026
# Laws of who leaves and which clients there are; then extracts broken on the way.
LAWS = ("base", "drifted", "covariate", "base_rate", "gradual", "season", "segment")
# Laws of other functional shapes (kept out of LAWS, which the drift benchmark walks).
SHAPES = ("cliff", "interaction", "logistic_logs", "linear_raw")
BROKEN = ("units", "swapped", "missing")
MISSING_RATE = 0.01
SURGE_RATE = 0.30
UNITS_FACTOR = 1000
SEGMENT_SHARE = 0.30
SEASON_QUIET = 0.8  # law season: last month's activity is this much quieter for every client
CODE_LETTERS = np.array(list("abcdefghijklmnopqrstuvwxyz"))


def client_codes(rng: np.random.Generator, n: int) -> np.ndarray:
    """`n` distinct six-letter corporation codes."""
    codes: list[str] = []
    seen: set[str] = set()
    while len(codes) < n:
        for row in rng.choice(CODE_LETTERS, size=(n, 6)):
            code = "".join(row)
            if code not in seen:
                seen.add(code)
                codes.append(code)
                if len(codes) == n:
                    break
    return np.array(codes)


def exit_logit(log_trend: np.ndarray, log_size: np.ndarray, law: str, mix: float = 0.5) -> np.ndarray:
    """The attrition law: log-odds of exiting from activity trend and company size."""
    if law in ("base", "covariate", "segment", *BROKEN):
        return -1.8 - 4.0 * log_trend - 0.3 * log_size
    if law == "drifted":
        return -1.6 - 0.8 * log_trend - 1.3 * log_size
    if law == "season":
        return -1.2 - 4.0 * log_trend - 0.3 * log_size
    if law == "base_rate":
        return -0.2 - 4.0 * log_trend - 0.3 * log_size
    if law == "gradual":
        return ((1 - mix) * exit_logit(log_trend, log_size, "base")
                + mix * exit_logit(log_trend, log_size, "drifted"))
    raise ValueError(f"unknown law {law!r} (known: {', '.join(LAWS + BROKEN)})")


def law_logit(lastmonth: np.ndarray, lastyear: np.ndarray, employees: np.ndarray, law: str,
              mix: float = 0.5) -> np.ndarray:
    """The log-odds of exiting under `law` (LAWS, SHAPES or BROKEN) from a client's true figures."""
    if law == "season":  # who leaves follows the client's own trend, not the season's quiet month
        lastmonth = lastmonth / SEASON_QUIET
    log_trend = np.log((lastmonth + 1) / (lastyear / 12 + 1))
    log_size = np.log(employees / 45)
    if law == "cliff":
        return -2.2 + 2.6 * (log_trend < np.log(0.6)) - 0.2 * log_size
    if law == "interaction":
        return -1.6 - 4.5 * log_trend / (1 + employees / 45) - 0.2 * log_size
    if law == "logistic_logs":
        return -0.9 - 1.1 * np.log1p(lastmonth) + 0.8 * np.log1p(lastyear) - 0.25 * np.log1p(employees)
    if law == "linear_raw":
        return 0.3 - 0.025 * lastmonth + 0.0009 * lastyear - 0.004 * employees
    return exit_logit(log_trend, log_size, law, mix)


def exit_probability(frame: pd.DataFrame, law: str, mix: float = 0.5) -> np.ndarray:
    """The law's own probability of exiting for each row (an oracle's ranking; nan where a figure is missing)."""
    month, year, size = (frame[c].to_numpy(float) for c in contract.FEATURES)
    return 1 / (1 + np.exp(-law_logit(month, year, size, law, mix)))


def clients(
    rng: np.random.Generator, n: int, law: str = "base", codes: np.ndarray | None = None,
    mix: float = 0.5,
) -> pd.DataFrame:
    """`n` simulated clients under `law`, with ~1 % of rows missing one feature."""
    # Covariate shift: more small companies, busier clients; who leaves is unchanged.
    size_median, busier = (20, 1.6) if law == "covariate" else (45, 1.0)
    employees = np.maximum(1, np.round(rng.lognormal(np.log(size_median), 1.2, n)))
    if law == "segment":  # a new segment: larger companies, twice as busy
        joins = rng.random(n) < SEGMENT_SHARE
        employees[joins] = np.maximum(1, np.round(rng.lognormal(np.log(400), 0.8, int(joins.sum()))))
        busier = np.where(joins, 2.0, 1.0)
    lastyear = np.round(rng.lognormal(np.log(1200 * busier), 0.35, n) * (employees / 45) ** 0.15)
    trend = np.exp(rng.normal(0.0, 0.45, n))
    quiet = SEASON_QUIET if law == "season" else 1.0
    lastmonth = rng.poisson(lastyear / 12 * trend * quiet).astype("float64")
    p_exit = 1 / (1 + np.exp(-law_logit(lastmonth, lastyear, employees, law, mix)))
    exited = (rng.random(n) < p_exit).astype("int64")

    features = np.c_[lastmonth, lastyear, employees]
    gaps = np.flatnonzero(rng.random(n) < MISSING_RATE)
    features[gaps, rng.integers(0, 3, gaps.size)] = np.nan
    frame = pd.DataFrame(features, columns=list(contract.FEATURES))
    frame.insert(0, contract.ID, codes if codes is not None else client_codes(rng, n))
    frame[contract.TARGET] = exited
    return broken(rng, frame, law) if law in BROKEN else frame


def broken(rng: np.random.Generator, frame: pd.DataFrame, how: str) -> pd.DataFrame:
    """`frame` broken on its way as extracts break: other units, swapped columns, lost values."""
    frame = frame.copy()
    month, year = "lastmonth_activity", "lastyear_activity"
    if how == "units":
        frame[[month, year]] = frame[[month, year]] * UNITS_FACTOR
    elif how == "swapped":
        frame[[month, year]] = frame[[year, month]].to_numpy()
    elif how == "missing":
        for col in contract.FEATURES:
            frame.loc[rng.random(len(frame)) < SURGE_RATE, col] = np.nan
    return frame


def damaged(rng: np.random.Generator, frame: pd.DataFrame, how: str, column: str = "",
            factor: float = 1.0, share: float = 1.0, other: str = "") -> pd.DataFrame:
    """`frame` with one error of a given size, for measuring the quality gate.

    `how`: "scale" multiplies `column` by `factor` on a `share` of the rows
    (other units); "swap" swaps `column` and `other`; "missing" empties each
    feature on `share` of the rows; "shuffle" permutes the outcomes; "invert"
    turns every outcome round.
    """
    frame = frame.copy()
    rows = rng.random(len(frame)) < share
    if how == "scale":
        frame.loc[rows, column] = frame.loc[rows, column] * factor
    elif how == "swap":
        frame[[column, other]] = frame[[other, column]].to_numpy()
    elif how == "missing":
        for col in contract.FEATURES:
            frame.loc[rng.random(len(frame)) < share, col] = np.nan
    elif how == "shuffle":
        frame[contract.TARGET] = rng.permutation(frame[contract.TARGET].to_numpy())
    elif how == "invert":
        frame[contract.TARGET] = 1 - frame[contract.TARGET]
    else:
        raise ValueError(f"unknown damage {how!r}")
    return frame


def write(frame: pd.DataFrame, path: Path) -> None:
    artifacts.write_atomic(path, contract.write_csv(frame))
    log.info("wrote %s (%d rows)", path, len(frame))


def shipped_data(root: Path, seed: int = SEED) -> None:
    """Write practicedata/, sourcedata/ and testdata/ under `root`."""
    rng = np.random.default_rng(seed)
    codes = client_codes(rng, 13_000)
    source = clients(rng, 10_000, "base", codes[:10_000])
    practice = clients(rng, 1_000, "base", codes[10_000:11_000])
    test = clients(rng, 2_000, "base", codes[11_000:])

    # Two monthly extracts: rows 5000-5149 appear in both; clients 0-149 of
    # the first come back in the second with new figures.
    revisited = clients(rng, 150, "base", source[contract.ID].to_numpy()[:150])
    write(source.iloc[:5150], root / "sourcedata" / "clients_2026_09.csv")
    write(pd.concat([source.iloc[5000:], revisited]), root / "sourcedata" / "clients_2026_10.csv")
    write(practice.iloc[:520], root / "practicedata" / "practice_a.csv")
    write(practice.iloc[480:], root / "practicedata" / "practice_b.csv")
    write(test, root / "testdata" / "testdata.csv")


def extract(path: Path, rows: int, law: str, seed: int, mix: float = 0.5, labels: bool = True,
            scale: tuple[str, float] | None = None) -> None:
    """Write one later extract of `rows` new clients under `law` (outcomes empty without `labels`;
    `scale` (column, factor): that column in another unit, a units error)."""
    rng = np.random.default_rng(seed)
    frame = clients(rng, rows, law, mix=mix)
    if scale is not None:
        frame = damaged(rng, frame, "scale", scale[0], scale[1])
    if not labels:
        frame[contract.TARGET] = np.nan
    write(frame, path)


def extract_seed(path: Path) -> int:
    """The default seed of an extract: from its file name, so each new name brings new clients."""
    return SEED + zlib.crc32(path.name.encode("utf-8"))


# --- the team: owners, values, and what a call does ------------------------------------------

MANAGERS = ("anna", "ben", "carla", "dev", "eve")
UNASSIGNED_RATE = 0.03
NAME_PARTS = (("North", "Blue", "Alpine", "Harbor", "Silver", "Cedar", "Prime", "Delta", "Summit", "Union"),
              ("Foods", "Logistics", "Dental", "Print", "Tools", "Energy", "Media", "Labs", "Textiles", "Travel"))
CONTACT_NAMES = (("Ana", "Ben", "Chloé", "Dario", "Emeka", "Fatima", "Greta", "Hiro", "Ines", "Jonas"),
                 ("Alvarez", "Berg", "Chen", "Dubois", "Eze", "Fischer", "García", "Haddad", "Ito", "Jensen"))
# What a call does to a client's chance of leaving, by size segment (points of probability).
CALL_EFFECT_LAWS: dict[str, dict[str, float]] = {
    "segmented": {"small": -0.04, "mid": -0.12, "large": 0.05},
    "uniform": {"small": -0.08, "mid": -0.08, "large": -0.08},
    "zero": {"small": 0.0, "mid": 0.0, "large": 0.0},
}


def segment(employees: np.ndarray) -> np.ndarray:
    """small (< 20 employees), mid (20-199), large (200 up); missing counts as mid."""
    e = np.nan_to_num(np.asarray(employees, dtype="float64"), nan=50)
    return np.where(e < 20, "small", np.where(e < 200, "mid", "large"))


def call_effect(employees: np.ndarray, law: str) -> np.ndarray:
    """Each client's change in exit probability when called, under `law`."""
    effects = CALL_EFFECT_LAWS[law]
    return np.array([effects[s] for s in segment(employees)], dtype="float64")


def team_info(frame: pd.DataFrame, seed: int = SEED) -> pd.DataFrame:
    """Owner, annual value and a name for each client of `frame` (its latest row)."""
    latest = frame.drop_duplicates(contract.ID, keep="last")
    rng = np.random.default_rng(seed + 21)
    n = len(latest)
    owner = rng.choice(np.array(MANAGERS), n)
    owner[rng.random(n) < UNASSIGNED_RATE] = ""
    size = np.nan_to_num(latest["number_of_employees"].to_numpy(dtype="float64"), nan=45)
    value = np.round(rng.lognormal(np.log(12_000), 0.6, n) * (size / 45) ** 0.5, -2)
    names = [f"{a} {b}" for a, b in zip(rng.choice(NAME_PARTS[0], n), rng.choice(NAME_PARTS[1], n))]
    # Whom to call and the CRM page: a generator of their own, so the columns above keep their values.
    who = np.random.default_rng(seed + 22)
    contacts = [f"{first} {last}, +1 555 {number:04d}" for first, last, number in
                zip(who.choice(CONTACT_NAMES[0], n), who.choice(CONTACT_NAMES[1], n), who.integers(100, 10_000, n))]
    crm = [f"https://crm.example.com/accounts/{quote(c, safe='')}" for c in latest[contract.ID]]
    return pd.DataFrame({contract.ID: latest[contract.ID].to_numpy(), "account_manager": owner,
                         "annual_value": value, "name": names, "contact": contacts, "crm_url": crm})


def write_team_info(root: Path, path: Path, seed: int = SEED) -> None:
    """The client info file for every client in root/sourcedata."""
    frames = [contract.read_csv(f, require_target=False) for f in sorted((root / "sourcedata").glob("*.csv"))]
    info = team_info(pd.concat(frames), seed)
    artifacts.write_atomic(path, info.to_csv(index=False).encode("utf-8"))
    log.info("wrote %s (%d clients)", path, len(info))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    p.add_argument("--config", type=Path, default=None,
                   help="a project's config.json: its folder is the default --root, and an --extract "
                        "given as a file name alone goes into its input_folder_path")
    p.add_argument("--root", type=Path, default=None,
                   help="where the data folders go (default: here, or the --config file's folder)")
    p.add_argument("--extract", type=Path, help="write one new extract to this CSV path instead")
    p.add_argument("--law", choices=LAWS + SHAPES + BROKEN, default="base",
                   help="attrition law of the extract, or how it is broken")
    p.add_argument("--mix", type=float, default=0.5,
                   help="law gradual: how far from base (0) to drifted (1) (default: 0.5)")
    p.add_argument("--no-labels", action="store_true",
                   help="leave exited empty: outcomes not known yet")
    p.add_argument("--rows", type=int, default=2000, help="rows of the extract (default: 2000)")
    p.add_argument("--scale", nargs=2, metavar=("COLUMN", "FACTOR"),
                   help="an extract with COLUMN in another unit: multiplied by a whole FACTOR (e.g. 10)")
    p.add_argument("--team-info", type=Path,
                   help="write the client info file (owner, annual value, name) of root/sourcedata here")
    p.add_argument("--seed", type=int, default=None,
                   help=f"random seed (default: {SEED}; for an extract, one derived from its file name)")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if args.rows < 1:
        p.error("--rows must be at least 1")
    scale = None
    if args.scale:
        if args.scale[0] not in contract.FEATURES or not args.scale[1].isdigit() or int(args.scale[1]) < 1:
            p.error(f"--scale needs one of {', '.join(contract.FEATURES)} and a whole factor >= 1")
        scale = (args.scale[0], float(args.scale[1]))
    cfg = None
    if args.config is not None:
        try:
            cfg = config.load(args.config)
        except config.ConfigError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    root = args.root or (cfg.path.parent if cfg else HERE)
    if args.team_info:
        write_team_info(root.resolve(), args.team_info.resolve(), SEED if args.seed is None else args.seed)
        print(args.team_info.resolve())
    elif args.extract:
        bare = cfg is not None and args.extract.parent == Path(".")
        path = (cfg.input_folder_path / args.extract) if bare else args.extract.resolve()
        extract(path, args.rows, args.law, extract_seed(path) if args.seed is None else args.seed,
                args.mix, labels=not args.no_labels, scale=scale)
        print(path)
    else:
        shipped_data(root.resolve(), SEED if args.seed is None else args.seed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
