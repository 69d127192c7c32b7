"""The chat page: ``GET /`` and its files under ``/ui/``, served from inside the package
(so from inside the archive), no token needed (every API call the page makes needs one).

Plain HTML, CSS and JavaScript in ``ui/``: no build step, no outside resource. Every answer
carries a strict Content-Security-Policy (scripts and styles only from the gateway itself,
no inline code, no ``eval``; connections only to the gateway and its ``/ws``; no framing),
``X-Content-Type-Options: nosniff`` and ``Referrer-Policy: no-referrer``. Off with
``[gateway] ui = false``: then ``/`` and ``/ui/*`` answer 404.
"""

import hashlib
import os
import re

from quart import Response, request

from blufio.plugins.gateway.errors import GatewayError

UI_DIRECTORY = os.path.join(os.path.dirname(__file__), "ui")
_TYPES = {".html": "text/html; charset=utf-8", ".css": "text/css; charset=utf-8",
          ".js": "text/javascript; charset=utf-8", ".svg": "image/svg+xml"}
# A Host header is echoed into the policy only when it is a plain host[:port].
_HOST = re.compile(r"^[A-Za-z0-9.\-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$")


def is_page_path(path):
    """Whether ``path`` belongs to the page (public, whether or not the page is on)."""
    return path == "/" or path.startswith("/ui/")


def page_files():
    """``{name: bytes}`` of every file of the page, read through the package's loader so
    that it works from a directory and from a zip archive alike."""
    names = ("index.html", "app.css", "markdown.js", "app.js", "icon.svg")
    return {name: __loader__.get_data(os.path.join(UI_DIRECTORY, name)) for name in names}


def content_security_policy(host):
    """The page's policy; ``connect-src`` names the gateway's own WebSocket origin, which
    older browsers do not count as ``'self'``."""
    sockets = f" ws://{host} wss://{host}" if host and _HOST.match(host) else ""
    return ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            f"connect-src 'self'{sockets}; base-uri 'none'; form-action 'none'; "
            "frame-ancestors 'none'")


def versioned(files):
    """``(files, etags)``: ``index.html`` names each file with ``?v=<its hash>``, so a
    browser may keep those files for good and still never runs a stale one."""
    etags = {name: hashlib.sha256(data).hexdigest()[:20] for name, data in files.items()}
    html = files["index.html"]
    for name, etag in etags.items():
        html = html.replace(f'"/ui/{name}"'.encode(), f'"/ui/{name}?v={etag}"'.encode())
    files = {**files, "index.html": html}
    return files, {**etags, "index.html": hashlib.sha256(html).hexdigest()[:20]}


def add_routes(app, gateway):
    """Serve the page on ``app`` when ``[gateway] ui`` is on."""
    if not gateway.ui:
        return
    files, etags = versioned(page_files())

    def answer(name):
        if name not in files or (name == "index.html" and request.path != "/"):
            raise GatewayError(404, f"not found: {request.method} {request.path}")
        if request.headers.get("if-none-match") == f'"{etags[name]}"':
            response = Response(b"", status=304)
        else:
            response = Response(files[name], content_type=_TYPES[os.path.splitext(name)[1]])
        current = name != "index.html" and request.args.get("v") == etags[name]
        response.headers.update({
            "content-security-policy": content_security_policy(request.host),
            "x-content-type-options": "nosniff",
            "referrer-policy": "no-referrer",
            "x-frame-options": "DENY",
            "cache-control": "public, max-age=31536000, immutable" if current else "no-cache",
            "etag": f'"{etags[name]}"'})
        return response

    @app.get("/")
    async def page():
        return answer("index.html")

    @app.get("/ui/<name>")
    async def page_file(name):
        return answer(name)


def openapi_paths(json_response, errors):
    """The OpenAPI paths of the page (when it is on)."""
    html = {"description": "The chat page",
            "content": {"text/html": {"schema": {"type": "string"}}}}
    return {
        "/": {"get": {"summary": "The chat page (no token; [gateway] ui)", "security": [],
                      "responses": {"200": html, **errors(404)}}},
        "/ui/{name}": {"get": {
            "summary": "A file of the chat page (no token)", "security": [],
            "parameters": [{"name": "name", "in": "path", "required": True,
                            "schema": {"type": "string"}}],
            "responses": {"200": {"description": "The file"}, **errors(404)}}}}
