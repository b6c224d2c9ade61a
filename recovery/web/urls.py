"""URL routes of the user pages (mounted at /). The case page is /cases/<reference>/, as e-mails link it."""

from django.contrib.auth import views as auth_views
from django.urls import path

from recovery.web import views

app_name = "web"

urlpatterns = [
    path("", views.home, name="home"),
    path("signup/", views.signup, name="signup"),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(next_page="/"), name="logout"),
    path("cases/", views.case_list, name="case-list"),
    path("cases/new/", views.case_new, name="case-new"),
    path("cases/new/confirm/", views.case_confirm, name="case-confirm"),
    path("cases/<str:reference>/", views.case_detail, name="case-detail"),
    path("cases/<str:reference>/message/", views.case_message, name="case-message"),
    path("cases/<str:reference>/cancel/", views.case_cancel, name="case-cancel"),
    path("cases/<str:reference>/destination/", views.case_destination, name="case-destination"),
    path("cases/<str:reference>/challenge/", views.case_challenge, name="case-challenge"),
    path("cases/<str:reference>/proof/", views.case_proof, name="case-proof"),
    path("security/", views.security, name="security"),
    path("security/totp/", views.security_totp, name="security-totp"),
    path("security/totp/start/", views.security_totp_start, name="security-totp-start"),
    path("security/totp/remove/", views.security_totp_remove, name="security-totp-remove"),
    path("security/whitelist/", views.security_whitelist, name="security-whitelist"),
    path("security/whitelist/remove/", views.security_whitelist_remove, name="security-whitelist-remove"),
    path("security/whitelist-only/", views.security_whitelist_only, name="security-whitelist-only"),
]
