"""The local playground: a Teams-like page talking to the real bot, served in local mode only.

``setup_playground(app, rules_dir=..., rules_status=...)`` adds ``/playground`` (the page),
``/playground/api/*`` (what the page asks for) and ``/playground/connector/v3/*`` (a stand-in
for the Bot Connector, the ``serviceUrl`` of the playground's activities). See
``docs/playground.md``.
"""

from bot.playground.personas import SAMPLE_PERSONAS, WG_ADMIN_AAD_ID, Persona
from bot.playground.rules import reloading_rules_status
from bot.playground.web import PLAYGROUND_KEY, Playground, setup_playground

__all__ = [
    "PLAYGROUND_KEY",
    "SAMPLE_PERSONAS",
    "WG_ADMIN_AAD_ID",
    "Persona",
    "Playground",
    "reloading_rules_status",
    "setup_playground",
]
