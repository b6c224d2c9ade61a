"""URL routes of the user API (mounted at /api/; the OpenAPI schema is /api/schema/, docs /api/docs/)."""

from django.urls import path

from recovery.api import views

app_name = "api"

urlpatterns = [
    path("lookups/", views.LookupView.as_view(), name="lookup"),
    path("cases/", views.CaseListView.as_view(), name="case-list"),
    path("cases/<str:reference>/", views.CaseDetailView.as_view(), name="case-detail"),
    path("cases/<str:reference>/cancel/", views.CaseCancelView.as_view(), name="case-cancel"),
    path("cases/<str:reference>/destination/", views.CaseDestinationView.as_view(), name="case-destination"),
    path("cases/<str:reference>/messages/", views.CaseMessagesView.as_view(), name="case-messages"),
    path("cases/<str:reference>/challenges/", views.ChallengeView.as_view(), name="case-challenges"),
    path("cases/<str:reference>/proofs/", views.ProofView.as_view(), name="case-proofs"),
    path("second-factor/email-code/", views.EmailCodeView.as_view(), name="email-code"),
]
