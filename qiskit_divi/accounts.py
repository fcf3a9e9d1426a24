"""Where a Qoro API token, and the URL it is sent to, come from: one lookup for every client.

The first of these places that holds a token gives the token **and its URL**; a URL is
never taken from a place other than its token's:

1. the arguments: ``auth_token`` (sent to the public service unless ``api_url`` is
   given too), or ``account="NAME"`` for that saved account;
2. the environment: ``QORO_API_KEY`` with ``QORO_API_URL``;
3. a ``.env`` file in the working directory (never one in a parent folder):
   ``QORO_API_KEY`` with ``QORO_API_URL``;
4. the saved account ``"default"``.

A place without a URL means the public service. An ``api_url`` argument, being chosen by
the calling code, is used with whichever token is found. A place that sets a URL without
a token is ignored, with a logged warning.

Saved accounts (``qiskit-divi login`` or :func:`save_account`) keep their token in the
OS keyring where one is usable, else in the accounts file, which is created readable by
its owner only (0600). The accounts file (``QISKIT_DIVI_ACCOUNTS``, else
``accounts.json`` in the user's config directory) lists names and URLs; a keyring entry
holds its token together with its URL. No token is ever logged, printed or put in a
``repr`` or an error message.
"""

from __future__ import annotations

import json
import logging
import os
import re
import stat
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import urlsplit

import platformdirs
from dotenv import dotenv_values

from .exceptions import InsecureURLError, InvalidInputError, MissingCredentialsError
from .qoro.protocol import API_KEY_ENV, API_URL_ENV, DEFAULT_API_URL, is_loopback

log = logging.getLogger(__name__)

#: The environment variable naming the accounts file (tests and unusual set-ups).
ACCOUNTS_ENV = "QISKIT_DIVI_ACCOUNTS"
#: The account ``qiskit-divi login`` saves and a client uses when no other place has a token.
DEFAULT_ACCOUNT = "default"
#: The keyring service name accounts are stored under (one entry per account name).
KEYRING_SERVICE = "qiskit-divi"

_TOKEN = re.compile(r"[\x21-\x7e]+")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@-]*")


@dataclass(frozen=True)
class Credentials:
    """A token, the URL it may be sent to, and where they were found (for messages)."""

    token: str = field(repr=False)
    url: str
    source: str

    def __reduce__(self) -> NoReturn:
        raise TypeError("credentials hold an API token and cannot be pickled")


def resolve(
    auth_token: str | None = None, api_url: str | None = None, *, account: str | None = None
) -> Credentials:
    """The token and URL a client uses, looked up in the documented order.

    Raises:
        MissingCredentialsError: no place holds a token (or the named account is not saved).
        InvalidInputError: the token has spaces or control characters, or the URL is not
            an http(s) URL.
        InsecureURLError: plain ``http`` to a host that is not loopback.
    """
    if auth_token is not None and not isinstance(auth_token, str):
        raise TypeError(f"auth_token must be a string, got {type(auth_token).__name__}")
    if auth_token is not None and account is not None:
        raise TypeError("pass auth_token or account, not both")
    without_token: list[_Place] = []
    for place in _places(auth_token, account):
        if place.token:
            for ignored in without_token:
                log.warning(
                    "%s sets %s but no %s: that URL is ignored, since a token is only "
                    "sent to the URL found with it (here: %s)",
                    ignored.source,
                    API_URL_ENV,
                    API_KEY_ENV,
                    place.source,
                )
            url = api_url if api_url is not None else place.url or DEFAULT_API_URL
            return Credentials(
                _checked_token(place.token, place.source), checked_url(url), place.source
            )
        if place.url:
            without_token.append(place)
    raise MissingCredentialsError(
        f"no Qoro API token: pass auth_token=..., set the {API_KEY_ENV} environment "
        f"variable, add {API_KEY_ENV}=... to a .env file in the working directory, or save "
        "an account with `qiskit-divi login`"
    )


def save_account(
    token: str, *, name: str = DEFAULT_ACCOUNT, url: str | None = None, overwrite: bool = False
) -> str:
    """Save ``token`` with the URL it is for (the public service by default) as ``name``.

    The token goes to the OS keyring when one is usable, else into the accounts file
    (mode 0600). Returns where it went, for a message.

    Raises:
        InvalidInputError: a bad token, name or URL, or ``name`` is saved already and
            ``overwrite`` is false.
    """
    name = _checked_name(name)
    token = _checked_token(token, "the token given")
    url = checked_url(DEFAULT_API_URL if url is None else url)
    accounts = _read_accounts()
    if name in accounts and not overwrite:
        raise InvalidInputError(
            f"an account {name!r} is saved already (for {accounts[name].get('url')}); "
            "overwrite it explicitly (overwrite=True, or `qiskit-divi login --overwrite`)"
        )
    previous = accounts.get(name, {})
    entry: dict[str, Any] = {"url": url, "store": "file", "token": token}
    where = str(accounts_file())
    ring = _keyring()
    if ring is not None:
        try:
            ring.set_password(KEYRING_SERVICE, name, json.dumps({"token": token, "url": url}))
        except Exception as err:  # any keyring backend failure: fall back to the file
            log.warning("the OS keyring did not take the token (%s); using %s", err, where)
        else:
            entry, where = {"url": url, "store": "keyring"}, f"the OS keyring ({ring.name})"
    if previous.get("store") == "keyring" and entry["store"] == "file":
        _forget_in_keyring(name)
    accounts[name] = entry
    _write_accounts(accounts)
    return where


def delete_account(name: str = DEFAULT_ACCOUNT) -> bool:
    """Forget the saved account ``name`` (and its keyring entry); whether it existed."""
    accounts = _read_accounts()
    entry = accounts.pop(name, None)
    if entry is None:
        return False
    if entry.get("store") == "keyring":
        _forget_in_keyring(name)
    _write_accounts(accounts)
    return True


def saved_accounts() -> dict[str, str]:
    """The saved accounts' names and URLs (never their tokens)."""
    return {name: str(entry.get("url")) for name, entry in _read_accounts().items()}


def accounts_file() -> Path:
    """The accounts file: ``QISKIT_DIVI_ACCOUNTS``, else in the user's config directory."""
    named = os.environ.get(ACCOUNTS_ENV)
    if named:
        return Path(named)
    return platformdirs.user_config_path("qiskit-divi") / "accounts.json"


def checked_url(url: str) -> str:
    """``url`` without its trailing slash, if the token may be sent there.

    Raises:
        InvalidInputError: not an http(s) URL.
        InsecureURLError: plain ``http`` to a host that is not loopback.
    """
    if not isinstance(url, str):
        raise TypeError(f"the Qoro API URL must be a string, got {type(url).__name__}")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInputError(f"the Qoro API URL {url!r} is not an http(s) URL")
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise InsecureURLError(
            f"refusing plain http to {parts.hostname!r}: use https (http is only "
            "allowed for loopback hosts)"
        )
    return url.rstrip("/")


# -- the places, in order -----------------------------------------------------------------


@dataclass(frozen=True)
class _Place:
    token: str | None = field(repr=False)
    url: str | None
    source: str


def _places(auth_token: str | None, account: str | None) -> Iterator[_Place]:
    """Each place that may hold credentials, in order, read only when reached."""
    if auth_token is not None:
        yield _Place(auth_token, None, "the auth_token argument")
        return
    if account is not None:
        yield _saved(account, required=True)
        return
    env = os.environ
    yield _Place(env.get(API_KEY_ENV) or None, env.get(API_URL_ENV) or None, "the environment")
    dotenv = Path.cwd() / ".env"
    if dotenv.is_file():
        values = dotenv_values(dotenv)
        yield _Place(values.get(API_KEY_ENV) or None, values.get(API_URL_ENV) or None, str(dotenv))
    yield _saved(DEFAULT_ACCOUNT, required=False)


def _saved(name: str, *, required: bool) -> _Place:
    source = f"the saved account {name!r}"
    entry = _read_accounts().get(name)
    if entry is None:
        if required:
            saved = ", ".join(map(repr, saved_accounts())) or "none"
            raise MissingCredentialsError(f"no saved account {name!r} (saved: {saved})")
        return _Place(None, None, source)
    if entry.get("store") == "keyring":
        stored = _read_keyring(name)
        return _Place(stored.get("token"), stored.get("url"), f"{source} (OS keyring)")
    _check_private(accounts_file())
    return _Place(entry.get("token"), entry.get("url"), source)


# -- storage ------------------------------------------------------------------------------


def _read_accounts() -> dict[str, dict[str, Any]]:
    path = accounts_file()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as err:
        raise MissingCredentialsError(f"cannot read the saved accounts in {path}: {err}") from None
    if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
        raise MissingCredentialsError(f"{path} is not a qiskit-divi accounts file")
    return data


def _write_accounts(accounts: dict[str, dict[str, Any]]) -> None:
    """Replace the accounts file at once with a new file only its owner can read."""
    path = accounts_file()
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=".accounts-")  # 0600
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:
            json.dump(accounts, file, indent=2, sort_keys=True)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _check_private(path: Path) -> None:
    """Refuse tokens from an accounts file that other users can read or write."""
    if os.name != "posix":
        return
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise MissingCredentialsError(
            f"{path} is open to other users (mode {mode:o}); its tokens are not used until "
            f"only you can read it: chmod 600 {path}"
        )


def _keyring() -> Any:
    """The OS keyring, if one is usable here (``keyring`` reports a positive priority)."""
    import keyring

    ring = keyring.get_keyring()
    return ring if ring.priority > 0 else None


def _read_keyring(name: str) -> dict[str, Any]:
    ring = _keyring()
    failure = "no usable keyring here"
    if ring is not None:
        try:
            stored = ring.get_password(KEYRING_SERVICE, name)
            data = json.loads(stored) if stored else None
            if isinstance(data, dict):
                return data
            failure = "the keyring has no entry for it"
        except Exception as err:  # any keyring backend failure
            failure = f"the keyring failed: {type(err).__name__}"
    raise MissingCredentialsError(
        f"the saved account {name!r} is in the OS keyring, which cannot give it ({failure}); "
        "save it again with `qiskit-divi login --overwrite`"
    )


def _forget_in_keyring(name: str) -> None:
    ring = _keyring()
    if ring is None:
        return
    try:
        ring.delete_password(KEYRING_SERVICE, name)
    except Exception as err:  # gone already, or a backend failure: nothing left to leak
        log.debug("keyring entry %r not deleted: %s", name, type(err).__name__)


def _checked_token(token: object, source: str) -> str:
    if not isinstance(token, str) or not _TOKEN.fullmatch(token):
        raise InvalidInputError(
            f"the Qoro API token from {source} is empty or contains spaces or control characters"
        )
    return token


def _checked_name(name: object) -> str:
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise InvalidInputError(
            f"an account name is letters, digits and '_.@-' (not first), got {name!r}"
        )
    return name
