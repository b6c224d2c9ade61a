"""URL routes: user pages, staff pages, the REST API and its schema, the admin."""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

urlpatterns = [
    path("admin/", admin.site.urls),
    path("metrics", include("recovery.ops.metrics")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/", include("recovery.api.urls")),
    path("staff/", include("recovery.staff.urls")),
    path("", include("recovery.web.urls")),
]
