"""URL patterns as templates for page scripts: `/response/api/incidents/{id}/` from a URL name."""

from django.urls import reverse

PLACEHOLDER_ID = 999999999  # reversed into the URL, then replaced by "{id}"


def url_template(name: str) -> str:
    """The URL of a name whose one parameter is `pk`, with `{id}` where the key goes."""
    return reverse(name, kwargs={"pk": PLACEHOLDER_ID}).replace(str(PLACEHOLDER_ID), "{id}")
