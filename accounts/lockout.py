"""The answer to a locked-out sign-in (django-axes' AXES_LOCKOUT_CALLABLE): a bilingual page, or
the JSON error envelope, with status 429."""

from __future__ import annotations

from axes.helpers import get_cool_off
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from common.http import json_errors, wants_json

STATUS = 429


def lockout_message(request: HttpRequest) -> str:
    cool_off = get_cool_off(request)
    minutes = max(1, round(cool_off.total_seconds() / 60)) if cool_off else None
    if minutes is None:
        return (
            "登录失败次数过多，账号已锁定，请联系管理员解锁 / too many failed sign-ins: "
            "the account is locked until an administrator unlocks it"
        )
    return (
        f"登录失败次数过多，账号已锁定 {minutes} 分钟，请稍后再试或联系管理员解锁 / too many "
        f"failed sign-ins: locked for {minutes} minutes; try again later or ask an administrator "
        "to unlock it"
    )


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None = None, credentials=None
) -> HttpResponse:
    message = lockout_message(request)
    if wants_json(request):
        return json_errors({"username": message}, status=STATUS, rule="locked_out")
    return render(request, "registration/locked_out.html", {"message": message}, status=STATUS)
