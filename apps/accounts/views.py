from django.contrib.auth import views as auth_views
from django.http import HttpResponse


class LoginView(auth_views.LoginView):
    template_name = "accounts/login.html"


def mfa_view(request):
    return HttpResponse("todo")


def lockout_response(request, credentials, *args, **kwargs):
    return HttpResponse("Too many failed sign-ins. Try again later.", status=429)
