"""The server's access log without the intake: no line for /intake or /staff, which would carry an address.

`docs/intake.md` promises that no IP address of a person writing in is kept: uvicorn's access log would
write one for every `POST /intake`. `icemonitor serve` starts uvicorn with `uvicorn_log_config()`, whose access
logger drops every line for an intake path; the dashboard's lines are kept as they were.
"""

from __future__ import annotations

import copy
import logging

PRIVATE_PREFIXES = ("/intake", "/staff")


def is_private_path(path: str) -> bool:
    """True for /intake, /staff and everything under them (query string and all)."""
    path = path.split("?", 1)[0]
    return any(path == p or path.startswith(p + "/") for p in PRIVATE_PREFIXES)


class PrivateAccessFilter(logging.Filter):
    """Drops uvicorn access records (client_addr, method, path, http_version, status) for intake paths."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3:
            return not is_private_path(str(args[2]))
        return True


def uvicorn_log_config() -> dict:
    """uvicorn's default logging configuration with PrivateAccessFilter on its access logger."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config.setdefault("filters", {})["intake_private"] = {"()": f"{__name__}.PrivateAccessFilter"}
    config["loggers"]["uvicorn.access"]["filters"] = ["intake_private"]
    return config
