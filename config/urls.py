from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.templatetags.static import static
from django.urls import include, path
from django.utils.translation import gettext_lazy as _
from django.views.generic import RedirectView
from django.views.i18n import JavaScriptCatalog

from ogcapi import urls as ogcapi_urls

admin.site.site_header = _("SEGIS 特种设备安全监察地理信息系统")
admin.site.site_title = "SEGIS"
admin.site.index_title = _("数据管理")

urlpatterns = [
    path("", include("maps.urls")),
    path("", include("registry.urls")),
    path("export/", include("exports.urls")),
    path("ogcapi", include(ogcapi_urls.unslashed)),  # /ogcapi and /ogcapi/ both answer
    path("ogcapi/", include("ogcapi.urls")),
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(redirect_authenticated_user=True),
        name="login",
    ),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/token/", include("accounts.token_urls")),
    path("accounts/", include("accounts.urls")),
    path("admin/", admin.site.urls),
    path("api/analysis/", include("analysis.api_urls")),
    path("api/", include("registry.api_urls")),
    path("response/", include("response.urls")),
    path("patrol/", include("patrol.urls")),
    path("cylinders/", include("cylinders.urls")),
    path("licensing/", include("licensing.urls")),
    path("inspections/", include("inspections.urls")),
    path("analysis/", include("analysis.urls")),
    path("imports/", include("registry.importers.urls")),
    path(settings.PUBLIC_PATH_PREFIX.lstrip("/"), include("public.urls")),
    path("public/", include("public.desk_urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    # The page scripts' strings in the user's language (djangojs catalogue); no data, no login.
    path("jsi18n/", JavaScriptCatalog.as_view(), name="javascript-catalog"),
    path("", include("operations.urls")),  # /healthz, /readyz
    path("favicon.ico", RedirectView.as_view(url=static("favicon.svg"), permanent=True)),
]
