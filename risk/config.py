"""Load and validate config.json into a frozen Config.

Paths are resolved against the config file's own folder, not the working
directory, because cron starts jobs in the home directory. The course's five
keys are required; every other key is optional with the default below. Unknown
keys and wrong types are rejected with a message naming the key.

Standard library only: the cron tick that finds no new data imports this.

Long (~570 lines) on purpose: every key is defined here once — its type, default,
check and the sentence the manual shows (KEY_DOCS) — so nothing about a key lives elsewhere.
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, NamedTuple

from risk import ROOT, artifacts
from risk.errors import StepError

DEFAULT_CONFIG = ROOT / "config.json"

# The course's five keys: folder paths, all required.
PATH_KEYS = (
    "input_folder_path",
    "output_folder_path",
    "test_data_path",
    "output_model_path",
    "prod_deployment_path",
)

# Optional keys: name -> (expected type(s), default). Paths among them are
# resolved like the five above.
OPTIONAL_KEYS: dict[str, tuple[tuple[type, ...], Any]] = {
    "history_path": ((str,), "history/runs.sqlite"),
    "log_folder": ((str,), "logs"),
    # The model: "additive" (default; smooth per-feature shapes, calibrated, exact
    # reasons: risk/model/additive.py) or "course" (the course's LogisticRegression
    # on the raw counts, with `model_params`).
    "model_kind": ((str,), "additive"),
    "model_params": ((dict,), {}),
    "keep_deployments": ((int,), 20),
    "api_host": ((str,), "127.0.0.1"),
    "api_port": ((int,), 8000),
    "pypi_timeout_s": ((int, float), 3.0),
    "drift_test": ((str,), "bootstrap"),
    "drift_alpha": ((int, float), 0.05),
    "drift_bootstrap_rounds": ((int,), 2000),
    "drift_seed": ((int,), 0),
    # The call list: clients the team can call per round; the list's own measure is
    # the exits caught among the top `call_capacity` (scoring.list_measure). And the lowest attrition probability of each risk band above "low".
    "call_capacity": ((int,), 100),
    "band_high_from": ((int, float), 0.6),
    "band_elevated_from": ((int, float), 0.4),
    "band_moderate_from": ((int, float), 0.2),
    # The retraining loop (fullprocess.py, challenger.py): see docs/retraining.md.
    "redeploy_rule": ((str,), "challenger"),
    "training_window": ((int,), 3),
    "holdout_fraction": ((int, float), 0.3),
    "min_labelled_rows": ((int,), 500),
    "tests_per_year": ((int,), 12),
    "challenger_min_gain": ((int, float), 0.02),
    # What the challenger is judged by (loop.decide, docs/loop.md): "list", the share of
    # exits caught in the top call_capacity held-out rows (the call list's own measure);
    # "auc", the ranking's AUC; "f1", the course's F1 at 0.5. challenger_min_gain is a gain in it.
    "challenger_measure": ((str,), "list"),
    # A file holding the API's bearer token (owner-only): cron starts jobs without
    # the caller's environment, so the server and apicalls.py both read it here.
    "api_token_file": ((str, type(None)), None),
    # A database as a source (dbsource.py): the URL itself (no password allowed here),
    # or the name of an environment variable / an owner-only file holding it.
    "database_url": ((str,), ""),
    "database_url_env": ((str,), ""),
    "database_url_file": ((str,), ""),
    "database_table": ((str,), ""),
    "database_query": ((str,), ""),
    "database_order_column": ((str,), ""),
    # Where the rows read from the database are kept as extract files (ingestion reads them all).
    "database_extract_folder": ((str,), "database_extracts"),
    # How many rows at or below the watermark each tick reads again (dbsource.py): rows that
    # commit late, tie the watermark or are updated in place within them are not lost.
    "database_lookback_rows": ((int,), 1000),
    # Telling operators (notify.py): the webhook URL is a secret, so only the name of the
    # environment variable holding it is here; e-mail through an SMTP relay.
    "notify_webhook_url_env": ((str,), "RISK_NOTIFY_WEBHOOK_URL"),
    "notify_smtp_host": ((str,), ""),
    "notify_smtp_port": ((int,), 25),
    "notify_email_from": ((str,), "risk@localhost"),
    "notify_email_to": ((str,), ""),
    "notify_timeout_s": ((int, float), 5.0),
    # Dask (scaleout.py): "" off (pandas), "local" a LocalCluster, else a scheduler address.
    "dask_scheduler": ((str,), ""),
    # The team's records (accounts, sessions, service tokens, owners, actions, holdout,
    # audit): their own SQLite file, never deleted with the run history (docs/team.md).
    "team_db_path": ((str,), "history/team.sqlite"),
    # An optional CSV of client facts the extracts don't hold: corporation, account_manager
    # (a user name), annual_value (contract value a year), name. Unknown columns are ignored.
    "client_info_file": ((str, type(None)), None),
    "session_hours": ((int, float), 12),          # a signed-in session ends after this
    "login_max_failures": ((int,), 20),           # wrong passwords in a row that lock an account
    "login_lockout_minutes": ((int, float), 15),  # how long it stays locked
    "login_address_per_minute": ((int,), 30),     # wrong sign-ins per minute from one address
    # Randomized holdout: this share of the clients entering the top call_capacity is kept
    # off the "to call" view (0 switches it off), chosen by a hash of the seed, list and client.
    "call_holdout_share": ((int, float), 0.10),
    "call_holdout_seed": ((int,), 0),
    # Who the client is: a link into the team's CRM made from the client's id, where the
    # client info file gives no `crm_url` of its own; "{corporation}" is replaced (URL-quoted).
    "crm_link_template": ((str,), ""),
    # A digest e-mail per manager (risk/notify.py's SMTP relay) of their clients who entered
    # their top `manager_digest_top` since the previous list; off until switched on.
    "manager_digest": ((bool,), False),
    "manager_digest_top": ((int,), 10),
    # The page's address as managers open it (for links in the digest); empty: no links.
    "page_url": ((str,), ""),
}
# How fullprocess.py decides to redeploy: a significantly better challenger
# (default), or the course's rule, retrain and redeploy on model drift.
REDEPLOY_RULES = ("challenger", "drift")
CHALLENGER_MEASURES = ("list", "auc", "f1")
# More rounds than this buy no precision worth their memory and time (10**10
# asked for a 298 GiB allocation); 100,000 already pins a p-value to ~0.003.
MAX_BOOTSTRAP_ROUNDS = 100_000
# Model drift tests fullprocess.py can apply (drift.py explains each).
DRIFT_TESTS = ("bootstrap", "raw", "parametric", "non-parametric")
# Models training.py can fit (config key model_kind).
MODEL_KINDS = ("additive", "course")
OPTIONAL_PATH_KEYS = ("history_path", "log_folder", "api_token_file", "database_extract_folder",
                      "team_db_path", "client_info_file")

# What each key means, for people: the manual's configuration page is generated
# from PATH_KEYS, OPTIONAL_KEYS and this (docs/hooks.py); tests/test_docs.py
# fails on a key without a description. Markdown, one sentence or two.
KEY_DOCS: dict[str, str] = {
    "input_folder_path": "folder of input CSV files",
    "output_folder_path": "where `finaldata.csv`, `ingestedfiles.txt`, `ingestion.json` go",
    "test_data_path": "folder holding `testdata.csv`",
    "output_model_path": "where the trained model, its score, the call list and the reports go",
    "prod_deployment_path": "the deployment folder",
    "history_path": "the run history (SQLite)",
    "log_folder": "where `pipeline.log` goes (rotated at 5 MB, 5 kept)",
    "model_kind": "the model: `additive` (smooth shapes over logs and the activity trend, calibrated; the default) "
                  "or `course` (the course's LogisticRegression on raw counts)",
    "model_params": "with `model_kind: course`, LogisticRegression parameters to override, e.g. `{\"C\": 0.5}`; "
                    "the others keep the course's values (table below)",
    "keep_deployments": "how many releases to keep for rollback",
    "api_host": "where the API listens (`gunicorn.conf.py`, `app.py`) and `apicalls.py` calls",
    "api_port": "the port the API listens on (`gunicorn.conf.py`, `app.py`) and `apicalls.py` calls",
    "pypi_timeout_s": "timeout in seconds of the dependency check's queries to the package index",
    "drift_test": f"model drift test: {', '.join(f'`{t}`' for t in DRIFT_TESTS)}",
    "drift_alpha": "false-alarm rate of the drift tests over a year "
                   "(each monthly test: `drift_alpha / tests_per_year`)",
    "drift_bootstrap_rounds": f"resamples of the bootstrap tests (at most {MAX_BOOTSTRAP_ROUNDS:,})",
    "drift_seed": "seed of the bootstrap tests, so a verdict can be reproduced",
    "call_capacity": "N: how many clients the team calls per round; precision and recall at N, "
                     "\"new to the top N\", the label-free precision-at-N estimate",
    "band_high_from": "lowest risk of the band high (the bands' lower bounds must rise, between 0 and 1)",
    "band_elevated_from": "lowest risk of the band elevated",
    "band_moderate_from": "lowest risk of the band moderate; below it: low",
    "redeploy_rule": "`challenger`: deploy only a significantly better challenger; "
                     "`drift`: the course's rule, retrain and redeploy on model drift",
    "training_window": "extracts a challenger is trained on (the most recent; restarted where a change was found)",
    "holdout_fraction": "share of clients (by id hash) held out of training: the challenger test's rows",
    "min_labelled_rows": "held-out fresh labelled rows needed before testing; fewer accumulate over extracts",
    "tests_per_year": "each monthly test runs at `drift_alpha` / this, so a year of same-law "
                      "extracts errs with odds ≈ `drift_alpha`",
    "challenger_measure": "what the challenger must do better: `list` (exits caught in the top `call_capacity` "
                          "of held-out rows, paired test), `auc`, or `f1` (the course's figure at 0.5)",
    "challenger_min_gain": "margin by which the challenger must beat the champion on `challenger_measure`, significantly",
    "api_token_file": "a file holding the API's bearer token, readable only by its owner (mode 600); "
                      "the server and `apicalls.py` read it when `RISK_API_TOKEN` is not set; "
                      "null: no file",
    "database_url": "SQLAlchemy URL without a password; a relative SQLite path is beside the config "
                    "file; empty: no database",
    "database_url_env": "name of an environment variable holding the URL",
    "database_url_file": "a file holding the URL, readable only by its owner (`chmod 600`)",
    "database_table": "table (or `schema.table`) with the contract's columns",
    "database_query": "instead of a table, a `SELECT` giving those columns",
    "database_order_column": "increasing id or load time; rows past the last handled value are new",
    "database_extract_folder": "where the rows read are kept as extract files",
    "dask_scheduler": "`local` (a LocalCluster) or a scheduler address: ingestion and batch scoring "
                      "on Dask; empty: pandas",
    "team_db_path": "the team's own records (SQLite): accounts, sessions, service tokens, owners, actions, "
                    "the holdout and the audit trail; kept apart from the run history",
    "client_info_file": "a CSV of `corporation`, `account_manager`, `annual_value`, `name`, `contact`, "
                        "`crm_url` (any may be empty): owners, contract values, names, whom to call and the "
                        "client's page in the CRM (shown only if http or https); null: none",
    "crm_link_template": "a CRM link for clients without a `crm_url`, e.g. "
                         "`https://crm.example.com/accounts/{corporation}`; http(s) only; empty: none",
    "manager_digest": "send each manager with an e-mail address (`users.py email`) a digest of their clients "
                      "who entered their top `manager_digest_top`, once per published list, through the SMTP "
                      "relay `notify_smtp_host`; a manager opts out with `users.py digest NAME off`",
    "manager_digest_top": "N of the digest: a manager's top N clients to call",
    "page_url": "the page's address as managers open it, e.g. `https://risk.example.com`, for links in the "
                "digest; empty: no links",
    "session_hours": "a signed-in session ends after this many hours",
    "login_max_failures": "wrong passwords in a row that lock an account",
    "login_lockout_minutes": "how long a locked account stays locked",
    "login_address_per_minute": "wrong sign-ins per minute from one address before it is refused (429)",
    "call_holdout_share": "share of the clients entering the top `call_capacity` held out of the to-call view, "
                          "to measure whether calling helps; 0: off",
    "call_holdout_seed": "seed of the holdout's hash, so who is held out can be reproduced",
    "database_lookback_rows": "rows at or below the watermark each tick reads again, keeping those not seen "
                              "before: ties, rows updated in place, late commits",
    "notify_webhook_url_env": "name of the environment variable holding the webhook URL for notices "
                              "(JSON, Slack-compatible); unset or empty: no webhook",
    "notify_smtp_host": "SMTP relay for e-mail notices; empty: no e-mail",
    "notify_smtp_port": "the SMTP relay's port",
    "notify_email_from": "sender of e-mail notices",
    "notify_email_to": "recipients of e-mail notices, comma-separated",
    "notify_timeout_s": "seconds a notice may take to send; a failed send is one warning line, never a failed run",
}

# LogisticRegression as the course specifies it, in scikit-learn >= 1.8 terms:
# l1_ratio=0.0 is the L2 penalty (`penalty` is deprecated, `multi_class` gone).
MODEL_DEFAULTS: dict[str, Any] = {
    "C": 1.0,
    "l1_ratio": 0.0,
    "class_weight": None,
    "dual": False,
    "fit_intercept": True,
    "intercept_scaling": 1,
    "max_iter": 100,
    "random_state": 0,
    "solver": "liblinear",
    "tol": 0.0001,
    "warm_start": False,
}
MODEL_PARAM_TYPES: dict[str, tuple[type, ...]] = {
    "C": (int, float),
    "l1_ratio": (int, float),
    "class_weight": (type(None), str, dict),
    "dual": (bool,),
    "fit_intercept": (bool,),
    "intercept_scaling": (int, float),
    "max_iter": (int,),
    "random_state": (type(None), int),
    "solver": (str,),
    "tol": (int, float),
    "warm_start": (bool,),
}


class ConfigError(StepError):
    """The config file is missing, unreadable or invalid."""


# A NamedTuple, not a dataclass: as immutable, and the cron tick that finds no
# new data doesn't pay ~5 ms for importing dataclasses (and inspect).
class Config(NamedTuple):
    path: Path
    input_folder_path: Path
    output_folder_path: Path
    test_data_path: Path
    output_model_path: Path
    prod_deployment_path: Path
    history_path: Path
    log_folder: Path
    # The optional keys, defaults in OPTIONAL_KEYS above (load() always sets every one).
    model_kind: str
    model_params: dict[str, Any]
    keep_deployments: int
    api_host: str
    api_port: int
    pypi_timeout_s: float
    drift_test: str
    drift_alpha: float
    drift_bootstrap_rounds: int
    drift_seed: int
    call_capacity: int
    band_high_from: float
    band_elevated_from: float
    band_moderate_from: float
    redeploy_rule: str
    training_window: int
    holdout_fraction: float
    min_labelled_rows: int
    tests_per_year: int
    challenger_min_gain: float
    challenger_measure: str
    api_token_file: Path | None
    database_url: str
    database_url_env: str
    database_url_file: str
    database_table: str
    database_query: str
    database_order_column: str
    database_extract_folder: Path
    database_lookback_rows: int
    notify_webhook_url_env: str
    notify_smtp_host: str
    notify_smtp_port: int
    notify_email_from: str
    notify_email_to: str
    notify_timeout_s: float
    dask_scheduler: str
    team_db_path: Path
    client_info_file: Path | None
    session_hours: float
    login_max_failures: int
    login_lockout_minutes: float
    login_address_per_minute: int
    call_holdout_share: float
    call_holdout_seed: int
    crm_link_template: str
    manager_digest: bool
    manager_digest_top: int
    page_url: str

    @property
    def monthly_alpha(self) -> float:
        """The level of each monthly test: drift_alpha a year, spread over tests_per_year tests."""
        return self.drift_alpha / self.tests_per_year

    @property
    def database_configured(self) -> bool:
        """Whether a database is a source besides the input folder (dbsource.py)."""
        return bool(self.database_url or self.database_url_env or self.database_url_file)

    @property
    def lock_path(self) -> Path:
        """The lock that keeps two fullprocess.py runs of this config from overlapping."""
        return self.history_path.with_suffix(".lock")

    @property
    def api_url(self) -> str:
        """Where the API answers, as configured (apicalls.py's default)."""
        return f"http://{self.api_host}:{self.api_port}"

    @property
    def finaldata_path(self) -> Path:
        return self.output_folder_path / artifacts.FINALDATA_FILE

    @property
    def records_path(self) -> Path:
        """Every accepted extract's rows, labelled or not (ingestion): the call list reads it."""
        return self.output_folder_path / artifacts.RECORDS_FILE

    @property
    def quality_reference_path(self) -> Path:
        """The quality gate's fixed reference: the bootstrap's or the one an operator confirmed."""
        return self.prod_deployment_path / artifacts.QUALITY_REFERENCE

    @property
    def ingestedfiles_path(self) -> Path:
        return self.output_folder_path / artifacts.INGESTED_FILES

    @property
    def ingestion_record_path(self) -> Path:
        return self.output_folder_path / artifacts.INGESTION_RECORD

    @property
    def model_path(self) -> Path:
        return self.output_model_path / artifacts.MODEL_FILE

    @property
    def score_path(self) -> Path:
        return self.output_model_path / artifacts.SCORE_FILE

    @property
    def outputs_stamp_path(self) -> Path:
        return self.output_model_path / artifacts.OUTPUTS_STAMP

    @property
    def test_data_file(self) -> Path:
        return self.test_data_path / artifacts.TESTDATA_FILE


def _check_type(key: str, value: Any, types: tuple[type, ...]) -> None:
    # bool is an int in Python; a config saying `"max_iter": true` is a mistake.
    if isinstance(value, bool) and bool not in types:
        ok = False
    else:
        ok = isinstance(value, types)
    if not ok:
        names = " or ".join("null" if t is type(None) else t.__name__ for t in types)
        raise ConfigError(f"key '{key}' must be {names}, got {json.dumps(value)}")


def _check_finite(key: str, value: Any) -> None:
    # json.loads reads NaN, Infinity and 1e999 as floats no check below can order.
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"key '{key}' must be a finite number, got {value}")
    if isinstance(value, dict):
        for k, v in value.items():
            _check_finite(f"{key}.{k}", v)
    elif isinstance(value, list):
        for v in value:
            _check_finite(key, v)


def _overlap(a: Path, b: Path) -> bool:
    """Whether folder `a` is `b` or lies inside it, or the other way round."""
    return a == b or a.is_relative_to(b) or b.is_relative_to(a)


def _check_folders(values: dict[str, Any]) -> None:
    """Reject folders that share files in ways that make silent nonsense.

    The input folder is read as "every CSV here": overlapping any output folder
    would ingest finaldata.csv or risk_ranking.csv, overlapping the test data
    would train on the test set. The deployment folder holds symlinks named like
    the model's files, which would replace them in a shared folder.
    """
    for key in PATH_KEYS[1:]:
        if _overlap(values["input_folder_path"], values[key]):
            raise ConfigError(
                f"key 'input_folder_path' must be a folder of its own, not the same as, "
                f"inside or around '{key}' ({values[key]})"
            )
    for key in PATH_KEYS[1:4]:
        if values["prod_deployment_path"] == values[key]:
            raise ConfigError(f"key 'prod_deployment_path' must not be the same folder as '{key}'")


def _model_params(raw: dict[str, Any]) -> dict[str, Any]:
    params = dict(MODEL_DEFAULTS)
    for key, value in raw.items():
        if key not in MODEL_PARAM_TYPES:
            raise ConfigError(
                f"unknown key 'model_params.{key}' (known: {', '.join(MODEL_PARAM_TYPES)})"
            )
        _check_type(f"model_params.{key}", value, MODEL_PARAM_TYPES[key])
        params[key] = value
    return params


def _check_database(values: dict[str, Any]) -> None:
    urls = [k for k in ("database_url", "database_url_env", "database_url_file") if values[k]]
    if len(urls) > 1:
        raise ConfigError(f"keys '{urls[0]}' and '{urls[1]}' both set; give the database URL once")
    if values["database_url"]:
        from urllib.parse import urlsplit  # only when a database is configured
        try:
            secret = urlsplit(values["database_url"]).password
        except ValueError:
            secret = None
        if secret:
            raise ConfigError("key 'database_url' holds a password; put the URL in the file named "
                              "by 'database_url_file' or the variable named by 'database_url_env'")
    sources = [k for k in ("database_table", "database_query") if values[k]]
    if urls and len(sources) != 1:
        raise ConfigError("a database source needs exactly one of 'database_table', 'database_query'")
    if urls and not values["database_order_column"]:
        raise ConfigError("a database source needs 'database_order_column' (an increasing id or time)")
    if not urls and (sources or values["database_order_column"]):
        raise ConfigError(f"key '{(sources or ['database_order_column'])[0]}' needs a database URL "
                          "('database_url', 'database_url_env' or 'database_url_file')")


def _check_team(values: dict[str, Any]) -> None:
    for key in ("session_hours", "login_max_failures", "login_lockout_minutes", "login_address_per_minute"):
        if values[key] <= 0:
            raise ConfigError(f"key '{key}' must be positive")
    if not 0 <= values["call_holdout_share"] < 1:
        raise ConfigError("key 'call_holdout_share' must be from 0 (off) up to below 1")
    template = values["crm_link_template"]
    if template and (not template.startswith(("http://", "https://")) or "{corporation}" not in template):
        raise ConfigError("key 'crm_link_template' must start with http:// or https:// and hold {corporation}")
    if values["manager_digest_top"] < 1:
        raise ConfigError("key 'manager_digest_top' must be at least 1")
    if values["page_url"] and not values["page_url"].startswith(("http://", "https://")):
        raise ConfigError("key 'page_url' must start with http:// or https://")


def load(path: str | Path | None = None) -> Config:
    """Read, validate and resolve the config file at `path` (default: config.json here)."""
    path = Path(path) if path is not None else DEFAULT_CONFIG
    path = path.expanduser().resolve()
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read config file: {exc}") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}: not valid JSON: {exc}") from None
    except RecursionError:
        raise ConfigError(f"{path}: not a config: JSON nested too deeply") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: must hold a JSON object of keys")
    try:
        for key, value in raw.items():
            _check_finite(key, value)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None

    unknown = sorted(set(raw) - set(PATH_KEYS) - set(OPTIONAL_KEYS))
    if unknown:
        raise ConfigError(f"{path}: unknown key '{unknown[0]}'")
    for key in PATH_KEYS:
        if key not in raw:
            raise ConfigError(f"{path}: missing key '{key}'")

    base = path.parent
    values: dict[str, Any] = {}
    try:
        for key in PATH_KEYS:
            _check_type(key, raw[key], (str,))
            if not raw[key].strip():
                raise ConfigError(f"key '{key}' must not be empty")
            values[key] = (base / raw[key]).resolve()
        for key, (types, default) in OPTIONAL_KEYS.items():
            value = raw.get(key, default)
            _check_type(key, value, types)
            if key in OPTIONAL_PATH_KEYS and value is not None:
                value = (base / value).resolve()
            values[key] = value
        values["model_params"] = _model_params(values["model_params"])
        if values["model_kind"] not in MODEL_KINDS:
            raise ConfigError(
                f"key 'model_kind' must be one of {', '.join(MODEL_KINDS)}, "
                f"got {json.dumps(values['model_kind'])}"
            )
        if values["keep_deployments"] < 1:
            raise ConfigError("key 'keep_deployments' must be at least 1")
        if not 0 < values["api_port"] < 65536:
            raise ConfigError("key 'api_port' must be a port number (1-65535)")
        if values["pypi_timeout_s"] <= 0:
            raise ConfigError("key 'pypi_timeout_s' must be positive")
        if values["drift_test"] not in DRIFT_TESTS:
            raise ConfigError(
                f"key 'drift_test' must be one of {', '.join(DRIFT_TESTS)}, "
                f"got {json.dumps(values['drift_test'])}"
            )
        if not 0 < values["drift_alpha"] < 1:
            raise ConfigError("key 'drift_alpha' must be between 0 and 1")
        if values["drift_bootstrap_rounds"] < 100:
            raise ConfigError("key 'drift_bootstrap_rounds' must be at least 100")
        if values["drift_bootstrap_rounds"] > MAX_BOOTSTRAP_ROUNDS:
            raise ConfigError(
                f"key 'drift_bootstrap_rounds' must be at most {MAX_BOOTSTRAP_ROUNDS:,}"
            )
        _check_folders(values)
        if values["call_capacity"] < 1:
            raise ConfigError("key 'call_capacity' must be at least 1")
        if not 0 < values["band_moderate_from"] < values["band_elevated_from"] < values["band_high_from"] < 1:
            raise ConfigError(
                "keys 'band_moderate_from' < 'band_elevated_from' < 'band_high_from' "
                "must rise, each between 0 and 1"
            )
        if values["redeploy_rule"] not in REDEPLOY_RULES:
            raise ConfigError(
                f"key 'redeploy_rule' must be one of {', '.join(REDEPLOY_RULES)}, "
                f"got {json.dumps(values['redeploy_rule'])}"
            )
        if values["challenger_measure"] not in CHALLENGER_MEASURES:
            raise ConfigError(
                f"key 'challenger_measure' must be one of {', '.join(CHALLENGER_MEASURES)}, "
                f"got {json.dumps(values['challenger_measure'])}")
        if values["training_window"] < 1:
            raise ConfigError("key 'training_window' must be at least 1 (extracts)")
        if not 0 < values["holdout_fraction"] < 1:
            raise ConfigError("key 'holdout_fraction' must be between 0 and 1")
        if values["notify_timeout_s"] <= 0:
            raise ConfigError("key 'notify_timeout_s' must be above 0")
        if values["database_lookback_rows"] < 0:
            raise ConfigError("key 'database_lookback_rows' must be 0 or more")
        if values["min_labelled_rows"] < 1:
            raise ConfigError("key 'min_labelled_rows' must be at least 1")
        if values["tests_per_year"] < 1:
            raise ConfigError("key 'tests_per_year' must be at least 1")
        if not 0 <= values["challenger_min_gain"] < 1:
            raise ConfigError("key 'challenger_min_gain' must be between 0 and 1")
        if isinstance(raw.get("api_token_file"), str) and not raw["api_token_file"].strip():
            raise ConfigError("key 'api_token_file' must not be empty (leave it out for no file)")
        _check_database(values)
        _check_team(values)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    return Config(path=path, **values)
