from django.urls import path

from . import views

urlpatterns = [path("feed/", views.change_feed, name="exchange-feed")]
