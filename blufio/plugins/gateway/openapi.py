"""The OpenAPI 3.1 document served at ``/v1/openapi.json``.

A test checks that it names every route the app serves, with its methods, and no other.
"""

import blufio
from blufio.model import USAGE_FIELDS
from blufio.plugins.gateway import page, schedules, usage

_ERROR = {"$ref": "#/components/schemas/Error"}


def _json(schema, description):
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*statuses):
    return {str(status): _json(_ERROR, "An error in Anthropic's envelope") for status in statuses}


_CONTENT = {"oneOf": [{"type": "string", "minLength": 1},
                      {"type": "array", "minItems": 1,
                       "items": {"type": "object", "required": ["type"],
                                 "properties": {"type": {"type": "string"}}}}]}

_SCHEMAS = {
    "Error": {
        "type": "object", "required": ["type", "error"],
        "properties": {
            "type": {"const": "error"},
            "error": {"type": "object", "required": ["type", "message"],
                      "properties": {"type": {"type": "string"}, "message": {"type": "string"}}},
            "request_id": {"type": "string"},
        },
    },
    "MessagesRequest": {
        "type": "object", "required": ["model", "max_tokens", "messages"],
        "description": "Anthropic's Messages API request (docs/gateway.md has every field). "
                       "The owner's system prompt comes first, the client's system after it; "
                       "client tools are offered beside the agent's; max_tokens is capped by "
                       "the owner; a model not in GET /v1/models gets the default. Unknown "
                       "fields are ignored.",
        "properties": {
            "model": {"type": "string", "minLength": 1},
            "max_tokens": {"type": "integer", "minimum": 1},
            "stream": {"type": "boolean"},
            "system": {"oneOf": [{"type": "string"}, {"type": "array"}]},
            "messages": {"type": "array", "minItems": 1, "items": {
                "type": "object", "required": ["role", "content"],
                "properties": {"role": {"enum": ["user", "assistant", "system"]},
                               "content": _CONTENT}}},
            "tools": {"type": "array", "items": {
                "type": "object", "required": ["name"],
                "properties": {"name": {"type": "string", "pattern": "^[a-zA-Z0-9_-]{1,128}$"},
                               "description": {"type": "string"},
                               "input_schema": {"type": "object"}}}},
            "tool_choice": {"type": "object", "required": ["type"], "properties": {
                "type": {"enum": ["auto", "any", "tool", "none"]}, "name": {"type": "string"},
                "disable_parallel_tool_use": {"type": "boolean"}}},
            "stop_sequences": {"type": "array", "items": {"type": "string"}},
            "temperature": {"type": "number", "minimum": 0, "maximum": 1},
            "top_p": {"type": "number", "minimum": 0, "maximum": 1},
            "top_k": {"type": "integer", "minimum": 0},
            "thinking": {"type": "object", "required": ["type"], "properties": {
                "type": {"enum": ["enabled", "disabled"]},
                "budget_tokens": {"type": "integer", "minimum": 1024}}},
            "metadata": {"type": "object", "properties": {"user_id": {"type": "string"}}},
        },
    },
    "CountTokensRequest": {
        "allOf": [{"$ref": "#/components/schemas/MessagesRequest"}],
        "description": "As MessagesRequest; max_tokens and stream are not needed.",
    },
    "TokenCount": {
        "type": "object", "required": ["input_tokens"],
        "properties": {"input_tokens": {"type": "integer"}},
    },
    "Model": {
        "type": "object", "required": ["type", "id", "display_name", "created_at"],
        "properties": {"type": {"const": "model"}, "id": {"type": "string"},
                       "display_name": {"type": "string"}, "created_at": {"type": "string"}},
    },
    "ModelList": {
        "type": "object", "required": ["data", "has_more", "first_id", "last_id"],
        "properties": {"data": {"type": "array", "items": {"$ref": "#/components/schemas/Model"}},
                       "has_more": {"type": "boolean"},
                       "first_id": {"type": ["string", "null"]},
                       "last_id": {"type": ["string", "null"]}},
    },
    "Usage": {
        "type": "object",
        "properties": {name: {"type": "integer"} for name in USAGE_FIELDS},
    },
    "Message": {
        "type": "object",
        "required": ["id", "type", "role", "model", "content", "stop_reason", "usage"],
        "properties": {
            "id": {"type": "string"}, "type": {"const": "message"},
            "role": {"const": "assistant"}, "model": {"type": "string"},
            "content": {"type": "array", "items": {"type": "object"}},
            "stop_reason": {"type": ["string", "null"]},
            "stop_sequence": {"type": ["string", "null"]},
            "usage": {"$ref": "#/components/schemas/Usage"},
        },
    },
    "Session": {
        "type": "object",
        "required": ["id", "channel", "created_at", "updated_at", "message_count"],
        "properties": {"id": {"type": "string"}, "channel": {"type": "string"},
                       "created_at": {"type": "string"}, "updated_at": {"type": "string"},
                       "message_count": {"type": "integer"}},
    },
    "SessionList": {
        "type": "object", "required": ["data", "has_more", "total", "limit", "offset"],
        "properties": {"data": {"type": "array", "items": {"$ref": "#/components/schemas/Session"}},
                       "has_more": {"type": "boolean"}, "total": {"type": "integer"},
                       "limit": {"type": "integer"}, "offset": {"type": "integer"}},
    },
    "SessionWithMessages": {
        "allOf": [{"$ref": "#/components/schemas/Session"}, {
            "type": "object", "required": ["messages"],
            "properties": {"messages": {"type": "array", "items": {"type": "object"}}}}],
    },
    "Memory": {
        "type": "object", "required": ["id", "text", "created_at", "tags"],
        "properties": {"id": {"type": "string", "description": "mem_<n>"},
                       "text": {"type": "string"}, "created_at": {"type": "string"},
                       "tags": {"type": "array", "items": {"type": "string"}},
                       "session_id": {"type": ["string", "null"]},
                       "channel": {"type": "string"}},
    },
    "MemoryList": {
        "type": "object", "required": ["data", "has_more", "total", "limit", "offset"],
        "properties": {"data": {"type": "array", "items": {"$ref": "#/components/schemas/Memory"}},
                       "has_more": {"type": "boolean"}, "total": {"type": "integer"},
                       "limit": {"type": "integer"}, "offset": {"type": "integer"}},
    },
    "MemoryHit": {
        "type": "object", "required": ["id", "kind", "text", "created_at", "score"],
        "properties": {"id": {"type": "string", "description": "mem_<n> or msg_<n>"},
                       "kind": {"enum": ["memory", "message"]}, "text": {"type": "string"},
                       "created_at": {"type": "string"},
                       "session_id": {"type": ["string", "null"]},
                       "channel": {"type": "string"}, "role": {"type": "string"},
                       "score": {"type": "number"}},
    },
    "MemorySearch": {
        "type": "object", "required": ["data", "query", "limit"],
        "properties": {"data": {"type": "array",
                                "items": {"$ref": "#/components/schemas/MemoryHit"}},
                       "query": {"type": "string"}, "limit": {"type": "integer"}},
    },
    "Health": {
        "type": "object", "required": ["status", "version", "plugins"],
        "properties": {"status": {"enum": ["ok", "degraded", "down"]},
                       "version": {"type": "string"},
                       "plugins": {"type": "object", "additionalProperties": {"type": "object"}}},
    },
}


def openapi_document(metrics=False, ui=False):
    """The document for this app; ``/metrics`` is listed when the prometheus plugin runs,
    the chat page when ``[gateway] ui`` is on."""
    session_header = {"name": "x-blufio-session", "in": "header", "required": False,
                      "schema": {"type": "string"},
                      "description": "Continue this session; without it a new session is "
                                     "seeded with the request's messages"}
    beta_header = {"name": "anthropic-beta", "in": "header", "required": False,
                   "schema": {"type": "string"},
                   "description": "Beta flags; those the provider plugin knows are forwarded"}
    idempotency_header = {"name": "Idempotency-Key", "in": "header", "required": False,
                          "schema": {"type": "string"},
                          "description": "A repeat gets the first answer (409 while it runs)"}
    beta_query = {"name": "beta", "in": "query", "required": False,
                  "schema": {"type": "boolean"}, "description": "Accepted and ignored"}
    paths = {
        "/v1/messages": {"post": {
            "summary": "Send a turn to the agent (Anthropic's Messages API)",
            "parameters": [session_header, beta_header, idempotency_header, beta_query],
            "requestBody": {"required": True, "content": {"application/json": {
                "schema": {"$ref": "#/components/schemas/MessagesRequest"}}}},
            "responses": {
                "200": {"description": "The reply, or with stream=true its server-sent events",
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Message"}},
                                    "text/event-stream": {"schema": {"type": "string"}}}},
                **_errors(400, 401, 402, 404, 409, 413, 429, 500, 503, 529)}}},
        "/v1/messages/count_tokens": {"post": {
            "summary": "Count the input tokens the provider would receive for a request",
            "parameters": [session_header, beta_header, beta_query],
            "requestBody": {"required": True, "content": {"application/json": {
                "schema": {"$ref": "#/components/schemas/CountTokensRequest"}}}},
            "responses": {"200": _json({"$ref": "#/components/schemas/TokenCount"}, "The count"),
                          **_errors(400, 401, 404, 429, 500, 503, 529)}}},
        "/v1/models": {"get": {
            "summary": "The models clients may choose ([gateway] models)",
            "parameters": [{"name": "limit", "in": "query",
                            "schema": {"type": "integer", "minimum": 1, "maximum": 1000}},
                           beta_query],
            "responses": {"200": _json({"$ref": "#/components/schemas/ModelList"}, "The models"),
                          **_errors(400, 401)}}},
        "/v1/models/{model_id}": {"get": {
            "summary": "One of the models clients may choose",
            "parameters": [{"name": "model_id", "in": "path", "required": True,
                            "schema": {"type": "string"}}, beta_query],
            "responses": {"200": _json({"$ref": "#/components/schemas/Model"}, "The model"),
                          **_errors(401, 404)}}},
        "/v1/sessions": {"get": {
            "summary": "List sessions, most recently active first",
            "parameters": [
                {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 100}},
                {"name": "offset", "in": "query", "schema": {"type": "integer", "minimum": 0}}],
            "responses": {"200": _json({"$ref": "#/components/schemas/SessionList"}, "A page of sessions"),
                          **_errors(400, 401)}}},
        "/v1/sessions/{session_id}": {"get": {
            "summary": "One session with its messages",
            "parameters": [{"name": "session_id", "in": "path", "required": True,
                            "schema": {"type": "string"}}],
            "responses": {"200": _json({"$ref": "#/components/schemas/SessionWithMessages"}, "The session"),
                          **_errors(401, 404)}}},
        "/v1/memories": {
            "get": {
                "summary": "Saved memories, newest first; with q, a search of memories and "
                           "every stored message, best first",
                "parameters": [
                    {"name": "q", "in": "query", "schema": {"type": "string", "minLength": 1}},
                    {"name": "limit", "in": "query",
                     "schema": {"type": "integer", "minimum": 1, "maximum": 100}},
                    {"name": "offset", "in": "query", "schema": {"type": "integer", "minimum": 0}}],
                "responses": {"200": _json({"oneOf": [
                    {"$ref": "#/components/schemas/MemoryList"},
                    {"$ref": "#/components/schemas/MemorySearch"}]}, "Memories or search hits"),
                    **_errors(400, 401)}},
            "post": {
                "summary": "Save a memory",
                "requestBody": {"required": True, "content": {"application/json": {"schema": {
                    "type": "object", "required": ["text"],
                    "properties": {"text": {"type": "string", "minLength": 1, "maxLength": 4000},
                                   "tags": {"type": "array", "items": {"type": "string"}}}}}}},
                "responses": {"201": _json({"$ref": "#/components/schemas/Memory"}, "Saved"),
                              **_errors(400, 401, 413)}}},
        "/v1/memories/{memory_id}": {"delete": {
            "summary": "Forget a memory (mem_<n>: the text, its index entries and its vector) "
                       "or what a stored message said (msg_<n>)",
            "parameters": [{"name": "memory_id", "in": "path", "required": True,
                            "schema": {"type": "string"}}],
            "responses": {"200": _json({"type": "object", "required": ["id", "deleted"],
                                        "properties": {"id": {"type": "string"},
                                                       "deleted": {"const": True}}},
                                       "Forgotten"),
                          **_errors(400, 401, 404)}}},
        "/v1/health": {"get": {
            "summary": "Overall status and each plugin's health (no token needed)",
            "security": [],
            "responses": {"200": _json({"$ref": "#/components/schemas/Health"}, "Healthy or degraded"),
                          "503": _json({"$ref": "#/components/schemas/Health"}, "Down")}}},
        "/v1/openapi.json": {"get": {
            "summary": "This document",
            "responses": {"200": _json({"type": "object"}, "The OpenAPI document"), **_errors(401)}}},
        "/ws": {"get": {
            "summary": "WebSocket: JSON frames both ways (see the README); token in the "
                       "Authorization header or the token query parameter",
            "parameters": [{"name": "token", "in": "query", "schema": {"type": "string"}}],
            "responses": {"101": {"description": "Switching to the WebSocket protocol"},
                          **_errors(401)}}},
    }
    paths.update(schedules.openapi_paths(_json, _errors))
    paths.update(usage.openapi_paths(_json, _errors))
    if ui:
        paths.update(page.openapi_paths(_json, _errors))
    if metrics:
        paths["/metrics"] = {"get": {
            "summary": "Prometheus metrics (a token unless [prometheus] public = true)",
            "responses": {"200": {"description": "The Prometheus text format",
                                  "content": {"text/plain": {"schema": {"type": "string"}}}},
                          **_errors(401)}}}
    return {
        "openapi": "3.1.0",
        "info": {"title": "Blufio gateway", "version": blufio.__version__},
        "security": [{"bearer": []}, {"apiKey": []}],
        "paths": paths,
        "components": {
            "schemas": {**_SCHEMAS, **schedules.SCHEMAS, **usage.OPENAPI_SCHEMAS},
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"},
                                "apiKey": {"type": "apiKey", "in": "header", "name": "x-api-key"}},
        },
    }
