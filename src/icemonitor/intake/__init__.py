"""Confidential case-evaluation intake: a bilingual public form and a locked-down staff inbox.

The integrator mounts it on the dashboard app with `mount_intake(app, IntakeSettings.from_env())`.
"""

from __future__ import annotations

from icemonitor.intake.settings import IntakeSettings

__all__ = ["IntakeSettings", "mount_intake"]


def mount_intake(app, settings: IntakeSettings) -> None:  # noqa: ANN001 - fastapi.FastAPI
    """Open the store (refusing to start on a missing or wrong key) and mount /intake and /staff routers."""
    from icemonitor.intake.web import mount

    mount(app, settings)
