"""The end-user chat page (``/chat/<app_id>/``): plain HTML + a little JavaScript that
talks to the Service API with a short-lived web token (see ``auth.py``)."""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from apps.core.errors import AppError
from apps.tenants.models import Workspace
from apps.workflows.models import App
from apps.workflows.parameters import app_parameters
from apps.workflows.web.auth import web_token_max_age, web_token_mint, web_user_new


def _site_app(app_id: Any) -> App:
    app = (
        App.objects.select_related("workspace")
        .filter(pk=app_id, enable_site=True, workspace__status=Workspace.Status.NORMAL)
        .first()
    )
    if app is None:
        raise Http404("app not found")
    return app


def _passport(request: HttpRequest, app: App) -> dict[str, Any]:
    """The visitor's end-user id (kept in the session) and a fresh token for it."""
    key = f"web_user:{app.pk}"
    user = request.session.get(key)
    if not isinstance(user, str) or not user:
        user = web_user_new()
        request.session[key] = user
    return {"token": web_token_mint(app=app, user=user), "user": user}


@require_GET
def chat_page(request: HttpRequest, app_id: Any) -> HttpResponse:
    app = _site_app(app_id)
    try:
        parameters = app_parameters(app=app)
    except AppError:
        parameters = {"opening_statement": "", "suggested_questions": [], "user_input_form": []}
    config = {
        **_passport(request, app),
        "app_id": str(app.pk),
        "mode": app.mode,
        "api_base": "/v1",
        "token_url": request.path.rstrip("/") + "/token",
        "token_max_age": web_token_max_age(),
        "opening_statement": parameters.get("opening_statement") or "",
        "suggested_questions": parameters.get("suggested_questions") or [],
        "user_input_form": parameters.get("user_input_form") or [],
    }
    return render(request, "web/chat.html", {"app": app, "config": config})


@require_GET
def chat_token(request: HttpRequest, app_id: Any) -> JsonResponse:
    """A new token for the same visitor (the page asks when its token expires)."""
    app = _site_app(app_id)
    response = JsonResponse(_passport(request, app))
    response["Cache-Control"] = "no-store"
    return response
