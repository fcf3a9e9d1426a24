"""The ``qiskit-divi`` command line: ``serve`` runs a local Qoro-compatible server,
``demo`` shows every path of the package working on the embedded defaults, ``login`` /
``logout`` / ``accounts`` keep Qoro accounts, ``systems`` and ``credits`` show what the
account may use, and ``jobs`` / ``status`` / ``result`` / ``cancel`` / ``delete`` work on
Qoro jobs by id, many at a time.

The job commands print readable tables (``rich``, the ``cli`` extra), or JSON for
scripts with ``--json``. Their exit status says what happened; with many ids, the
highest of theirs:

- 0: done;
- 1: a job is not in a state for it (``result`` of a job that failed, was cancelled or
  is unfinished; ``cancel`` of a finished job), or ``login`` to a saved name without
  ``--overwrite``;
- 2: bad usage (an option, or a malformed job id);
- 3: no token was found, or the service refused it;
- 4: no such job, or no such saved account;
- 5: the service could not be reached, or answered with an error.
"""

from __future__ import annotations

import argparse
import getpass
import inspect
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import fields
from datetime import datetime
from typing import Any

from . import accounts
from .exceptions import (
    AuthenticationError,
    DiviError,
    InvalidInputError,
    JobCancelledError,
    JobFailedError,
    JobNotCancellableError,
    JobNotFinishedError,
    JobNotFoundError,
    MissingCredentialsError,
)
from .options import positive_int
from .qoro.codec import CircuitResult, ExpectationValues
from .qoro.protocol import QoroJobStatus, is_loopback

_DEFAULT_DB = "qiskit-divi-server.sqlite3"

EXIT_OK = 0
EXIT_REFUSED = 1
EXIT_USAGE = 2
EXIT_CREDENTIALS = 3
EXIT_NOT_FOUND = 4
EXIT_SERVICE = 5

#: Errors by exit status, the first match wins (a DiviError not listed is the service's).
_EXIT_STATUS: list[tuple[tuple[type[BaseException], ...], int]] = [
    ((MissingCredentialsError, AuthenticationError), EXIT_CREDENTIALS),
    ((JobNotFoundError,), EXIT_NOT_FOUND),
    (
        (JobFailedError, JobCancelledError, JobNotFinishedError, JobNotCancellableError),
        EXIT_REFUSED,
    ),
    ((InvalidInputError,), EXIT_USAGE),
    ((DiviError,), EXIT_SERVICE),
]
#: A command's handler: its parser (for usage errors) and its arguments -> exit status.
_Handler = Callable[[argparse.ArgumentParser, argparse.Namespace], int]
#: Table columns whose long text may wrap; every other column keeps each value whole.
_FREE_TEXT = {"description", "error", "message", "result", "url"}
#: Outcomes shown per circuit in a readable result table (``--json`` shows all).
_SHOWN_OUTCOMES = 16


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return int(args.run(parser, args))
    except DiviError as err:
        print(f"qiskit-divi {args.command}: {err}", file=sys.stderr)
        return exit_status(err)


def exit_status(error: BaseException) -> int:
    """The exit status that says what ``error`` means (see the module's list)."""
    return next(status for kinds, status in _EXIT_STATUS if isinstance(error, kinds))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="qiskit-divi", description="Divi's execution backends for Qiskit."
    )
    commands = parser.add_subparsers(
        title="commands", required=True, metavar="COMMAND", dest="command"
    )
    serve = _command(
        commands, "serve", _serve, "run a local server that speaks the Qoro Service API"
    )
    serve.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default: %(default)s)"
    )
    serve.add_argument("--port", type=int, default=8080, help="port (default: %(default)s)")
    serve.add_argument(
        "--db", default=_DEFAULT_DB, help="SQLite file holding the jobs (default: %(default)s)"
    )
    serve.add_argument(
        "--token", action="append", default=[], help="a bearer token to accept (repeatable)"
    )
    serve.add_argument("--workers", type=int, default=2, help="jobs run at once (default: 2)")
    serve.add_argument("--seed", type=int, help="seed sampling so a job's counts are reproducible")
    serve.add_argument(
        "--credits",
        metavar="N",
        help=(
            "keep a credit ledger: each token starts with N credits, a job costs 1 credit "
            "per 1000 shots (1 per expectation circuit) and one that cannot be paid ends "
            "INSUFFICIENT_CREDITS (default: no ledger, unlimited)"
        ),
    )
    serve.add_argument(
        "--faults",
        type=float,
        metavar="RATE",
        help="inject 429/502/503 answers and dropped connections into this share of requests",
    )
    serve.add_argument("--fault-seed", type=int, help="seed of the fault injection")
    serve.add_argument(
        "--allow-remote",
        action="store_true",
        help="allow a non-loopback --host (plain HTTP: put a TLS proxy in front)",
    )
    serve.add_argument(
        "--log-level", default="info", choices=["debug", "info", "warning", "error"]
    )
    limits = serve.add_argument_group(
        "limits",
        "what one job may ask: a request past a limit is refused (HTTP 400); "
        "a job past its memory or time fails",
    )
    for option, (kind, text) in _LIMITS.items():
        limits.add_argument(
            f"--{option.replace('_', '-')}",
            type=kind,
            metavar="N",
            help=f"{text} (default: %(default)s)",
        )
    serve.set_defaults(**_limit_defaults())
    _command(
        commands,
        "demo",
        _demo,
        "run a batch on the parallel simulator and through a local Qoro server",
    )
    _account_commands(commands)
    _job_commands(commands)
    return parser


def _account_commands(commands: Any) -> None:
    login = _command(
        commands,
        "login",
        _login,
        "save a Qoro API token (OS keyring, else a file only you can read)",
    )
    login.add_argument("--name", default=accounts.DEFAULT_ACCOUNT, help="account name")
    login.add_argument("--url", help="the service's API URL (default: Qoro's public service)")
    login.add_argument(
        "--token-stdin", action="store_true", help="read the token from standard input"
    )
    login.add_argument("--overwrite", action="store_true", help="replace a saved account")
    logout = _command(commands, "logout", _logout, "forget a saved Qoro account")
    logout.add_argument("--name", default=accounts.DEFAULT_ACCOUNT, help="account name")
    listing = _command(commands, "accounts", _accounts, "list saved accounts (names and URLs)")
    listing.add_argument("--json", action="store_true", help="print JSON")


def _job_commands(commands: Any) -> None:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true", help="print JSON for scripts")
    common.add_argument(
        "--account", help="use this saved account (default: QORO_API_KEY, ./.env, 'default')"
    )
    jobs = _command(
        commands,
        "jobs",
        _jobs,
        "list the Qoro jobs submitted from this machine, newest first",
        common,
    )
    jobs.add_argument("--limit", type=int, default=10, help="at most this many (default: 10)")
    jobs.add_argument(
        "--status", choices=[s.value.lower() for s in QoroJobStatus], help="only this state"
    )
    jobs.add_argument("--tag", help="only jobs with this tag")
    jobs.add_argument("--backend", help="only jobs sent to this system")
    jobs.add_argument(
        "--since",
        type=datetime.fromisoformat,
        metavar="WHEN",
        help="only jobs submitted since then (ISO date or time, local time)",
    )
    _command(
        commands,
        "systems",
        _systems,
        "the simulator clusters and QPU systems the account may use",
        common,
    )
    credits = _command(
        commands,
        "credits",
        _credits,
        "the account's credit balance (and, with --history, its transactions)",
        common,
    )
    credits.add_argument(
        "--history", action="store_true", help="list the transactions, newest first"
    )
    credits.add_argument(
        "--limit", type=int, default=20, help="at most this many transactions (default: 20)"
    )
    for name, run, summary in (
        ("status", _status, "the status of jobs"),
        ("cancel", _cancel, "cancel pending or running jobs"),
        ("delete", _delete, "delete jobs and their results from the service"),
        ("result", _result, "the results of finished jobs"),
    ):
        command = _command(commands, name, run, summary, common)
        command.add_argument("job_ids", nargs="+", metavar="ID", help="a job id")
    result = commands.choices["result"]
    result.add_argument(
        "--counts", action="store_true", help="print each circuit's counts as JSON"
    )


def _command(
    commands: Any, name: str, run: _Handler, summary: str, *parents: argparse.ArgumentParser
) -> argparse.ArgumentParser:
    """Add the subcommand ``name`` that ``run`` runs: ``summary`` in the list of commands,
    ``run``'s docstring in its ``--help`` (what a command does is said where it is done)."""
    parser = commands.add_parser(
        name, parents=list(parents), help=summary, description=inspect.getdoc(run)
    )
    parser.set_defaults(run=run)
    return parser


# -- accounts -----------------------------------------------------------------------------


def _login(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    """Save a Qoro API token with the URL it is for. The token is read without echoing it
    (or, with --token-stdin, from the first line of standard input) and kept in the OS
    keyring when one is usable, else in a file only you can read; it is never printed.
    Clients use the account 'default' when no argument, QORO_API_KEY or ./.env gives a
    token."""
    if args.token_stdin:
        token = sys.stdin.readline().strip()
    else:
        token = getpass.getpass("Qoro API token (not shown): ").strip()
    saved = accounts.saved_accounts()
    if args.name in saved and not args.overwrite:
        print(
            f"qiskit-divi login: an account {args.name!r} is saved already (for "
            f"{saved[args.name]}); pass --overwrite to replace it",
            file=sys.stderr,
        )
        return EXIT_REFUSED
    where = accounts.save_account(token, name=args.name, url=args.url, overwrite=True)
    url = accounts.saved_accounts()[args.name]
    print(f"saved account {args.name!r} for {url} in {where}")
    return EXIT_OK


def _logout(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    """Forget a saved Qoro account: its token leaves the keyring (or the file)."""
    if not accounts.delete_account(args.name):
        print(f"qiskit-divi logout: no saved account {args.name!r}", file=sys.stderr)
        return EXIT_NOT_FOUND
    print(f"forgot account {args.name!r}")
    return EXIT_OK


def _accounts(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    """List the saved Qoro accounts: their names and URLs, never their tokens."""
    rows = [{"name": name, "url": url} for name, url in accounts.saved_accounts().items()]
    _show(parser, args, rows, {"Account": "name", "URL": "url"})
    return EXIT_OK


# -- jobs ---------------------------------------------------------------------------------


def _jobs(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    """List the Qoro jobs this machine submitted to the account's service (from the local
    job journal), each with its status asked of the service now."""
    from .provider import DiviProvider

    records = DiviProvider(account=args.account).jobs(
        limit=args.limit, status=args.status, tag=args.tag, backend=args.backend, since=args.since
    )
    rows = [
        {
            "job_id": record.job_id,
            "status": None if record.status is None else record.status.value,
            "message": record.message,
            "submitted": record.entry.submitted.isoformat(),
            "system": record.entry.system,
            "job_type": record.entry.job_type,
            "tag": record.entry.tag,
            "shots": record.entry.shots,
            "labels": list(record.entry.labels),
            "observables": record.entry.observables,
            "api_url": record.entry.api_url,
        }
        for record in records
    ]
    readable = [
        {
            **row,
            "submitted": record.entry.submitted.astimezone().strftime("%Y-%m-%d %H:%M:%S"),
            "status": row["status"] or "not found",
            "circuits": len(record.entry.labels),
        }
        for row, record in zip(rows, records, strict=True)
    ]
    columns = {
        "Job": "job_id",
        "Submitted": "submitted",
        "System": "system",
        "Tag": "tag",
        "Circuits": "circuits",
        "Shots": "shots",
        "Status": "status",
    }
    _show(parser, args, rows, columns, readable=readable)
    return EXIT_OK


def _systems(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    """List the Qoro simulator clusters and QPU systems this account may use: kind, width
    (qubits), status (a QPU system is online while one of its QPUs is) and whether it
    computes expectation values."""
    from .qoro.client import QoroClient

    client = QoroClient(account=args.account)
    rows = [
        {
            "name": cluster.name,
            "kind": "simulator",
            "width": cluster.num_qubits,
            "status": "online",
            "supports_expval": cluster.supports_expval,
            "access_level": cluster.access_level,
        }
        for cluster in client.fetch_simulator_clusters()
    ]
    rows += [
        {
            "name": system.name,
            "kind": "qpu",
            "width": system.num_qubits,
            "status": "online" if any(qpu.online for qpu in system.qpus) else "offline",
            "supports_expval": system.supports_expval,
            "access_level": system.access_level,
            "qpus": [
                {"nickname": qpu.nickname, "qubits": qpu.q_bits, "status": qpu.status}
                for qpu in system.qpus
            ],
        }
        for system in client.fetch_qpu_systems()
    ]
    columns = {
        "System": "name",
        "Kind": "kind",
        "Qubits": "width",
        "Status": "status",
        "Expectation values": "supports_expval",
        "Access": "access_level",
    }
    _show(parser, args, rows, columns)
    return EXIT_OK


def _credits(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    """Show the account's credit balance and the credits used so far; --history lists its
    transactions instead, newest first."""
    from .qoro.client import QoroClient
    from .qoro.protocol import CREDIT_PAGE_SIZE_LIMIT

    limit = positive_int("--limit", args.limit)
    client = QoroClient(account=args.account)
    if not args.history:
        balance = client.get_credit_balance()
        row = {"balance": str(balance.balance), "total_used": str(balance.total_used)}
        if args.json:
            print(json.dumps(row, indent=2))
        else:
            _show(parser, args, [row], {"Balance": "balance", "Used": "total_used"})
        return EXIT_OK
    transactions: list[dict[str, Any]] = []
    page = 1
    while len(transactions) < limit:
        answer = client.get_credit_transactions(page, min(limit, CREDIT_PAGE_SIZE_LIMIT))
        transactions += [
            {
                "id": t.id,
                "created_at": t.created_at,
                "amount": str(t.amount),
                "balance_after": str(t.balance_after),
                "transaction_type": t.transaction_type,
                "job_id": t.job_id,
                "description": t.description,
            }
            for t in answer.results
        ]
        if page >= answer.total_pages or not answer.results:
            break
        page += 1
    columns = {
        "When": "created_at",
        "Amount": "amount",
        "Balance": "balance_after",
        "Type": "transaction_type",
        "Job": "job_id",
        "Description": "description",
    }
    _show(parser, args, transactions[:limit], columns)
    return EXIT_OK


def _status(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    """The status of jobs."""

    def status(client: Any, job_id: str) -> dict[str, Any]:
        report = client.job_status(job_id)
        return {"status": report.status.value, "message": report.message}

    return _each_job(parser, args, status, {"Status": "status", "Message": "message"})


def _cancel(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    """Cancel pending or running jobs."""

    def cancel(client: Any, job_id: str) -> dict[str, Any]:
        return {"cancelled": True, "answer": client.cancel_job(job_id)}

    return _each_job(parser, args, cancel, {"Cancelled": "cancelled"})


def _delete(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    """Delete jobs and their results from the service."""

    def delete(client: Any, job_id: str) -> dict[str, Any]:
        client.delete_job(job_id)
        return {"deleted": True}

    return _each_job(parser, args, delete, {"Deleted": "deleted"})


def _result(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    """Fetch the results of finished jobs, several at a time: a table per job, --counts
    for each circuit's counts as JSON, --json for everything."""
    if args.counts and args.json:
        parser.error("--counts and --json are two ways to print; pick one")

    def fetch(client: Any, job_id: str) -> dict[str, Any]:
        results = client.job_results(job_id)
        return {"results": {label: _result_json(result) for label, result in results.items()}}

    if not (args.counts or args.json):
        return _each_job(parser, args, fetch, {"Circuit": "label", "Result": "result"})
    outcomes, status = _run_each(args, fetch)
    if args.json:
        print(json.dumps(outcomes, indent=2))
        return status
    counts: dict[str, dict[str, Any]] = {}
    for outcome in outcomes:
        if "error" in outcome:
            print(f"qiskit-divi result: {outcome['error']}", file=sys.stderr)
            continue
        results = outcome["results"]
        if not all("counts" in value for value in results.values()):
            print(
                f"qiskit-divi result: job {outcome['job_id']} holds expectation values, "
                "not counts: use --json",
                file=sys.stderr,
            )
            status = max(status, EXIT_REFUSED)
            continue
        counts[outcome["job_id"]] = {label: value["counts"] for label, value in results.items()}
    print(json.dumps(counts, indent=2))
    return status


def _each_job(
    parser: argparse.ArgumentParser,
    args: argparse.Namespace,
    action: Callable[[Any, str], dict[str, Any]],
    columns: dict[str, str],
) -> int:
    """Run ``action`` on every id given and show a row per job (a row per circuit for
    results); returns the highest exit status among them."""
    rows, status = _run_each(args, action)
    readable = []
    for row in rows:
        if "error" in row:
            readable.append({"job_id": row["job_id"], "error": row["error"]})
        elif "results" in row:
            readable += [
                {"job_id": row["job_id"], "label": label, "result": _result_text(value)}
                for label, value in row["results"].items()
            ]
        else:
            readable.append(row)
    _show(parser, args, rows, {"Job": "job_id", **columns, "Error": "error"}, readable=readable)
    return status


def _run_each(
    args: argparse.Namespace, action: Callable[[Any, str], dict[str, Any]]
) -> tuple[list[dict[str, Any]], int]:
    """``action(client, id)`` for every id, a few at a time: a row each, and the exit
    status (the highest of the jobs')."""
    from .qoro.bulk import for_each
    from .qoro.client import QoroClient

    client = QoroClient(account=args.account)
    outcomes = for_each(lambda job_id: action(client, job_id), args.job_ids)
    rows: list[dict[str, Any]] = []
    status = EXIT_OK
    for job_id, outcome in zip(args.job_ids, outcomes, strict=True):
        if isinstance(outcome, DiviError):
            rows.append({"job_id": job_id, "error": str(outcome)})
            status = max(status, exit_status(outcome))
        else:
            rows.append({"job_id": job_id, **outcome})
    return rows, status


def _result_json(result: CircuitResult) -> dict[str, Any]:
    if isinstance(result, ExpectationValues):
        return {"expectation_values": result.to_dict()}
    return {"counts": result.get_counts()}


def _result_text(value: dict[str, Any]) -> str:
    """A circuit's result for people: its most frequent outcomes, or its values."""
    if "expectation_values" in value:
        return "  ".join(f"{term}: {v:.6g}" for term, v in value["expectation_values"].items())
    ranked = sorted(value["counts"].items(), key=lambda item: (-item[1], item[0]))
    text = "  ".join(f"{outcome}: {count}" for outcome, count in ranked[:_SHOWN_OUTCOMES])
    hidden = len(ranked) - _SHOWN_OUTCOMES
    return f"{text}  (+{hidden} more)" if hidden > 0 else text


def _show(
    parser: argparse.ArgumentParser,
    args: argparse.Namespace,
    rows: list[dict[str, Any]],
    columns: dict[str, str],
    *,
    readable: list[dict[str, Any]] | None = None,
) -> None:
    """``rows`` as JSON with ``--json``, else ``readable`` (by default ``rows``) as a
    table of ``columns`` (header: key); a column no row fills is left out."""
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError as err:
        parser.error(
            f"tables need the cli extra: pip install 'qiskit-divi[cli]', or --json ({err})"
        )
    readable = rows if readable is None else readable
    shown = {h: key for h, key in columns.items() if any(r.get(key) is not None for r in readable)}
    table = Table()
    for header, key in shown.items():
        # Nothing is cut short, and short values (ids above all, to be copied) stay whole.
        whole = key not in _FREE_TEXT
        width = max(len(header), *(len(str(row.get(key))) for row in readable)) if whole else None
        table.add_column(header, overflow="fold", no_wrap=whole, min_width=width)
    for row in readable:
        table.add_row(*("" if row.get(key) is None else str(row[key]) for key in shown.values()))
    console = Console(soft_wrap=True)
    console.print(table if readable else "nothing to show")


#: ``serve``'s limit options: the fields of :class:`~qiskit_divi.server.Limits`.
_LIMITS = {
    "max_qubits": (int, "widest circuit on a simulator system"),
    "max_clbits": (int, "classical bits per circuit"),
    "max_gates": (int, "gates per circuit, gate definitions expanded"),
    "max_gate_depth": (int, "how deeply gate definitions may nest"),
    "max_shots": (int, "shots per circuit"),
    "max_outcomes": (int, "shots times circuits per job"),
    "job_memory_mb": (int, "memory a job (or a chunk's check) may take, in MiB"),
    "job_seconds": (float, "seconds a job (or a chunk's check) may run"),
    "body_seconds": (float, "seconds a client has to send a request's body"),
}


def _limit_defaults() -> dict[str, object]:
    from .server.limits import Limits

    return {field.name: field.default for field in fields(Limits)}


def _demo(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    """Run a QAOA batch on the parallel simulator (noiseless and with a fake IBM backend's
    noise), then the Qoro path (QoroService, the Qoro backend, retrieve_job, EstimatorV2)
    against a local server on 127.0.0.1."""
    from .demo import run_demo

    run_demo()
    return 0


def _serve(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    """Serve the Qoro Service API at http://HOST:PORT/api, running jobs on the local
    simulator. Tokens come from --token (repeatable) or, when none is given, from the
    QORO_SERVER_TOKENS environment variable (comma-separated); the server refuses to start
    without one. Prefer the variable: command lines are visible to other users of the
    machine."""
    try:
        import uvicorn

        from .server import FaultPlan, Limits, create_app
        from .server.config import tokens_from_env
    except ImportError as err:
        parser.error(f"the server needs its extra: pip install 'qiskit-divi[server]' ({err})")
    if not (is_loopback(args.host) or args.allow_remote):
        parser.error(
            f"--host {args.host} is not a loopback address; pass --allow-remote to serve it "
            "(clients reach plain HTTP only on loopback, so put a TLS proxy in front)"
        )
    if args.fault_seed is not None and args.faults is None:
        parser.error("--fault-seed needs --faults")
    try:
        app = create_app(
            tokens=args.token or tokens_from_env(),
            db_path=args.db,
            workers=args.workers,
            faults=None if args.faults is None else FaultPlan(args.faults, args.fault_seed),
            seed=args.seed,
            limits=Limits(**{name: getattr(args, name) for name in _LIMITS}),
            credits=args.credits,
        )
    except (ValueError, TypeError) as err:
        parser.error(str(err))
    print(f"qiskit-divi: jobs are kept in {args.db}", file=sys.stderr, flush=True)
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        log_level=args.log_level,
        # Never cut a request short: its answer could then differ from what it stored.
        # Every request ends by itself (body_seconds, job_seconds), so stopping does too.
        timeout_graceful_shutdown=None,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
