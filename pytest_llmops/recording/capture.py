"""Record every client an application may use: httpx, vcrpy's stubs, and the threads it starts.

Installed by the ``python:`` provider and the ``llmops`` fixture, the two ways the user's own
code runs inside a case; a suite that only uses the built-in HTTP providers never pays for it
(vcrpy's stubs import requests, urllib3, aiohttp and botocore when those are installed).
"""

from __future__ import annotations

from . import clients, interception, threads

__all__ = ["RECORDED_CLIENTS", "install"]

RECORDED_CLIENTS = clients.RECORDED_CLIENTS


def install() -> None:
    """Register the patches applied while a case is active (once per process)."""
    interception.install()
    clients.install()
    threads.install()
