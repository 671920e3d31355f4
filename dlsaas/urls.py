from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from apps.core import views as core_views
from apps.tenancy import views as tenancy_views

api_v1 = [
    path("", include("apps.tenancy.api.urls")),
    path("", include("apps.accounts.api.urls")),
    path("", include("apps.compliance.api.urls")),
    path("", include("apps.datasets.api.urls")),
    path("", include("apps.recipes.api.urls")),
    path("", include("apps.annotations.api.urls")),
    path("", include("apps.workforce.api.urls")),
    path("", include("apps.automation.api.urls")),
    path("", include("apps.performance.api.urls")),
    path("", include("apps.quality.api.urls")),
]

urlpatterns = [
    path("healthz", core_views.healthz, name="healthz"),
    path("readyz", core_views.readyz, name="readyz"),
    path("api/v1/", include((api_v1, "api"), namespace="api")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("", include("apps.accounts.urls")),  # /accounts/... and /o/<org_slug>/tokens/
    path("ops/admin/", admin.site.urls),
    path("", include("apps.tenancy.urls")),
    path("", tenancy_views.home, name="home"),
    path("", include("apps.compliance.urls")),
    path("", include("apps.datasets.urls")),
    path("", include("apps.recipes.urls")),
    path("", include("apps.annotations.urls")),
    path("", include("apps.workforce.urls")),
    path("", include("apps.performance.urls")),
    path("", include("apps.automation.urls")),
]

handler400 = "apps.core.views.bad_request"
handler403 = "apps.core.views.permission_denied"
handler404 = "apps.core.views.page_not_found"
handler500 = "apps.core.views.server_error"
