"""Outgoing side of the Teams edge: tokens, Bot Connector calls, pacing, retries, the sender."""

from bot.teams.outbound.connector import ConnectorClient, ConnectorResponse
from bot.teams.outbound.http import make_connector_http, make_http_session
from bot.teams.outbound.keepalive import HttpError, HttpResponse, KeepAliveHttp
from bot.teams.outbound.ratelimit import RateLimits, SendLimiter
from bot.teams.outbound.retry import RetryPolicy
from bot.teams.outbound.sender import TeamsSender
from bot.teams.outbound.tokens import BOT_FRAMEWORK_SCOPE, GRAPH_SCOPE, TokenError, TokenProvider

__all__ = [
    "BOT_FRAMEWORK_SCOPE",
    "GRAPH_SCOPE",
    "ConnectorClient",
    "ConnectorResponse",
    "HttpError",
    "HttpResponse",
    "KeepAliveHttp",
    "RateLimits",
    "RetryPolicy",
    "SendLimiter",
    "TeamsSender",
    "TokenError",
    "TokenProvider",
    "make_connector_http",
    "make_http_session",
]
