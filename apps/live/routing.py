from django.urls import path

from .consumers import OrgEventsConsumer

websocket_urlpatterns = [
    path("ws/o/<slug:org_slug>/<str:topic>/", OrgEventsConsumer.as_asgi()),
]
