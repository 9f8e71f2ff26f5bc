"""Mounting the panel and the offline docs on the REST app."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI

from mlinfer.admin.docs import mount_docs
from mlinfer.admin.routes import AdminRoutes
from mlinfer.auth.guard import AccessGuard
from mlinfer.settings import Settings
from mlinfer.transport.policy import RequestPolicy


def mount_admin(
    app: FastAPI,
    settings: Settings,
    guard: AccessGuard,
    hosted_registry: Callable[[], str | None] = lambda: None,
) -> None:
    """``hosted_registry``: the URL of a registry this process hosts, once it runs."""
    if settings.auth.open_docs:  # closed: a browser page cannot send the credential header
        mount_docs(app)
    if settings.admin.enabled:
        policy = RequestPolicy.from_settings(guard, settings)
        subscribed = settings.registry.url
        # the same registry the server takes its policies from: its own when it hosts one
        AdminRoutes(settings.admin, policy, lambda: hosted_registry() or subscribed).mount(app)
