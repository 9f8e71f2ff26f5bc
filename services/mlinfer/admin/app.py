"""Mounting the panel and the offline docs on the REST app."""

from __future__ import annotations

from fastapi import FastAPI

from mlinfer.admin.docs import mount_docs
from mlinfer.admin.routes import AdminRoutes
from mlinfer.auth.guard import AccessGuard
from mlinfer.settings import Settings
from mlinfer.transport.policy import RequestPolicy


def mount_admin(app: FastAPI, settings: Settings, guard: AccessGuard) -> None:
    if settings.auth.open_docs:  # closed: a browser page cannot send the credential header
        mount_docs(app)
    if settings.admin.enabled:
        AdminRoutes(settings.admin, RequestPolicy.from_settings(guard, settings)).mount(app)
