from django.http import HttpResponse


def home(request):
    return HttpResponse("todo")


def invitation_accept(request, token):
    return HttpResponse("todo")
