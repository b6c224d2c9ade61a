"""URL routes of the staff area (mounted at /staff/)."""

from django.urls import path

from recovery.staff import views

urlpatterns = [
    path("login/", views.StaffLoginView.as_view(), name="staff-login"),
    path("logout/", views.StaffLogoutView.as_view(), name="staff-logout"),
    path("otp/", views.staff_otp, name="staff-otp"),
    path("", views.queue_page, name="staff-queue"),
    path("cases/<int:pk>/", views.case_page, name="staff-case"),
    path("cases/<int:pk>/<slug:action>/", views.case_action, name="staff-case-action"),
    path("dashboard/", views.dashboard_page, name="staff-dashboard"),
    path("audit/", views.audit_page, name="staff-audit"),
    path("reports/", views.report_page, name="staff-report"),
    path("reports/csv/", views.report_csv, name="staff-report-csv"),
]
