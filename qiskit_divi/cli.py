"""The ``qiskit-divi`` command line: ``serve`` runs a local Qoro-compatible server,
``demo`` shows every path of the package working on the embedded defaults."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from .qoro.protocol import is_loopback

_DEFAULT_DB = "qiskit-divi-server.sqlite3"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    return int(args.run(parser, args))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="qiskit-divi", description="Divi's execution backends for Qiskit."
    )
    commands = parser.add_subparsers(title="commands", required=True, metavar="COMMAND")
    serve = commands.add_parser(
        "serve",
        help="run a local server that speaks the Qoro Service API",
        description=(
            "Serve the Qoro Service API at http://HOST:PORT/api, running jobs on the local "
            "simulator. Tokens come from --token (repeatable) or, when none is given, from "
            "the QORO_SERVER_TOKENS environment variable (comma-separated); the server "
            "refuses to start without one. Prefer the variable: command lines are visible "
            "to other users of the machine."
        ),
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
    serve.set_defaults(run=_serve)
    demo = commands.add_parser(
        "demo",
        help="run a batch on the parallel simulator and through a local Qoro server",
        description=(
            "Run a QAOA batch on the parallel simulator (noiseless and with a fake IBM "
            "backend's noise), then the Qoro path (QoroService, the Qoro backend, "
            "retrieve_job, EstimatorV2) against a local server on 127.0.0.1."
        ),
    )
    demo.set_defaults(run=_demo)
    return parser


def _demo(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    from .demo import run_demo

    run_demo()
    return 0


def _serve(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    try:
        import uvicorn

        from .server import FaultPlan, create_app
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
        timeout_graceful_shutdown=10,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
