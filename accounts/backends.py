"""Sign-in through Django's model backend, loading each request's user with its agency."""

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend


class UserWithAgencyBackend(ModelBackend):
    """Every scoped read asks `user.jurisdiction_prefix`, which is the agency's region: fetching
    the agency with the user saves a query on every request (a map view makes dozens)."""

    def get_user(self, user_id):
        user_model = get_user_model()
        try:
            user = user_model._default_manager.select_related("agency").get(pk=user_id)
        except user_model.DoesNotExist:
            return None
        return user if self.user_can_authenticate(user) else None
