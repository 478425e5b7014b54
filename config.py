"""Configuration classes; every value can be overridden by an environment variable of the same name."""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent
DEV_SECRET_KEY = "dev-only-secret-key-change-me"  # noqa: S105 - refused in production


def _coerce(raw: str, default: object) -> object:
    if isinstance(default, bool):
        return raw.strip().lower() in {"1", "true", "yes", "on"}
    if isinstance(default, int):
        return int(raw)
    return raw


class Config:
    """Defaults for a developer's machine: SQLite file, in-process rate-limit storage."""

    ENV_NAME = "development"
    SECRET_KEY = DEV_SECRET_KEY
    SQLALCHEMY_DATABASE_URI = f"sqlite:///{PROJECT_ROOT / 'instance' / 'portal.db'}"
    SQLALCHEMY_ENGINE_OPTIONS: dict[str, object] = {}
    SQLITE_BUSY_TIMEOUT_MS = 15000

    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = False
    SESSION_COOKIE_NAME = "portal_session"
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_SECURE = False

    WTF_CSRF_ENABLED = True
    WTF_CSRF_TIME_LIMIT = 8 * 3600
    MAX_CONTENT_LENGTH = 25 * 1024 * 1024

    BABEL_DEFAULT_LOCALE = "en"
    BABEL_DEFAULT_TIMEZONE = "UTC"
    BABEL_TRANSLATION_DIRECTORIES = str(PROJECT_ROOT / "translations")
    SUPPORTED_LOCALES = ("en", "zh_Hans")
    COMPANY_TIMEZONE = "Asia/Shanghai"
    DEFAULT_CURRENCY = "CNY"

    RATELIMIT_ENABLED = True
    RATELIMIT_STORAGE_URI = "memory://"
    RATELIMIT_HEADERS_ENABLED = False
    # Failed logins (portal/accounts/devices.py). From one address, whatever the account:
    LOGIN_LIMIT_PER_ADDRESS = "30 per 10 minutes"
    # For one account from one client (its known device, or else its address): this blocks, but only that client.
    LOGIN_LIMIT_PER_ACCOUNT_AND_CLIENT = "8 per 10 minutes"
    # For one account from all unknown browsers together: a short window, so it slows guessing down (each guess
    # waits its turn) without locking the owner out; the account's known devices are not counted or held.
    LOGIN_LIMIT_PER_ACCOUNT = "10 per 5 minutes"
    # After this many failed logins in an hour the account's owner is told by email (once an hour at most).
    LOGIN_WARNING_AFTER = 10
    # How long a browser that logged in stays a known device of the account.
    DEVICE_COOKIE_DAYS = 180
    # Wrong second-factor codes per account: a million codes cannot be tried through this.
    TWO_FACTOR_LIMIT_PER_ACCOUNT = "6 per 10 minutes"
    # Wrong passwords or codes given as proof before a change to an account's security (portal.accounts.proof).
    PROOF_LIMIT_PER_ACCOUNT = "6 per 10 minutes"
    # Between the password and the code: after this the password must be given again.
    TWO_FACTOR_PENDING_MINUTES = 5
    # The name authenticator apps show beside the code.
    TWO_FACTOR_ISSUER = "Dealer Partner Portal"

    # Reverse proxies in front of gunicorn whose X-Forwarded-For and -Proto are trusted (0: none, served directly).
    PROXY_COUNT = 0
    # Strict-Transport-Security on every HTTPS answer (a year); 0 leaves it to the proxy in front.
    HSTS_MAX_AGE = 31536000

    # Sessions end after this long without activity (polling the notification bell does not count).
    IDLE_TIMEOUT_MINUTES = 60
    # And after this long whatever the activity: a login lasts a working day at most.
    SESSION_LIFETIME_HOURS = 12

    # Email: links in messages point here; SMTP delivers the outbox.
    PORTAL_BASE_URL = "http://127.0.0.1:5000"
    MAIL_FROM = "Dealer Partner Portal <portal@localhost>"
    MAIL_MESSAGE_ID_DOMAIN = "portal.localhost"
    MAIL_SMTP_HOST = "127.0.0.1"
    MAIL_SMTP_PORT = 1025
    MAIL_SMTP_USERNAME = ""
    MAIL_SMTP_PASSWORD = ""
    MAIL_SMTP_STARTTLS = False
    MAIL_SMTP_TIMEOUT_SECONDS = 20
    MAIL_BATCH_SIZE = 50
    MAIL_MAX_ATTEMPTS = 12
    MAIL_CLAIM_LEASE_SECONDS = 600

    # Evidence files: a folder outside static/ by default; "s3" for several servers.
    EVIDENCE_STORAGE = "local"
    EVIDENCE_LOCAL_ROOT = str(PROJECT_ROOT / "instance" / "evidence")
    EVIDENCE_S3_BUCKET = "portal-evidence"
    EVIDENCE_S3_ENDPOINT_URL = ""
    EVIDENCE_S3_REGION = "us-east-1"
    EVIDENCE_S3_ACCESS_KEY = ""
    EVIDENCE_S3_SECRET_KEY = ""
    EVIDENCE_MAX_FILE_BYTES = 10 * 1024 * 1024
    EVIDENCE_MAX_PIXELS = 40_000_000
    EVIDENCE_MAX_FILES_PER_OBJECT = 20

    # A period closes no earlier than this many days after its end, so sales recorded late still count in it.
    PERIOD_CLOSE_GRACE_DAYS = 10

    # Promotion claims: days after an activity to claim it.
    CLAIM_WINDOW_DAYS = 60
    # Claims of one dealer to one vendor submitted within this many days are added up against the second-approval
    # threshold (split claims); claims against one budget submitted within the shorter span against its half.
    CLAIM_SPLIT_DAYS = 30
    CLAIM_RUSH_DAYS = 7
    # Review limits per currency, in that currency's minor units: (a second person approves above this, bulk
    # approval takes unflagged claims up to this). A claim in a currency not listed always needs the second approval
    # and is never approved in bulk: a limit written in yuan means nothing for yen. Set others in the instance's
    # config before dealers in those currencies claim.
    CLAIM_LIMITS = {
        "CNY": (2_000_000, 500_000),
        "HKD": (2_200_000, 550_000),
        "USD": (280_000, 70_000),
    }

    # Violations may be appealed this many days after confirmation; a dispute is due this many days after it opens.
    VIOLATION_APPEAL_DAYS = 14
    DISPUTE_RESPONSE_DAYS = 10
    # The referee's detection: a price below the floor by no more than this tolerance (hundredths of a percent of
    # the floor) is not suspected; a suspicion with less money at stake (minor units) is kept but not queued.
    REFEREE_FLOOR_TOLERANCE_BP = 0
    REFEREE_MIN_STAKE = 10_000
    # The penalty schedule per rule, in the dealer's currency's minor units: the first offence a warning (0), then
    # the amounts in turn, the last repeating; only offences confirmed in the last REFEREE_RECORD_MONTHS count, so
    # a dealer's record resets after that long without one. The recorder may propose another amount, with a reason.
    REFEREE_PENALTIES = {
        "below_floor": (0, 500_000, 2_000_000),
        "outside_territory": (0, 1_000_000, 5_000_000),
    }
    REFEREE_RECORD_MONTHS = 12
    EVIDENCE_MAX_BYTES_PER_OBJECT = 50 * 1024 * 1024
    EVIDENCE_ORPHAN_AGE_HOURS = 24

    # Background jobs (huey): a SQLite file by default, Redis when HUEY_REDIS_URL is set.
    HUEY_REDIS_URL = ""
    HUEY_SQLITE_PATH = str(PROJECT_ROOT / "instance" / "huey.db")
    HUEY_IMMEDIATE = False

    # Sales files uploaded through the web (MAX_CONTENT_LENGTH bounds the request too); the CLI has no limit.
    SALES_IMPORT_MAX_BYTES = 20 * 1024 * 1024

    PASSWORD_MIN_LENGTH = 12
    PASSWORD_RESET_MAX_AGE_SECONDS = 3600
    INVITATION_MAX_AGE_SECONDS = 7 * 24 * 3600
    EMAIL_CHANGE_MAX_AGE_SECONDS = 24 * 3600
    FORGOT_LIMIT_PER_ADDRESS = "10 per hour"
    FORGOT_LIMIT_PER_ACCOUNT = "3 per hour"
    PASSWORD_HASH_METHOD = "scrypt"  # noqa: S105 - a hashing method, not a password; Werkzeug's scrypt, n=2**15, r=8, p=1
    PAGE_SIZE = 25

    # Rendered pages a worker keeps in memory until anything is written (portal/page_cache.py); 0 entries: off.
    PAGE_CACHE_ENTRIES = 2000
    PAGE_CACHE_SECONDS = 60

    @classmethod
    def as_mapping(cls) -> dict[str, object]:
        """Class attributes, each replaced by the environment variable of the same name when set."""
        values = {key: getattr(cls, key) for key in dir(cls) if key.isupper()}
        for key, default in values.items():
            if key in os.environ and not isinstance(default, dict | tuple):
                values[key] = _coerce(os.environ[key], default)
        if "DATABASE_URL" in os.environ:
            values["SQLALCHEMY_DATABASE_URI"] = normalise_database_url(os.environ["DATABASE_URL"])
        return values


class DevelopmentConfig(Config):
    pass


class TestConfig(Config):
    ENV_NAME = "test"
    TESTING = True
    SECRET_KEY = "test-secret-key"  # noqa: S105
    RATELIMIT_ENABLED = False
    SQLITE_BUSY_TIMEOUT_MS = 30000
    WTF_CSRF_ENABLED = False  # switched on by the tests of CSRF itself (tests/test_csrf.py)
    PASSWORD_HASH_METHOD = "scrypt:1024:8:1"  # noqa: S105 - cheap hashes keep the suite fast; production keeps the default
    PAGE_CACHE_ENTRIES = 0  # on only in the tests of the cache (tests/test_page_cache.py)


class ProductionConfig(Config):
    ENV_NAME = "production"
    SECRET_KEY = DEV_SECRET_KEY  # must come from the environment; create_app refuses this one
    SESSION_COOKIE_SECURE = True
    REMEMBER_COOKIE_SECURE = True
    PREFERRED_URL_SCHEME = "https"


CONFIGS: dict[str, type[Config]] = {
    "development": DevelopmentConfig,
    "test": TestConfig,
    "production": ProductionConfig,
}


def normalise_database_url(url: str) -> str:
    """Accept the common postgres:// spellings and route them to psycopg 3."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url
