"""`icemonitor serve`: the dashboard and JSON API over the read-only warehouse (and the intake, when enabled)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Optional

import typer
from rich.markup import escape

from icemonitor.errors import IcemonitorError
from icemonitor.messages import Message, msg
from icemonitor.messages.cli_lang import _check_lang, _lang_default, error_text

SERVE_LANG_HELP = ("language of serve's own lines (an error that stops it from starting): en or es (default: "
                   "ICEMONITOR_LANG, else en); the pages and the API answer in each reader's language")


def mount_intake_with_monitor(app, home: Path | None = None) -> bool:  # noqa: ANN001 - fastapi.FastAPI
    """Mount the confidential intake (/intake, /staff) when ICEMONITOR_INTAKE_KEY_FILE is set, with the monitor's
    local enforcement context and staff alerts (intake-urgent watches). Returns False when the intake is off;
    a set but missing or wrong key raises IntakeKeyError."""
    from icemonitor.intake import mount_intake_from_env
    from icemonitor.intake.keys import KEY_ENV

    if not os.environ.get(KEY_ENV):
        return False
    from icemonitor.watch.intake_alerts import IntakeNotifier
    from icemonitor.watch.places import product_ref
    from icemonitor.web.intake_context import IntakeContext

    ref = app.state.ref
    if ref is None:
        try:
            ref = product_ref(home)
        except Exception:  # noqa: BLE001 - without a catalog the context panel says the references are missing
            ref = None
    notifier = IntakeNotifier(home)
    app.state.intake_notifier = notifier
    return mount_intake_from_env(app, context_provider=IntakeContext(app.state.warehouse.path, ref), notify=notifier)


class IntakeNeedsOneWorker(IcemonitorError):
    """`serve --workers N` (N > 1) with the intake key set."""

    hint = msg("run the dashboard with --workers N and ICEMONITOR_INTAKE_KEY_FILE unset, and the intake in its own "
               "`icemonitor serve` (one worker, another port); route /intake and /staff to that one (docs/scale.md)")


def refuse_intake(workers: int) -> None:
    """IntakeNeedsOneWorker when the intake would be mounted in more than one worker: its abuse limits are kept
    per client in one process's memory (intake/limits.py), so N workers would each keep their own."""
    from icemonitor.intake.keys import KEY_ENV

    if workers > 1 and os.environ.get(KEY_ENV):
        raise IntakeNeedsOneWorker(msg(
            "{name} is set but --workers is {workers}: the intake's abuse limits are kept per client in one "
            "process's memory, so {workers} workers would give every client {workers} times its budget",
            name=KEY_ENV, workers=workers))


def run(host: str = "127.0.0.1", port: int = 8000, warehouse: Path | None = None,
        trusted_proxies: list[str] | None = None, workers: int = 1, before_listening: Callable[[], None] | None = None,
        **limits: float) -> None:
    """Start uvicorn with the app over `warehouse` (default: config.warehouse_path()), the intake mounted when
    ICEMONITOR_INTAKE_KEY_FILE is set. A set but missing or wrong intake key stops here, before listening.

    workers > 1: that many worker processes, each listening on its own socket (SO_REUSEPORT, Linux; web/workers.py)
    and opening the warehouse read-only; the intake is refused there (IntakeNeedsOneWorker: its per-client limits
    live in one process's memory). `before_listening` runs once every check has passed, before uvicorn starts."""
    import uvicorn

    from icemonitor.intake.access_log import uvicorn_log_config
    from icemonitor.web.server import uvicorn_options

    if workers > 1:
        from icemonitor import client_address, config
        from icemonitor.web import workers as worker_app

        refuse_intake(workers)
        client_address.trusted_proxies(trusted_proxies or None)  # a bad entry stops here, not in every worker
        worker_app.export_settings(Path(warehouse or config.warehouse_path()), trusted_proxies, limits)
        options = uvicorn_options(host, port, log_config=uvicorn_log_config(), **limits)
        options.update(http=worker_app.PROTOCOL, factory=True, workers=workers)
        if before_listening:
            before_listening()
        code = worker_app.Supervisor(uvicorn.Config(worker_app.APP, **options), workers).run()
        if code:
            raise SystemExit(code)
        return

    from icemonitor.web.app import create_app

    app = create_app(warehouse, trusted_proxies=trusted_proxies or None, long_lived=True)
    mount_intake_with_monitor(app)
    # limits: header/body timeouts, connections; the access log drops every /intake and /staff line
    if before_listening:
        before_listening()
    try:
        uvicorn.run(app, **uvicorn_options(host, port, log_config=uvicorn_log_config(), **limits))
    except SystemExit:  # uvicorn could not start: when the address is why, say so in one line (serve's language)
        check_address(host, port)
        raise


def check_address(host: str, port: int) -> None:
    """ServeCannotStart when (host, port) cannot be bound (in use, not this machine's, privileged), as uvicorn
    binds it (SO_REUSEADDR)."""
    import socket

    from icemonitor.web.workers import cannot_listen

    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError as exc:
        raise cannot_listen(f"{host}:{port}", exc) from None
    finally:
        sock.close()


def register(app: typer.Typer) -> None:
    """Add the `serve` command."""
    from icemonitor.web import server_limits as limits  # the defaults only: uvicorn is imported when serve runs

    @app.command("serve")
    def serve(
        host: str = typer.Option("127.0.0.1", help="Interface to listen on (localhost by default)"),
        port: int = typer.Option(8000, min=1, max=65535, help="TCP port"),
        warehouse: Optional[Path] = typer.Option(None, help="Warehouse file (default: the configured one)"),
        trusted_proxy: Optional[list[str]] = typer.Option(
            None, "--trusted-proxy", help="Address or network of a reverse proxy whose X-Forwarded-For is believed "
                                          "(repeat; default ICEMONITOR_TRUSTED_PROXIES; none, not even loopback)"),
        header_timeout: float = typer.Option(limits.HEADER_TIMEOUT, min=0.1,
                                             help="Seconds a client has to send a request's line and headers"),
        body_timeout: float = typer.Option(limits.BODY_TIMEOUT, min=0.1,
                                           help="Seconds a client has to send a request's body after its headers"),
        max_connections: int = typer.Option(limits.MAX_CONNECTIONS, min=1,
                                            help="Open connections at once (per worker); more are answered 503 "
                                                 "and closed"),
        workers: int = typer.Option(1, min=1, max=64,
                                    help="Worker processes over the same read-only warehouse (more readers at "
                                         "once); the intake runs only with 1"),
        lang: str = typer.Option(_lang_default, "--lang", help=SERVE_LANG_HELP, callback=_check_lang),
    ) -> None:
        """Serve the dashboard (EN/ES) and the JSON API (/api/v1, OpenAPI at /openapi.json); with
        ICEMONITOR_INTAKE_KEY_FILE set (and one worker), also the confidential intake (/intake) and staff inbox
        (/staff)."""
        from rich.console import Console

        from icemonitor import config

        path = Path(warehouse or config.warehouse_path())

        def note_missing_warehouse() -> None:
            """Once serve will listen (an error before that is said alone): no warehouse yet is no error, it may come
            later and the pages say so meanwhile."""
            if not path.exists():
                said = msg("note: no warehouse at {path} yet; the pages and the API answer 503 until `icemonitor "
                           "build` makes it", path=str(path))
                Console(stderr=True, soft_wrap=True).print(escape(said.render(lang)), highlight=False)

        try:
            run(host, port, warehouse, trusted_proxy, workers, before_listening=note_missing_warehouse,
                header_timeout=header_timeout,
                body_timeout=body_timeout, max_connections=max_connections)
        except IcemonitorError as err:  # the intake's key or database (IntakeKeyError, IntakeDatabaseError)
            from icemonitor.web.workers import ServeCannotStart  # imports uvicorn: only once serve has run

            error = error_text(err, lang)
            text = (msg("serve cannot start: {error}", error=error) if isinstance(err, ServeCannotStart)
                    else msg("the intake cannot start: {error}", error=error)).render(lang)
            if isinstance(err, (IntakeNeedsOneWorker, ServeCannotStart)):
                hint = err.hint.render(lang) if isinstance(err.hint, Message) else str(err.hint)
                text = msg("{text} ({hint})", text=text, hint=hint).render(lang)
            Console(stderr=True, soft_wrap=True).print(
                f"[bold red]{escape(msg('error:').render(lang))}[/] {escape(text)}", highlight=False)
            raise typer.Exit(2) from None
