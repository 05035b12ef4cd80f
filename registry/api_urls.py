from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.routers import DefaultRouter

from . import api

router = DefaultRouter()
router.register("equipment", api.EquipmentViewSet, basename="equipment")
router.register("units", api.UnitViewSet, basename="unit")
router.register("accidents", api.AccidentViewSet, basename="accident")
router.register("resources", api.ResourceViewSet, basename="resource")
router.register("regions", api.RegionViewSet, basename="region")

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("exchange/", include("registry.exchange.urls")),
    path("imports/", include("registry.importers.api_urls")),
    path("search/", api.SearchView.as_view(), name="api-search"),
    *router.urls,
]
