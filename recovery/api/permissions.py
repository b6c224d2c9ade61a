"""Who may read the OpenAPI schema and its Swagger UI: anyone locally, staff only in production (they map
every endpoint and its parameters for whoever probes the API)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from rest_framework.permissions import BasePermission
from rest_framework.request import Request


class StaffInProduction(BasePermission):
    def has_permission(self, request: Request, view: Any) -> bool:
        return not settings.PRODUCTION or bool(request.user and request.user.is_staff)
