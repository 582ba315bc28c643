"""The site's front page: where admin's "View site" leads. Customers use the apps through the API."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


def home(request: HttpRequest) -> HttpResponse:
    return render(request, "home.html")
