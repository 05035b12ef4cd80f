"""Emergency response: incidents, locating, what is around, dispatch (issue 4)."""

app_name = "response"

urlpatterns: list = []
