"""The signed-in user's own credentials: password change (audited) and the TOTP second factor,
enrolled with a QR code and verified after each sign-in (accounts.middleware asks for it)."""

from __future__ import annotations

import base64

import segno
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.views.decorators.http import require_http_methods
from django_otp import login as otp_login
from django_otp import user_has_device
from django_otp.plugins.otp_totp.models import TOTPDevice

from . import audit

CODE_MESSAGE = "动态口令不正确或已过期 / the code is wrong or has expired"


class PasswordChange(auth_views.PasswordChangeView):
    """Django's password change, audited; the validators (accounts/passwords.py) set the rules."""

    success_url = reverse_lazy("password_change_done")

    def form_valid(self, form):
        response = super().form_valid(form)
        audit.record_event("password.changed", request=self.request, actor=self.request.user)
        return response


def _next(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return reverse("home")


def _code(request: HttpRequest) -> str:
    return "".join(request.POST.get("code", "").split())


def _no_store(response: HttpResponse) -> HttpResponse:
    response["Cache-Control"] = "no-store, private"
    return response


@login_required
@require_http_methods(["GET", "POST"])
def otp_setup(request: HttpRequest) -> HttpResponse:
    """Enrol an authenticator app: scan the QR code (or type the key), confirm with a code."""
    user = request.user
    if user_has_device(user):
        return _no_store(render(request, "accounts/otp_setup.html", {"enrolled": True}))
    # One pending device per user, kept across reloads so the scanned code stays the right one.
    device = TOTPDevice.objects.filter(user=user, confirmed=False).first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name="SEGIS", confirmed=False)
    error = None
    if request.method == "POST":
        if device.verify_token(_code(request)):
            device.confirmed = True
            device.save(update_fields=["confirmed"])
            otp_login(request, device)
            audit.record_event("otp.enrolled", request=request, actor=user)
            return redirect(_next(request))
        error = CODE_MESSAGE
        audit.record_event("otp.failed", request=request, actor=user)
    qr = segno.make(device.config_url, error="m")
    context = {
        "qr_svg": qr.svg_inline(scale=4, dark="#000", light="#fff"),
        "secret": base64.b32encode(device.bin_key).decode(),
        "error": error,
        "next": _next(request),
    }
    return _no_store(
        render(request, "accounts/otp_setup.html", context, status=400 if error else 200)
    )


@login_required
@require_http_methods(["GET", "POST"])
def otp_verify(request: HttpRequest) -> HttpResponse:
    """After signing in with the password, the code from the user's authenticator app."""
    user = request.user
    if not user_has_device(user):
        return redirect(f"{reverse('otp-setup')}?{urlencode({'next': _next(request)})}")
    error = None
    if request.method == "POST":
        # verify_token throttles each device after failures (django-otp's ThrottlingMixin).
        device = next(
            (
                d
                for d in TOTPDevice.objects.devices_for_user(user, confirmed=True)
                if d.verify_token(_code(request))
            ),
            None,
        )
        if device is not None:
            otp_login(request, device)
            return redirect(_next(request))
        error = CODE_MESSAGE
        audit.record_event("otp.failed", request=request, actor=user)
    return _no_store(
        render(
            request,
            "accounts/otp_verify.html",
            {"error": error, "next": _next(request)},
            status=400 if error else 200,
        )
    )
