"""Saved accounts and the one credential lookup: where the token and its URL come from,
that they always come from the same place, and that the token shows up nowhere."""

from __future__ import annotations

import json
import logging
import os
import pickle
import stat

import pytest
import requests_mock

from qiskit_divi import DiviProvider
from qiskit_divi.accounts import KEYRING_SERVICE, accounts_file, resolve
from qiskit_divi.exceptions import InsecureURLError, InvalidInputError, MissingCredentialsError
from qiskit_divi.qoro.client import QoroClient
from qiskit_divi.qoro.protocol import DEFAULT_API_URL

TOKEN = "s3cret-token-value"
URL = "https://saved.test/api"

pytestmark = pytest.mark.usefixtures("clean_cwd")


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def sent_with(client: QoroClient) -> tuple[str, str]:
    """The URL a request went to and the Authorization header it carried."""
    with requests_mock.Mocker() as http:
        http.get(client.api_url, json={})
        client.ping()
        return http.last_request.url.rstrip("/"), http.last_request.headers["Authorization"]


# -- round trips --------------------------------------------------------------------------


def test_an_account_round_trips_through_the_keyring(memory_keyring):
    where = DiviProvider.save_account(TOKEN, url=URL)

    assert "keyring" in where
    stored = json.loads(memory_keyring.passwords[(KEYRING_SERVICE, "default")])
    assert stored == {"token": TOKEN, "url": URL}
    assert TOKEN not in accounts_file().read_text()  # the file lists names and URLs only
    assert DiviProvider.saved_accounts() == {"default": URL}
    assert sent_with(QoroClient()) == (URL, f"Bearer {TOKEN}")

    assert DiviProvider.delete_account() is True
    assert memory_keyring.passwords == {} and DiviProvider.saved_accounts() == {}
    with pytest.raises(MissingCredentialsError):
        QoroClient()
    assert DiviProvider.delete_account() is False


def test_without_a_keyring_the_token_goes_to_a_file_only_its_owner_reads():
    previous = os.umask(0)  # even a permissive umask must not open the file up
    try:
        where = DiviProvider.save_account(TOKEN, name="work", url=URL)
    finally:
        os.umask(previous)

    path = accounts_file()
    assert where == str(path)
    assert mode(path) == 0o600 and mode(path.parent) == 0o700
    assert json.loads(path.read_text())["work"] == {"url": URL, "store": "file", "token": TOKEN}
    assert sent_with(QoroClient(account="work")) == (URL, f"Bearer {TOKEN}")
    assert [p.name for p in path.parent.iterdir()] == ["accounts.json"]  # no stray temp file


def test_a_token_file_others_can_read_is_refused():
    DiviProvider.save_account(TOKEN)
    accounts_file().chmod(0o644)

    with pytest.raises(MissingCredentialsError, match="chmod 600") as info:
        QoroClient()
    assert TOKEN not in str(info.value)


def test_a_keyring_that_refuses_the_token_falls_back_to_the_file(memory_keyring, monkeypatch):
    def refuse(*args):
        raise RuntimeError("locked")

    monkeypatch.setattr(memory_keyring, "set_password", refuse)
    assert DiviProvider.save_account(TOKEN) == str(accounts_file())
    assert sent_with(QoroClient()) == (DEFAULT_API_URL, f"Bearer {TOKEN}")


def test_overwriting_needs_to_be_asked_for(memory_keyring):
    DiviProvider.save_account(TOKEN, url=URL)
    with pytest.raises(InvalidInputError, match="overwrite") as info:
        DiviProvider.save_account("other-token")
    assert TOKEN not in str(info.value)

    DiviProvider.save_account("other-token", overwrite=True)
    assert DiviProvider.saved_accounts() == {"default": DEFAULT_API_URL}
    assert sent_with(QoroClient()) == (DEFAULT_API_URL, "Bearer other-token")


@pytest.mark.parametrize(
    ("token", "name", "url", "error"),
    [
        ("has space", "default", None, InvalidInputError),
        ("", "default", None, InvalidInputError),
        (TOKEN, "", None, InvalidInputError),
        (TOKEN, "a/b", None, InvalidInputError),
        (TOKEN, "default", "ftp://x.test", InvalidInputError),
        (TOKEN, "default", "http://remote.test/api", InsecureURLError),
    ],
)
def test_bad_accounts_are_refused_before_anything_is_stored(token, name, url, error):
    with pytest.raises(error):
        DiviProvider.save_account(token, name=name, url=url)
    assert not accounts_file().exists()


def test_the_url_comes_from_the_keyring_entry_not_the_editable_list(memory_keyring):
    DiviProvider.save_account(TOKEN, url=URL)
    path = accounts_file()
    path.write_text(json.dumps({"default": {"url": "https://evil.test/api", "store": "keyring"}}))

    assert sent_with(QoroClient()) == (URL, f"Bearer {TOKEN}")


# -- the order of the places --------------------------------------------------------------


def test_the_lookup_order_is_argument_environment_dotenv_saved_account(
    memory_keyring, clean_cwd, monkeypatch
):
    DiviProvider.save_account("saved-token", url="https://saved.test/api")
    assert (resolve().token, resolve().url) == ("saved-token", "https://saved.test/api")

    (clean_cwd / ".env").write_text("QORO_API_KEY=dotenv-token\nQORO_API_URL=https://d.test\n")
    assert (resolve().token, resolve().url) == ("dotenv-token", "https://d.test")

    monkeypatch.setenv("QORO_API_KEY", "env-token")
    assert (resolve().token, resolve().url) == ("env-token", DEFAULT_API_URL)
    monkeypatch.setenv("QORO_API_URL", "https://env.test/api")
    assert (resolve().token, resolve().url) == ("env-token", "https://env.test/api")

    assert (resolve("arg-token").token, resolve("arg-token").url) == ("arg-token", DEFAULT_API_URL)
    assert resolve(account="default").token == "saved-token"
    # An api_url argument is the calling code's choice: it goes with any token found.
    assert resolve(api_url="https://arg.test/api").url == "https://arg.test/api"


def test_a_named_account_must_exist_and_excludes_a_token_argument(memory_keyring):
    DiviProvider.save_account(TOKEN, name="work")
    with pytest.raises(MissingCredentialsError, match=r"'play'.*'work'"):
        DiviProvider(account="play")
    with pytest.raises(TypeError, match="not both"):
        QoroClient("t", account="work")
    assert DiviProvider(account="work").get_backend("parallel_simulator") is not None


def test_a_dotenv_in_a_parent_folder_is_never_read(clean_cwd, monkeypatch):
    (clean_cwd.parent / ".env").write_text(
        "QORO_API_KEY=planted\nQORO_API_URL=https://evil.test\n"
    )
    with pytest.raises(MissingCredentialsError):
        QoroClient()

    inner = clean_cwd / "deeper"
    inner.mkdir()
    monkeypatch.chdir(inner)
    (clean_cwd / ".env").write_text("QORO_API_URL=https://evil.test\n")
    monkeypatch.setenv("QORO_API_KEY", TOKEN)
    assert sent_with(QoroClient()) == (DEFAULT_API_URL, f"Bearer {TOKEN}")


def test_a_url_without_its_token_is_ignored_with_a_warning(clean_cwd, monkeypatch, caplog):
    """Issue 14.10: a planted ``.env`` with only a URL must not receive the real token."""
    (clean_cwd / ".env").write_text("QORO_API_URL=https://evil.test/api\n")
    DiviProvider.save_account(TOKEN, url=URL)

    with caplog.at_level(logging.WARNING, logger="qiskit_divi"):
        assert sent_with(QoroClient()) == (URL, f"Bearer {TOKEN}")
    assert "ignored" in caplog.text and str(clean_cwd / ".env") in caplog.text


# -- the token shows up nowhere -----------------------------------------------------------


def test_the_token_is_in_no_repr_log_or_error(memory_keyring, caplog):
    with caplog.at_level(logging.DEBUG):
        DiviProvider.save_account(TOKEN, url=URL)
        credentials = resolve()
        provider = DiviProvider()
        client = QoroClient()
        sent_with(client)
    texts = [
        repr(credentials),
        str(credentials),
        repr(provider),
        repr(client),
        repr(DiviProvider.saved_accounts()),
        caplog.text,
    ]
    assert all(TOKEN not in text for text in texts)
    with pytest.raises(TypeError, match="pickled"):
        pickle.dumps(credentials)
    with pytest.raises(InvalidInputError) as info:
        DiviProvider.save_account(TOKEN + " x", name="other")
    assert TOKEN not in str(info.value)
