"""The refresh lock lives in icemonitor.lock (the build takes it too); kept here as an import path."""

from icemonitor.lock import LockHeld, RefreshLock  # noqa: F401
