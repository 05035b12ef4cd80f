from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AnalysisConfig(AppConfig):
    name = "analysis"
    verbose_name = _("统计分析")

    def ready(self):
        from registry.importers.jobs import import_committed

        from .precomputed import after_import

        import_committed.connect(after_import, dispatch_uid="analysis.measures.after_import")
