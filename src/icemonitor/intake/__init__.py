"""Confidential case-evaluation intake: a bilingual public form and a locked-down staff inbox.

The integrator mounts it on the dashboard app with `mount_intake(app, IntakeSettings.from_env())`.
"""

from __future__ import annotations

from icemonitor.intake.settings import IntakeSettings

__all__ = ["IntakeSettings", "mount_intake", "mount_intake_from_env"]


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

    from icemonitor.intake.keys import KEY_ENV

    if not os.environ.get(KEY_ENV):
        return False
    settings = IntakeSettings.from_env()
    for name, value in hooks.items():
        setattr(settings, name, value)
    mount_intake(app, settings)
    return True
