"""What reaches the Qoro Service through a client yet pickles without it: the client holds
the token and refuses to be pickled, so a pickle keeps where to reconnect instead."""

from __future__ import annotations

from typing import Any

from ..copies import SharingCopies
from .client import QoroClient
from .protocol import Dialect


class Reconnecting(SharingCopies):
    """Pickles without its client; the unpickled object keeps the API URL and the wire
    dialect, and makes a new client there, speaking that dialect, on first use, finding
    the token as a new client would (:mod:`qiskit_divi.accounts`).

    Copies made in this process (``copy.deepcopy``) share the client, token included.
    """

    _client: QoroClient | None
    _api_url: str
    _dialect: Dialect

    def _connect(self, client: QoroClient) -> None:
        """Reach the service through ``client``; a pickle keeps only its URL and dialect."""
        self._client = client
        self._api_url = client.api_url
        self._dialect = client.dialect

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_client": None}

    @property
    def client(self) -> QoroClient:
        """The client that reaches the service."""
        if self._client is None:
            self._client = QoroClient(api_url=self._api_url, dialect=self._dialect)
        return self._client
