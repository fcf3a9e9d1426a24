"""The systems a mocked Qoro Service lists for the provider tests."""

from __future__ import annotations

API = "https://qoro.example/api"
TOKEN = "prov-token-51d2-SECRET"
JOB_ID = "0f0e0d0c-0000-4000-8000-00000000abcd"

SIMULATOR_CLUSTERS = [
    {"name": "qoro_maestro", "access_level": "public", "minimum_tier": "", "supports_expval": True}
]
QPU_SYSTEMS = [
    {
        "name": "qpu_five",
        "access_level": "public",
        "qpus": [{"nickname": "a", "q_bits": 5, "status": "online", "system_kind": "ion"}],
    },
    {
        "name": "qpu_seven",
        "access_level": "public",
        "qpus": [{"nickname": "b", "q_bits": 7, "status": "offline", "system_kind": "ion"}],
    },
]
