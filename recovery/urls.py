"""URL routes: user pages, staff pages, the REST API and its schema, the admin."""

from csp.constants import SELF
from csp.decorators import csp_update
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

# Swagger UI with its init script served from this origin (?script), so the page has no inline script; it
# draws its icons as data: SVG images, which only this page allows.
api_docs = csp_update({"img-src": [SELF, "data:"]})(
    SpectacularSwaggerSplitView.as_view(url_name="api-schema", template_name="api/swagger_ui.html")
)

urlpatterns = [
    path("admin/", admin.site.urls),
    path("metrics", include("recovery.ops.metrics")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", api_docs, name="api-docs"),
    path("api/", include("recovery.api.urls")),
    path("staff/", include("recovery.staff.urls")),
    path("", include("recovery.web.urls")),
]
