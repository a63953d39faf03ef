"""Posting to Slack: slack-sdk's WebClient, the token from Secrets Manager (cached), 429s retried after Retry-After.

A Slack failure never undoes or blocks an AWS action: post() logs, counts `SlackFailures`, and returns None.
"""

from __future__ import annotations

import json
from functools import cache
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.metrics import MetricUnit

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.parameters import SecretsProvider
    from slack_sdk import WebClient

from steward.adapters.aws import AwsClients
from steward.domain.slack import FRAME_BLOCKS, SlackMessage, fit, framed
from steward.observability import logger, metrics
from steward.settings import Settings

TOKEN_CACHE_SECONDS = 300
IAM_ACTIONS = frozenset({"secretsmanager:GetSecretValue"})


def token_from_secret(secret_value: str) -> str:
    """The secret holds the bot token itself, or a JSON object with a `token` key."""
    value = secret_value.strip()
    if value.startswith("{"):
        try:
            token = json.loads(value).get("token", "")
        except (json.JSONDecodeError, AttributeError):
            token = ""
        if not isinstance(token, str) or not token:
            raise ValueError("the Slack secret is JSON but has no string 'token' key")
        return token
    if not value:
        raise ValueError("the Slack secret is empty")
    return value


@cache
def _secrets(aws: AwsClients) -> SecretsProvider:
    """One provider per container, so its cache keeps the token for TOKEN_CACHE_SECONDS across invocations."""
    # Powertools' parameters utility is loaded by the first post, like slack-sdk.
    from aws_lambda_powertools.utilities.parameters import SecretsProvider

    return SecretsProvider(boto3_client=aws.secretsmanager)


class SlackNotifier:
    def __init__(self, settings: Settings, aws: AwsClients, *, rate_limit_retries: int = 3) -> None:
        self._settings = settings
        self._aws = aws
        self._rate_limit_retries = rate_limit_retries
        self._client: WebClient | None = None
        self.posted: list[dict[str, Any]] = []  # what this invocation sent, for the handler's result
        self._threads: dict[str, str] = {}

    @property
    def enabled(self) -> bool:
        return self._settings.slack_enabled

    def _web_client(self) -> WebClient:
        if self._client is None:
            # slack-sdk is loaded by the first post: a run with nothing to say never pays its import
            from slack_sdk import WebClient
            from slack_sdk.http_retry.builtin_handlers import ConnectionErrorRetryHandler, RateLimitErrorRetryHandler

            secret = _secrets(self._aws).get(self._settings.slack_token_secret_arn, max_age=TOKEN_CACHE_SECONDS)
            self._client = WebClient(
                token=token_from_secret(str(secret)),
                base_url=self._settings.slack_api_url,
                timeout=10,
                retry_handlers=[
                    ConnectionErrorRetryHandler(max_retry_count=1),
                    RateLimitErrorRetryHandler(max_retry_count=self._rate_limit_retries),
                ],
            )
        return self._client

    def post(self, message: SlackMessage, *, thread_ts: str | None = None) -> str | None:
        """Post the message (and its replies in a thread) framed with the stack's scope; return its ts, or None when
        Slack failed or is off."""
        settings = self._settings
        where = {"account": settings.account_id, "region": settings.aws_region}
        return self._post(framed(fit(message, room=FRAME_BLOCKS), settings.scope.label, **where), thread_ts=thread_ts)

    def _post(self, message: SlackMessage, *, thread_ts: str | None = None) -> str | None:
        if not self.enabled:
            logger.info("slack disabled, message not sent", extra={"slack_text": message.text})
            return None
        from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError
        from slack_sdk.errors import SlackClientError  # SlackApiError, the answer to a refused call, is one too

        message = fit(message)
        channel = message.channel or self._settings.slack_channel
        thread_ts = thread_ts or (self._threads.get(message.thread_key) if message.thread_key else None)
        try:
            response = self._web_client().chat_postMessage(
                channel=channel, text=message.text, blocks=list(message.blocks) or None, thread_ts=thread_ts
            )
        except (SlackClientError, OSError, ValueError) as error:
            # ValueError: an unreadable secret; OSError: network; both are reported, never raised.
            logger.warning("slack post failed", extra={"channel": channel, "error": str(error)})
            metrics.add_metric(name="SlackFailures", unit=MetricUnit.Count, value=1)
            return None
        except GetParameterError as error:
            logger.warning("slack token unavailable", extra={"error": str(error)})
            metrics.add_metric(name="SlackFailures", unit=MetricUnit.Count, value=1)
            return None
        ts = str(response.get("ts", ""))
        self.posted.append({"channel": channel, "text": message.text, "ts": ts})
        if message.thread_key and message.thread_key not in self._threads:
            self._threads[message.thread_key] = ts
        for reply in message.replies:
            self._post(reply, thread_ts=ts)
        return ts
