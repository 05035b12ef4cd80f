from django.apps import AppConfig
from django.db.models.signals import post_migrate, post_save
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = _("用户与机构")

    def ready(self) -> None:
        from axes.signals import user_locked_out
        from django.contrib.auth.signals import user_logged_in, user_login_failed

        from . import signals
        from .models import User
        from .roles import assign_role_group, sync_role_groups

        user_logged_in.connect(signals.session_started, dispatch_uid="segis-session-start")
        user_login_failed.connect(signals.login_failed, dispatch_uid="segis-login-failed")
        user_locked_out.connect(signals.locked_out, dispatch_uid="segis-locked-out")

        from common.db import grant_after_migrate

        # The application's database role reads and writes the rows of every table migrate made.
        post_migrate.connect(grant_after_migrate, dispatch_uid="segis-app-role-grants")
        # Permissions exist only after every app's post_migrate has run: sync on each app's signal (cheap).
        post_migrate.connect(sync_role_groups, dispatch_uid="segis-role-groups")
        post_save.connect(
            lambda instance, **kwargs: assign_role_group(instance),
            sender=User,
            weak=False,
            dispatch_uid="segis-user-role",
        )
