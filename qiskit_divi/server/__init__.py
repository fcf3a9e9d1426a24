"""A local server that speaks the Qoro Service protocol and runs jobs on our own engine.

Needs the ``server`` extra (``pip install 'qiskit-divi[server]'``). Run it from a shell::

    QORO_SERVER_TOKENS=my-token qiskit-divi serve --port 8080 --db jobs.sqlite3

or in-process, for tests and notebooks::

    with LocalServer(tokens=("my-token",)) as server:
        service = QoroService(auth_token=server.token, api_url=server.url)

**What it serves.** Every endpoint of the protocol under ``/api``, in both wire dialects
at once (each job read in the form its client sends): the ping, ``qpusystem/`` and
``simulatorcluster/``, ``job/init/`` (the target named by ``qpu_system_name`` or
``simulator_cluster``, with run settings kept for ``execution_config/``), chunked
``add_circuits/`` (shots, ``shot_groups``, plain or ``@gzs`` observable groups with a
``circuit_ham_map``, parametric templates), ``status/`` (SCHEDULED while a 2026 job
waits), ``resultsV2/`` (``limit``/``offset`` pages with a ``next`` URL), ``cancel/``,
``DELETE``, and with ``credits=`` (``--credits N``) a credit ledger behind ``credits/``
and ``credits/transactions/``. By default it offers
:data:`DEFAULT_SYSTEMS`: the noiseless simulator cluster ``qoro_maestro`` and the noisy
5-qubit QPU ``fake_manila``.

**How jobs run.** A job runs once its ``finalized: "true"`` chunk arrives, in one of
``workers`` worker processes through :class:`~qiskit_divi.simulator.SimulationEngine`,
within the memory and time budget of :class:`Limits`. ``SIMULATE``,
``EXECUTE`` and ``CIRCUIT_CUT`` sample their circuits and return QH1/QH2 histograms;
``CIRCUIT_CUT`` takes exactly one circuit and runs it whole, as a sampling job (no cutting
happens locally). ``EXPECTATION`` (``JobType.ESTIMATE``) jobs return exact expectation
values per term, measurements removed. A circuit a system cannot run (too wide for the
simulator, say) fails its job with a reason in ``status/``. With a ``seed``, a job's
counts depend only on the seed and the job's content, so a resubmission samples the same.

**What it keeps.** Jobs, circuits and results live in SQLite. A restart loses no job:
queued ones run, ones cut off mid-run run again (a job that was cut off three times is
marked FAILED instead), unfinalized ones still take chunks, finished results stay.

**What it refuses.** A missing or unknown bearer token (401; tokens are kept only as
digests keyed per database, and a token never sees another's jobs: 404), a chunk of circuits over
``MAX_BODY_BYTES`` by the service's own accounting, or any body past that plus 64 KiB of
envelope, checked on ``Content-Length`` and on the bytes received (413), and malformed
JSON, bad base64 or gzip, invalid OpenQASM 2, circuits past a :class:`Limits` (wider than
the system, too many gates...), unknown job types or systems, missing shots or
observables (400, with ``{"detail": ...}`` naming the problem), a body sent too slowly
(408). A repeated chunk (a retry after a lost answer) is stored once. Circuits are
parsed in worker processes, never in the server's own.

**Fault injection.** ``faults=`` (``--faults RATE --fault-seed S``) makes a seeded share of
requests fail as :class:`Fault` says, choosing only faults a correct client can recover
from without a duplicate job: ``job/init/`` and ``cancel/`` are only refused outright
(429 or 503 with ``Retry-After``); ``DELETE`` may also get a 502 or a dropped connection
before it runs; reads and ``add_circuits`` may moreover lose their answer after running.
"""

from ..qoro.protocol import API_ROOT
from .app import create_app
from .config import DEFAULT_SYSTEMS, TOKENS_ENV, SystemConfig
from .faults import Fault, FaultPlan
from .limits import Limits
from .local import LocalServer

__all__ = [
    "API_ROOT",
    "DEFAULT_SYSTEMS",
    "TOKENS_ENV",
    "Fault",
    "FaultPlan",
    "Limits",
    "LocalServer",
    "SystemConfig",
    "create_app",
]
