"""URL routes: user pages, staff pages, the REST API and its schema, the admin."""

from django.contrib import admin
from django.urls import path

urlpatterns = [
    path("admin/", admin.site.urls),
]
