"""Where the privacy ledger is: a SQLite file or a PostgreSQL URL, and how to show a URL.

``--ledger-url`` beats ``--ledger`` beats ``[ledger] url`` beats ``[ledger] path`` beats
``$PRIVGATE_LEDGER_URL`` beats ``$PRIVGATE_LEDGER`` beats the default file under the user's
data directory. A URL's password is never shown: :func:`redact_url` is what messages, results
and reports print.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from privgate.errors import N_, InputError

#: Environment variable naming the ledger file (below --ledger and [ledger] path).
ENV_VAR = "PRIVGATE_LEDGER"
#: Environment variable naming a PostgreSQL ledger (below --ledger-url and [ledger] url).
URL_ENV_VAR = "PRIVGATE_LEDGER_URL"


def default_path() -> Path:
    """``<user data dir>/privgate/ledger.sqlite`` (platformdirs)."""
    import platformdirs

    return Path(platformdirs.user_data_dir("privgate", appauthor=False)) / "ledger.sqlite"


def is_url(location: str | Path | None) -> bool:
    """Whether ``location`` names a PostgreSQL ledger (``postgresql://`` or ``postgres://``)."""
    return isinstance(location, str) and location.split("://", 1)[0].lower() in (
        "postgresql", "postgres")


def redact_url(url: str) -> str:
    """``url`` without its password (user name, host, database and options kept), safe to
    print and to write into results and reports."""
    try:
        parts = urlsplit(url)
        netloc = parts.netloc.rpartition("@")
        host = netloc[2]
        if netloc[1]:
            user = netloc[0].split(":", 1)[0]
            host = f"{user}@{host}" if user else host
        query = urlencode([(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
                           if k.lower() != "password"], quote_via=quote, safe="=-/")
        return urlunsplit((parts.scheme, host, parts.path, query, ""))
    except ValueError:
        return "postgresql://(unparsable URL)"


def resolve_location(cli: str | Path | None = None, config: str | Path | None = None, *,
                     cli_url: str | None = None, config_url: str | None = None
                     ) -> str | Path:
    """Where the ledger is: ``--ledger-url`` beats ``--ledger`` beats ``[ledger] url`` beats
    ``[ledger] path`` (resolved against the config file's folder) beats
    ``$PRIVGATE_LEDGER_URL`` beats ``$PRIVGATE_LEDGER`` beats the default file under the
    user's data directory. A URL is returned as ``str``, a file as :class:`Path`."""
    for url, path in ((cli_url, cli), (config_url, config),
                      (os.environ.get(URL_ENV_VAR) or None, os.environ.get(ENV_VAR) or None)):
        if url:
            if not is_url(url):
                raise InputError(N_("%(url)s: a ledger URL must start with postgresql:// "
                                    "(a file goes to --ledger / [ledger] path)"),
                                 url=redact_url(url))
            return url
        if path is not None:
            return Path(path).expanduser()
    return default_path()


def resolve_path(cli: str | Path | None = None, config: str | Path | None = None) -> Path:
    """The ledger file when no URL is involved: ``--ledger`` beats ``[ledger] path`` beats
    ``$PRIVGATE_LEDGER`` beats the default under the user's data directory."""
    for value in (cli, config, os.environ.get(ENV_VAR) or None):
        if value is not None:
            return Path(value).expanduser()
    return default_path()
