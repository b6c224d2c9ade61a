"""URL routes of this area."""

urlpatterns: list = []
