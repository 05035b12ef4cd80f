#!/usr/bin/env python
"""Django's command-line utility for SEGIS."""

import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.dev")
    if sys.argv[1:2] in (["runserver"], ["run_worker"], ["db_worker"], ["escalate_incidents"]):
        # Serving: as the application's own database role, which owns nothing and cannot
        # change the audit trail; every other command is maintenance, run as the owner.
        os.environ.setdefault("SEGIS_DATABASE_ROLE", "app")
    if sys.argv[1:2] in (["run_worker"], ["db_worker"]):
        # /readyz finds a live worker by its connection's name (operations/health.py).
        os.environ.setdefault("PGAPPNAME", "segis-worker")
    if sys.argv[1:2] != ["runserver"]:
        # The statement bounds guard the web's requests: migrations, loads, cell rebuilds and the
        # worker's queue run unbounded from the command line (the worker bounds its jobs itself).
        os.environ.setdefault("DATABASE_STATEMENT_TIMEOUT", "0")
        os.environ.setdefault("DATABASE_IDLE_IN_TRANSACTION_TIMEOUT", "0")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
