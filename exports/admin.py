"""Admin of the exports app: none of its own; it takes the task queue's page away.

django-tasks-db registers its queue (DBTaskResult) in the admin: every user's tasks with their
arguments and tracebacks, scoped to no jurisdiction. What a task did is on its ExportJob, shown to
the job's requester; operators read the worker's log and `manage.py clean_exports`.
"""

from django.contrib import admin
from django_tasks_db.models import DBTaskResult

if admin.site.is_registered(DBTaskResult):
    admin.site.unregister(DBTaskResult)
