"""``/admin/status``: the status page (HTML, or JSON for scripts), behind a bearer
token — or a console session, for someone logged in at ``/admin/login``."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from ...errors import ConfigError
from ...jobs.status import collect_status
from ..common import SECURITY_HEADERS, error_page, get_app, page, token_ok


async def admin_status(request: Request) -> Response:
    """The status for monitoring (bearer token) or for a logged-in console user."""
    from .session import current_visitor

    app = get_app(request)
    try:
        expected = app.config.web.admin_token()
    except ConfigError:
        expected = None
    if not token_ok(request, expected) and current_visitor(request) is None:
        if not expected:
            return error_page(
                request,
                403,
                "Chưa cấu hình mã quản trị",
                "Đặt web.admin_token_env hoặc web.admin_token_file trong cấu hình, "
                "hoặc đăng nhập bảng quản trị tại /admin/login.",
            )
        response = error_page(
            request,
            401,
            "Cần xác thực",
            "Trang này cần mã quản trị (Authorization: Bearer …); "
            "từ trình duyệt, hãy đăng nhập tại /admin/login.",
        )
        response.headers["WWW-Authenticate"] = 'Bearer realm="tgfeed"'
        return response
    status = collect_status(app)
    wants_json = request.query_params.get("format") == "json" or (
        "application/json" in request.headers.get("accept", "")
        and "text/html" not in request.headers.get("accept", "")
    )
    if wants_json:
        return JSONResponse(status, headers={"Cache-Control": "no-store", **SECURITY_HEADERS})
    response = page(request, "admin_status.html.j2", status=status)
    response.headers["Cache-Control"] = "no-store"
    return response


def routes() -> list[BaseRoute]:
    return [Route("/admin/status", admin_status, methods=["GET"])]
