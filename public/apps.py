from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PublicConfig(AppConfig):
    name = "public"
    verbose_name = _("公众服务")

    def ready(self) -> None:
        from accounts import audit
        from registry.personal import PERSONAL_FIELDS

        from .models import REPORT_PERSONAL_FIELDS

        # The reporter's call-back number joins the one list of personal fields: masked on every
        # surface for roles without personal data, and in the audit trail.
        PERSONAL_FIELDS["public.PublicReport"] = REPORT_PERSONAL_FIELDS
        audit.PERSONAL_MASKS["public.PublicReport"] = REPORT_PERSONAL_FIELDS
