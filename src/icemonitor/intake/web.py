"""The intake's routers: the public form under /intake and the staff inbox under /staff.

Every response from these routes carries strict security headers and `Cache-Control: no-store`.
Handlers never log, echo in errors, or write to files anything a person typed: failures are logged
by exception class name only.
"""

from __future__ import annotations

import hmac
import logging
import os
import re
import secrets
import stat
import time
from collections.abc import Callable
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any

import pyotp
import yaml
from fastapi import APIRouter, FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool
from jinja2 import Environment, FileSystemLoader
from markupsafe import Markup
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.formparsers import MultiPartException

from icemonitor import config
from icemonitor.intake import audit, auth
from icemonitor.intake.db import Database
from icemonitor.intake.keys import IntakeKeyError, read_key_file
from icemonitor.intake.limits import AlertGate, LoginLockout, RateLimiter
from icemonitor.intake.pdf import warn_missing_fonts
from icemonitor.intake.settings import IntakeSettings
from icemonitor.intake.store import LANGUAGES, SITUATIONS, STATUSES, URGENCIES, RequestNotFound, Vault

log = logging.getLogger("icemonitor.intake")
HERE = Path(__file__).parent
SESSION_COOKIE = "icemonitor_staff"
LOGIN_CSRF_COOKIE = "icemonitor_login_csrf"
MAX_BODY = config.INTAKE_MAX_BODY
MAX_FIELDS = 60
LIMITS = {"name": 200, "phone": 100, "email": 200, "trusted_contact": 300, "place": 200, "message": 5000}
CSP = ("default-src 'self'; script-src 'none'; object-src 'none'; base-uri 'none'; "
       "form-action 'self'; frame-ancestors 'none'; img-src 'self'; style-src 'self'")
SITUATION_LABELS = {
    "detained_now": "Someone is detained now", "home_or_work_visit": "ICE came to home or workplace",
    "notice_to_appear": "Notice to Appear or court date", "prior_order": "Prior deportation order",
    "criminal_case": "Pending criminal case", "other": "Other",
}


def security_headers(response: Response, *, hsts: bool) -> Response:
    h = response.headers
    h["Content-Security-Policy"] = CSP
    h["Referrer-Policy"] = "no-referrer"
    h["X-Content-Type-Options"] = "nosniff"
    h["X-Frame-Options"] = "DENY"
    h["Cross-Origin-Opener-Policy"] = "same-origin"
    h["Cross-Origin-Resource-Policy"] = "same-origin"
    h["Permissions-Policy"] = "geolocation=(), camera=(), microphone=(), interest-cohort=()"
    h["Cache-Control"] = "no-store"
    if hsts:
        h["Strict-Transport-Security"] = "max-age=31536000"
    return response


def guarded_route(hsts: bool) -> type[APIRoute]:
    """A route class that adds security headers and turns every failure into a response with no user data."""

    class GuardedRoute(APIRoute):
        def get_route_handler(self) -> Callable:
            original = super().get_route_handler()

            async def handler(request: Request) -> Response:
                try:
                    if "\x00" in request.url.path or _has_nul(*request.query_params.values()):
                        raise HTTPException(400)  # a NUL is never stored, looked up or shown
                    response = await original(request)
                except HTTPException as exc:
                    response = _error_response(request, exc.status_code, exc.headers)
                except RequestValidationError:
                    response = _error_response(request, 400, None)
                except Exception as exc:  # noqa: BLE001 - the class name only: messages may hold user data
                    log.error("intake: internal error (%s) on %s", type(exc).__name__, request.scope.get("route").path
                              if request.scope.get("route") else "?")
                    response = _error_response(request, 500, None)
                return security_headers(response, hsts=hsts)

            return handler

    return GuardedRoute


def _error_response(request: Request, status: int, headers: dict | None) -> Response:
    if status in (301, 302, 303, 307) and headers:
        return Response(status_code=status, headers=headers)
    if request.url.path.startswith("/staff/api"):
        return JSONResponse({"error": _STATUS_TEXT.get(status, "error")}, status_code=status)
    return HTMLResponse(f"<!doctype html><title>{status}</title><p>{_STATUS_TEXT.get(status, 'Error')}</p>",
                        status_code=status)


LOGIN_FAILED = ("Wrong username, password or code. After {failures} failures from one place, logging in to that "
                "account from there is refused for {minutes} minutes.")
_STATUS_TEXT = {400: "Bad request", 401: "Login required", 403: "Forbidden", 404: "Not found", 411: "Length required",
                413: "Too large", 429: "Too many requests", 500: "Something went wrong; nothing was saved"}


@lru_cache(maxsize=1)
def strings() -> dict[str, dict[str, str]]:
    return yaml.safe_load((HERE / "data" / "strings.yaml").read_text(encoding="utf-8"))


def load_detained_text(path: Path | None) -> dict[str, Any]:
    """The office's 'someone is detained now' text (EN and ES), from its data file."""
    data = yaml.safe_load((path or HERE / "data" / "detained_now.yaml").read_text(encoding="utf-8"))
    for lang in ("en", "es"):
        if not isinstance(data.get(lang), dict) or not data[lang].get("steps"):
            raise IntakeKeyError(f"{path or 'detained_now.yaml'}: needs `steps` in both en and es")
    return data


# C0/C1 controls (but tab and newline), bidi embeddings, overrides and isolates, zero-width and invisible marks
_HIDDEN = re.compile("[\x00-\x08\x0b-\x0c\x0e-\x1f\x7f-\x9f\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2064"
                     "\u2066-\u2069\ufeff\ufff9-\ufffb]")


def display_text(value: Any) -> Any:
    """Every value a template prints: a control or bidi character is shown as [U+XXXX], never applied, so
    right-to-left overrides cannot disguise what a person wrote (the stored text is unchanged)."""
    if isinstance(value, str) and _HIDDEN.search(value):
        shown = _HIDDEN.sub(lambda m: f"[U+{ord(m.group()):04X}]", str(value))
        return Markup(shown) if isinstance(value, Markup) else shown
    return value


def _utc(ts: Any) -> str:
    if ts is None or ts == "":
        return ""
    return datetime.fromtimestamp(int(ts), timezone.utc).strftime("%Y-%m-%d %H:%M")


def check_key_file(path: Path) -> bytes:
    """Read the master key; refuse a key file that other users can read."""
    key = read_key_file(path)
    if os.name == "posix" and stat.S_IMODE(path.stat().st_mode) & 0o077:
        raise IntakeKeyError(f"intake master key file {path} is readable by other users: run `chmod 600 {path}`")
    return key


class IntakeApp:
    """The intake's running state: settings, the opened vault, limiters and templates."""

    def __init__(self, settings: IntakeSettings) -> None:
        self.settings = settings
        self.routers: list[APIRouter] = []
        key_file = Path(settings.key_file)
        self.vault = Vault(Database(settings.db_url, settings.audit_anchor_file), check_key_file(key_file),
                           key_file).open()
        self.detained = load_detained_text(settings.detained_now_file)
        strings()  # a broken wording file stops the start, not a person's submission
        warn_missing_fonts()
        self.public_limiter = RateLimiter(settings.public_per_client_per_minute)  # stored submissions, per client
        self.invalid_limiter = RateLimiter(settings.public_invalid_per_client_per_minute)  # refused posts, per client
        self.stored_limiter = RateLimiter(settings.public_global_per_minute)  # stored non-urgent ones, in all
        self.login_limiter = RateLimiter(settings.login_attempts_per_minute)
        self.lockout = LoginLockout(settings.login_max_failures, settings.lockout_seconds)
        self.alerts = AlertGate(self._notify, per_source=settings.urgent_alerts_per_source,
                                overall=settings.urgent_alerts_per_period,
                                period=settings.urgent_alert_period_seconds) if settings.notify else None
        self.env = Environment(loader=FileSystemLoader(str(HERE / "templates")), autoescape=True, finalize=display_text)
        self.env.filters["utc"] = _utc

    def _notify(self, message: str) -> None:
        """Send one staff alert with the audit log's anchor (rows and head hash); never raises."""
        try:
            rows, head = audit.head(self.vault.db)
            self.settings.notify(f"{message} {audit.anchor_text(rows, head)}")
        except Exception as exc:  # noqa: BLE001 - an alert failure never reaches the person's submission
            log.error("intake: urgent-request notification failed (%s)", type(exc).__name__)

    def render(self, name: str, status: int = 200, **ctx: Any) -> HTMLResponse:
        session = ctx.get("session")
        if session is not None and "admin" in session.viewer.roles:  # other admins' account changes, announced
            ctx.setdefault("account_changes", auth.account_changes(self.vault, session.viewer))
        return HTMLResponse(self.env.get_template(name).render(**ctx), status_code=status)

    def session(self, request: Request) -> auth.Session | None:
        s = self.settings
        return auth.session_for(self.vault, request.cookies.get(SESSION_COOKIE),
                                idle_seconds=s.session_idle_seconds, absolute_seconds=s.session_absolute_seconds)


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def _form(request: Request, *, allow_nul: bool = False) -> Any:
    """The posted form: 411 without a length, 413 over MAX_BODY or MAX_FIELDS, 400 for a file or a malformed
    body, 400 for a NUL character anywhere (it is never stored; allow_nul: the caller explains it instead)."""
    length = request.headers.get("content-length")
    if length is None:
        raise HTTPException(411)  # browsers always send it for forms; a body of unknown size is refused
    if not length.isdigit() or int(length) > MAX_BODY:
        raise HTTPException(413)
    try:
        form = await request.form(max_files=0, max_fields=MAX_FIELDS)
    except MultiPartException:
        raise HTTPException(400) from None
    except StarletteHTTPException as exc:  # Starlette's own refusal of too many fields or files
        raise HTTPException(413 if "fields" in str(exc.detail).lower() else 400) from None
    if len(form.multi_items()) > MAX_FIELDS:  # url-encoded bodies are not counted by the parser
        raise HTTPException(413)
    if any(not isinstance(v, str) for _, v in form.multi_items()):
        raise HTTPException(400)
    if not allow_nul and _has_nul(*(v for _, v in form.multi_items())):
        raise HTTPException(400)
    return form


def _has_nul(*values: str) -> bool:
    return any("\x00" in v for v in values)


def public_router(ia: IntakeApp) -> APIRouter:
    router = APIRouter(route_class=guarded_route(ia.settings.cookie_secure))

    def lang_of(request: Request, form: Any = None) -> str:
        lang = (form.get("lang") if form is not None else None) or request.query_params.get("lang", "en")
        return lang if lang in ("en", "es") else "en"

    def page(lang: str, values: dict, errors: list[str], status: int = 200) -> HTMLResponse:
        t = strings()[lang]
        return ia.render("form.html", status, lang=lang, t=t, page_title=t["title"], v=values, errors=errors,
                         limits=LIMITS, languages=LANGUAGES, situations=SITUATIONS, urgencies=URGENCIES,
                         retention_text=t["notice_retention"].format(days=ia.settings.retention_days))

    @router.get("/intake/static/intake.css", include_in_schema=False)
    def css() -> FileResponse:
        return FileResponse(HERE / "static" / "intake.css", media_type="text/css")

    @router.get("/intake", response_class=HTMLResponse, include_in_schema=False)
    def form_page(request: Request) -> HTMLResponse:
        lang = lang_of(request)
        return page(lang, {"language": lang}, [])

    @router.post("/intake", response_class=HTMLResponse, include_in_schema=False)
    async def submit(request: Request) -> HTMLResponse:
        form = await _form(request, allow_nul=True)  # the page says what is wrong
        lang = lang_of(request, form)
        t = strings()[lang]
        values = {k: str(form.get(k) or "").strip() for k in (*LIMITS, "language", "situation", "urgency")}
        client = _client(request)
        errors = []
        if _has_nul(*values.values()):
            errors.append(t["err_char"])
            values = {k: v.replace("\x00", "") for k, v in values.items()}
        if any(len(values[k]) > n for k, n in LIMITS.items()):
            errors.append(t["err_long"])
        if not (values["phone"] or values["email"] or values["trusted_contact"]):
            errors.append(t["err_contact"])
        if values["situation"] not in SITUATIONS:
            errors.append(t["err_situation"])
        if values["urgency"] not in URGENCIES:
            errors.append(t["err_urgency"])
        if form.get("consent") != "yes":
            errors.append(t["err_consent"])
        if values["language"] not in LANGUAGES:
            values["language"] = "other"
        if errors:  # a refused post counts against its own client only, never against anyone's submissions
            if not ia.invalid_limiter.allow(client):
                return page(lang, values, [t["err_rate"]], 429)
            return page(lang, values, errors, 400)
        urgency = "urgent" if values["situation"] == "detained_now" else values["urgency"]
        if not ia.public_limiter.allow(client):
            return page(lang, values, [t["err_rate"]], 429)
        if urgency != "urgent" and not ia.stored_limiter.allow("all"):  # urgent requests always get through
            return page(lang, values, [t["err_busy"]], 429)
        burst = ia.alerts.burst(client) if urgency == "urgent" and ia.alerts is not None else 0
        reference = await run_in_threadpool(ia.vault.create_request, values, urgency, burst)
        log.info("intake: request stored (urgency %s)", urgency)
        if urgency == "urgent" and ia.alerts is not None:
            await run_in_threadpool(ia.alerts.submit, client, reference)
        detained = ia.detained[lang] if values["situation"] == "detained_now" else None
        return ia.render("thanks.html", lang=lang, t=t, page_title=t["thanks_title"], reference=reference,
                         detained=detained, office_phone=ia.settings.office_phone)

    return router


def staff_router(ia: IntakeApp) -> APIRouter:
    router = APIRouter(route_class=guarded_route(ia.settings.cookie_secure))
    s = ia.settings

    def require(request: Request) -> auth.Session:
        session = ia.session(request)
        if session is None:
            if request.url.path.startswith("/staff/api"):
                raise HTTPException(401)
            raise HTTPException(303, headers={"Location": "/staff/login"})
        return session

    async def require_post(request: Request) -> tuple[auth.Session, Any]:
        session = require(request)
        form = await _form(request)
        token = str(form.get("csrf") or "")
        if not token or not hmac.compare_digest(token, session.csrf):
            raise HTTPException(403)
        return session, form

    def readers_only(session: auth.Session) -> None:
        if not session.viewer.reads_requests:
            raise HTTPException(403)

    def admin_only(session: auth.Session) -> None:
        if "admin" not in session.viewer.roles:
            raise HTTPException(403)

    def staff_names() -> list[str]:
        return [u["username"] for u in auth.list_users(ia.vault)
                if {"reviewer", "attorney"} & set(u["roles"].split(","))]

    def back_to(reference: str) -> RedirectResponse:
        return RedirectResponse(f"/staff/requests/{reference}", status_code=303)

    # -- login -------------------------------------------------------------------------------
    def login_page(error: str = "", status: int = 200) -> HTMLResponse:
        token = secrets.token_urlsafe(32)
        resp = ia.render("login.html", status, lang="en", page_title="Staff login", csrf=token, error=error,
                         session=None, body_class="staff")
        resp.set_cookie(LOGIN_CSRF_COOKIE, token, path="/staff/login", secure=s.cookie_secure, httponly=True,
                        samesite="strict", max_age=1800)
        return resp

    @router.get("/staff/login", include_in_schema=False)
    def login_form() -> HTMLResponse:
        return login_page()

    @router.post("/staff/login", include_in_schema=False)
    async def login_submit(request: Request) -> Response:
        form = await _form(request)
        expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
        token = str(form.get("csrf") or "")
        if not expected or not token or not hmac.compare_digest(expected, token):
            raise HTTPException(403)
        client = _client(request)
        if not ia.login_limiter.allow(client):
            return login_page("Too many login attempts. Wait a minute.", 429)
        username = str(form.get("username") or "")[:64]
        locked_out = ia.lockout.locked(username, client)
        result = await run_in_threadpool(  # argon2 takes a while: not on the event loop
            auth.login, ia.vault, username, str(form.get("password") or "")[:1024],
            str(form.get("code") or "")[:16], locked_out=locked_out)
        if not result.ok:  # one answer for unknown, wrong, disabled and locked out: nothing to tell them apart
            ia.lockout.failed(username, client)
            return login_page(LOGIN_FAILED.format(failures=s.login_max_failures, minutes=s.lockout_seconds // 60), 401)
        ia.lockout.succeeded(username, client)
        old = ia.session(request)
        if old is not None:
            auth.logout(ia.vault, old)
        resp = RedirectResponse("/staff", status_code=303)
        resp.set_cookie(SESSION_COOKIE, result.token, path="/staff", secure=s.cookie_secure, httponly=True,
                        samesite="strict")
        resp.delete_cookie(LOGIN_CSRF_COOKIE, path="/staff/login")
        return resp

    @router.post("/staff/logout", include_in_schema=False)
    async def logout(request: Request) -> Response:
        session, _ = await require_post(request)
        auth.logout(ia.vault, session)
        resp = RedirectResponse("/staff/login", status_code=303)
        resp.delete_cookie(SESSION_COOKIE, path="/staff")
        return resp

    # -- inbox and requests ------------------------------------------------------------------
    def filters_of(request: Request) -> dict[str, str]:
        q = request.query_params
        return {k: (q.get(k) or "")[:64] for k in ("status", "urgency", "assigned")}

    @router.get("/staff", include_in_schema=False)
    def inbox(request: Request) -> HTMLResponse:
        session = require(request)
        filters = filters_of(request)
        rows = ia.vault.list_requests(session.viewer, **filters)
        return ia.render("inbox.html", lang="en", page_title="Requests", session=session, requests=rows,
                         filters=filters, statuses=STATUSES, urgencies=URGENCIES, situation_labels=SITUATION_LABELS,
                         body_class="staff")

    def load(session: auth.Session, reference: str, action: str = "view") -> dict[str, Any]:
        readers_only(session)
        try:
            return ia.vault.get_request(session.viewer, reference[:32], action=action)
        except RequestNotFound:
            raise HTTPException(404) from None

    @router.get("/staff/requests/{reference}", include_in_schema=False)
    def request_page(request: Request, reference: str) -> HTMLResponse:
        session = require(request)
        r = load(session, reference)
        context, context_error = None, False
        if s.context_provider is not None:
            try:
                context = dict(s.context_provider(r["place"]) or {})
            except Exception as exc:  # noqa: BLE001
                log.error("intake: context provider failed (%s)", type(exc).__name__)
                context, context_error = {}, True
        return ia.render("request.html", lang="en", page_title=f"Request {r['reference']}", session=session, r=r,
                         statuses=STATUSES, staff=staff_names(), situation_labels=SITUATION_LABELS,
                         context=context, context_error=context_error, body_class="staff")

    @router.post("/staff/requests/{reference}/status", include_in_schema=False)
    async def set_status(request: Request, reference: str) -> Response:
        session, form = await require_post(request)
        readers_only(session)
        status = str(form.get("status") or "")
        if status not in STATUSES:
            raise HTTPException(400)
        try:
            ia.vault.set_status(session.viewer, reference[:32], status)
        except RequestNotFound:
            raise HTTPException(404) from None
        return back_to(reference)

    @router.post("/staff/requests/{reference}/assign", include_in_schema=False)
    async def assign(request: Request, reference: str) -> Response:
        session, form = await require_post(request)
        readers_only(session)
        try:
            ia.vault.assign(session.viewer, reference[:32], str(form.get("assignee") or "")[:64])
        except RequestNotFound:
            raise HTTPException(404) from None
        except ValueError:
            raise HTTPException(400) from None
        return RedirectResponse("/staff", status_code=303)

    @router.post("/staff/requests/{reference}/notes", include_in_schema=False)
    async def add_note(request: Request, reference: str) -> Response:
        session, form = await require_post(request)
        readers_only(session)
        text = str(form.get("text") or "").strip()
        if not text or len(text) > 10000:
            raise HTTPException(400)
        try:
            ia.vault.add_note(session.viewer, reference[:32], text)
        except RequestNotFound:
            raise HTTPException(404) from None
        return back_to(reference)

    @router.get("/staff/requests/{reference}/export.pdf", include_in_schema=False)
    def export_pdf(request: Request, reference: str) -> Response:
        session = require(request)
        if "attorney" not in session.viewer.roles:
            raise HTTPException(403)
        r = load(session, reference, action="export")
        from icemonitor.intake.pdf import render_pdf

        html = ia.env.get_template("export.html").render(
            r=r, situation_labels=SITUATION_LABELS, exported_by=session.viewer.username,
            exported_at=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M"))
        return Response(render_pdf(html), media_type="application/pdf",
                        headers={"Content-Disposition": f'attachment; filename="request-{r["reference"]}.pdf"'})

    # -- JSON API ----------------------------------------------------------------------------
    @router.get("/staff/api/requests")
    def api_list(request: Request) -> JSONResponse:
        session = require(request)
        readers_only(session)
        rows = ia.vault.list_requests(session.viewer, **filters_of(request))
        keep = ("reference", "urgency", "status", "assigned_to", "created_at", "situation", "place")
        return JSONResponse([{k: r[k] for k in keep} for r in rows])

    @router.get("/staff/api/requests/{reference}")
    def api_one(request: Request, reference: str) -> JSONResponse:
        session = require(request)
        r = load(session, reference)
        return JSONResponse({k: v for k, v in r.items() if k not in ("id",)})

    # -- admin -------------------------------------------------------------------------------
    def users_page(session: auth.Session, **extra: Any) -> HTMLResponse:
        return ia.render("users.html", extra.pop("status", 200), lang="en", page_title="Accounts", session=session,
                         users=auth.list_users(ia.vault), roles=auth.ROLES, now=int(time.time()),
                         retention_days=s.retention_days, body_class="staff", **extra)

    @router.get("/staff/admin/users", include_in_schema=False)
    def users(request: Request) -> HTMLResponse:
        session = require(request)
        admin_only(session)
        return users_page(session)

    def enrol_link(request: Request, token: str) -> str:
        return str(request.base_url).rstrip("/") + f"/staff/enrol/{token}"

    @router.post("/staff/admin/users", include_in_schema=False)
    async def add_user(request: Request) -> HTMLResponse:
        session, form = await require_post(request)
        admin_only(session)
        username = str(form.get("username") or "")[:64]
        try:
            token = auth.add_user(ia.vault, username, [str(r) for r in form.getlist("roles")],
                                  actor=session.viewer.username)
        except auth.AccountError as exc:
            return users_page(session, error=str(exc), status=400)
        return users_page(session, link_user=username, link=enrol_link(request, token))

    @router.post("/staff/admin/users/{username}/{action}", include_in_schema=False)
    async def account_action(request: Request, username: str, action: str) -> Response:
        """unlock, disable, enable, end-sessions, reset (a new enrolment link), roles, delete: all audited."""
        session, form = await require_post(request)
        admin_only(session)
        username, actor = username[:64], session.viewer.username
        try:
            if action == "unlock":
                auth.unlock_user(ia.vault, username, actor=actor)
                ia.lockout.clear(username)
            elif action in ("disable", "enable"):
                auth.set_disabled(ia.vault, username, action == "disable", actor=actor)
            elif action == "end-sessions":
                auth.end_sessions(ia.vault, username, actor=actor)
            elif action == "roles":
                auth.set_roles(ia.vault, username, [str(r) for r in form.getlist("roles")], actor=actor)
            elif action == "delete":
                if str(form.get("confirm") or "") != username:
                    raise auth.AccountError("type the username to confirm deleting the account")
                auth.delete_user(ia.vault, username, actor=actor)
            elif action == "reset":
                token = auth.reset_user(ia.vault, username, actor=actor)
                return users_page(session, link_user=username, link=enrol_link(request, token))
            else:
                raise HTTPException(404)
        except auth.AccountError as exc:
            return users_page(session, error=str(exc), status=400)
        return RedirectResponse("/staff/admin/users", status_code=303)

    # -- enrolment: the person's own first login -------------------------------------------------
    def enrol_page(token: str, error: str = "", status: int = 200) -> HTMLResponse:
        started = auth.start_enrolment(ia.vault, token[:200], new_secret=not error)  # a retry keeps its secret
        if started is None:
            raise HTTPException(404)
        username, secret = started
        uri = pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name="icemonitor intake")
        return ia.render("enrol.html", status, lang="en", page_title="Set up your account", session=None,
                         username=username, secret=secret, uri=uri, token=token, error=error,
                         min_password=auth.MIN_PASSWORD, body_class="staff")

    @router.get("/staff/enrol/{token}", include_in_schema=False)
    def enrol_form(token: str) -> HTMLResponse:
        return enrol_page(token)

    @router.post("/staff/enrol/{token}", include_in_schema=False)
    async def enrol_submit(request: Request, token: str) -> Response:
        form = await _form(request)
        try:
            await run_in_threadpool(auth.finish_enrolment, ia.vault, token[:200], str(form.get("password") or "")[:1024],
                                    str(form.get("code") or "")[:16])
        except auth.AccountError as exc:
            if "not valid" in str(exc):
                raise HTTPException(404) from None
            return enrol_page(token, str(exc), 400)
        return RedirectResponse("/staff/login", status_code=303)

    @router.post("/staff/admin/purge", include_in_schema=False)
    async def purge(request: Request) -> Response:
        session, _ = await require_post(request)
        admin_only(session)
        done = ia.vault.purge(s.retention_days, actor=session.viewer.username)
        return users_page(session, flash=f"{len(done)} expired requests shredded.")

    @router.post("/staff/admin/delete", include_in_schema=False)
    async def delete(request: Request) -> Response:
        session, form = await require_post(request)
        admin_only(session)
        try:
            ia.vault.delete_request(session.viewer.username, str(form.get("reference") or "")[:32].strip())
        except RequestNotFound:
            return users_page(session, error="No request with that reference (or already shredded).", status=404)
        return users_page(session, flash="Request shredded.")

    @router.get("/staff/admin/audit", include_in_schema=False)
    def audit_page(request: Request) -> HTMLResponse:
        session = require(request)
        admin_only(session)
        return ia.render("audit.html", lang="en", page_title="Audit log", session=session,
                         check=audit.verify(ia.vault.db, ia.vault.audit_key), rows=audit.recent(ia.vault.db), body_class="staff")

    return router


def mount(app: FastAPI, settings: IntakeSettings) -> IntakeApp:
    """Open the intake (raising IntakeKeyError on a missing or wrong key) and include its routers in app."""
    ia = IntakeApp(settings)
    ia.routers = [public_router(ia), staff_router(ia)]
    for router in ia.routers:
        app.include_router(router)
    app.state.intake = ia
    return ia
