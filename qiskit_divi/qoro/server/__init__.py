"""A local server that speaks the Qoro Service protocol and runs jobs on our own engine.

Needs the ``server`` extra (``pip install qiskit-divi[server]``). Run it with
``qiskit-divi serve`` or, in-process, ``with LocalServer() as server: ...``.
"""

from .app import API_ROOT, create_app
from .config import DEFAULT_SYSTEMS, TOKENS_ENV, SystemConfig
from .faults import Fault, FaultPlan
from .local import LocalServer

__all__ = [
    "API_ROOT",
    "DEFAULT_SYSTEMS",
    "TOKENS_ENV",
    "Fault",
    "FaultPlan",
    "LocalServer",
    "SystemConfig",
    "create_app",
]
