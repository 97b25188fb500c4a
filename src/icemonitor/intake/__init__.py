"""Confidential case-evaluation intake: a bilingual public form and a locked-down staff inbox.

The integrator mounts it on the dashboard app with `mount_intake(app, IntakeSettings.from_env())`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from icemonitor.intake.settings import IntakeSettings

__all__ = ["KEY_ENV", "IntakeSettings", "mount_intake", "mount_intake_from_env"]

KEY_ENV = "ICEMONITOR_INTAKE_KEY_FILE"  # the environment variable naming the master key file (intake/keys.py)


def __getattr__(name: str):  # noqa: ANN202 - IntakeSettings on first use: the CLI imports no cryptography at start
    if name == "IntakeSettings":
        from icemonitor.intake.settings import IntakeSettings

        return IntakeSettings
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def mount_intake(app, settings: IntakeSettings) -> None:  # noqa: ANN001 - fastapi.FastAPI
    """Open the store (refusing to start on a missing or wrong key) and mount /intake and /staff routers."""
    from icemonitor.intake.web import mount

    mount(app, settings)


def mount_intake_from_env(app, **hooks) -> bool:  # noqa: ANN001 - fastapi.FastAPI
    """Mount the intake when ICEMONITOR_INTAKE_KEY_FILE is set (returns True); leave it off when unset (False).

    hooks: context_provider=..., notify=... (see IntakeSettings). A set but missing or wrong key raises
    IntakeKeyError, so the server stops instead of starting half-working.
    """
    import os

    from icemonitor.intake.settings import IntakeSettings

    if not os.environ.get(KEY_ENV):
        return False
    settings = IntakeSettings.from_env()
    for name, value in hooks.items():
        setattr(settings, name, value)
    mount_intake(app, settings)
    return True
