"""The error tree: every error is a BlufioError, and its class says what it means (the exit
code, the turn's kind, the gateway's answer, whether to retry, what a client is told)."""

import pytest

from blufio import errors
from blufio.errors import (BlufioError, BudgetExceededError, ConfigError, ManifestError,
                           PluginError, ProviderAuthError, ProviderError,
                           ProviderUnavailableError, SchemaTooNewError, StorageError,
                           ToolError, UsageError, VaultError)
from blufio.plugins.gateway.errors import GatewayError
from blufio.plugins.telegram.api import BotAPIError

SHOWN = "{message}"
HIDDEN = "internal error while answering; the server log has the details"

# class: (exit_code, kind, http_status, http_error_type, retryable, client_message)
MEANINGS = {
    BlufioError: (1, "internal", 500, "api_error", None, HIDDEN),
    UsageError: (2, "internal", 500, "api_error", None, HIDDEN),
    ConfigError: (2, "config", 503, "api_error", False, SHOWN),
    PluginError: (1, "internal", 500, "api_error", None, HIDDEN),
    ManifestError: (1, "internal", 500, "api_error", None, HIDDEN),
    VaultError: (1, "internal", 500, "api_error", None, HIDDEN),
    StorageError: (1, "storage", 500, "api_error", None, HIDDEN),
    SchemaTooNewError: (1, "storage", 500, "api_error", None, HIDDEN),
    ProviderError: (1, "provider", 500, "api_error", False, SHOWN),
    ProviderUnavailableError: (1, "provider", 503, "api_error", False,
                               "the model provider could not be reached: {message}"),
    ProviderAuthError: (1, "provider", 502, "api_error", False,
                        "the model provider refused Blufio's credentials: {message}"),
    BudgetExceededError: (1, "budget", 402, "billing_error", False, SHOWN),
    ToolError: (1, "internal", 500, "api_error", None, HIDDEN),
}


@pytest.mark.parametrize("cls", MEANINGS, ids=lambda cls: cls.__name__)
def test_each_class_says_what_it_means(cls):
    meaning = (cls.exit_code, cls.kind, cls.http_status, cls.http_error_type, cls.retryable,
               cls.client_message)
    assert meaning == MEANINGS[cls]


def test_every_error_class_is_drawn_in_the_diagram():
    classes = {value for value in vars(errors).values()
               if isinstance(value, type) and issubclass(value, BlufioError)}
    for cls in classes - {BlufioError} | {GatewayError, BotAPIError}:
        assert f"── {cls.__name__} " in errors.__doc__


def test_a_client_is_shown_the_message_only_when_the_class_says_so():
    assert BudgetExceededError("the daily budget is spent").for_client() \
        == "the daily budget is spent"
    assert StorageError("disk /srv/secret is full").for_client() == HIDDEN
    assert ProviderUnavailableError("timed out").for_client() \
        == "the model provider could not be reached: timed out"


def test_wrap_keeps_a_blufio_error_and_names_anything_else():
    error = StorageError("locked")
    assert BlufioError.wrap(error) is error
    cause = KeyError("x")
    wrapped = BlufioError.wrap(cause, "the turn failed unexpectedly")
    assert type(wrapped) is BlufioError and wrapped.kind == "internal"
    assert str(wrapped) == "the turn failed unexpectedly: KeyError: 'x'"
    assert wrapped.__cause__ is cause


def test_a_provider_error_keeps_the_providers_words_and_the_answer_set_at_the_edge():
    error = ProviderError("slow down", status=429, error_type="rate_limit_error",
                          request_id="req_1", http_status=429,
                          http_error_type="rate_limit_error")
    assert (error.status, error.error_type, error.request_id) == (429, "rate_limit_error",
                                                                  "req_1")
    assert (error.http_status, error.http_error_type) == (429, "rate_limit_error")
    assert ProviderError.http_status == 500  # the instance's answer, not the class's
    plain = ProviderError("the provider sent a malformed stream")
    assert (plain.status, plain.error_type, plain.http_status) == (None, "api_error", 500)


def test_manifest_error_lives_in_the_tree_and_is_still_importable_from_manifest():
    from blufio.manifest import ManifestError as from_manifest

    assert from_manifest is ManifestError and issubclass(ManifestError, PluginError)


def test_a_gateway_error_answers_with_its_status_and_the_status_error_type():
    error = GatewayError(404, "no session with id 'x'")
    assert isinstance(error, BlufioError)
    assert (error.http_status, error.http_error_type, error.retryable) == (
        404, "not_found_error", None)
    assert error.for_client() == "no session with id 'x'"
    assert GatewayError(418, "odd").http_error_type == "api_error"
    assert GatewayError(400, "no", error_type="custom", retry=True).retryable is True


@pytest.mark.parametrize("status, retryable", [(None, True), (429, True), (502, True),
                                               (400, False), (401, False)])
def test_a_bot_api_error_is_a_plugin_error_that_says_whether_to_retry(status, retryable):
    error = BotAPIError("getUpdates", "failed", status=status)
    assert isinstance(error, PluginError)
    assert error.retryable is retryable and error.transient is retryable


def test_a_bot_api_error_says_when_an_edit_changed_nothing():
    unchanged = BotAPIError("editMessageText", "400", status=400, description=(
        "Bad Request: message is not modified: specified new message content and reply "
        "markup are exactly the same"))
    assert unchanged.not_modified
    assert not BotAPIError("editMessageText", "400", status=400,
                           description="Bad Request: message to edit not found").not_modified
