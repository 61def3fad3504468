"""Every Action.Execute verb a card of this bot can send; the handler registry keys on these.

A verb is the one id of a card action: it is the Action.Execute ``verb`` and also the
``data["verb"]`` so a handler can tell the action apart even when a client drops ``verb``.
"""

from __future__ import annotations

from typing import Final

NUDGE_HELPFUL: Final = "nudge.helpful"
NUDGE_NOT_HELPFUL: Final = "nudge.not_helpful"
NUDGE_SNOOZE_TODAY: Final = "nudge.snooze_today"
NUDGE_OPT_OUT: Final = "nudge.opt_out"

SETTINGS_UNSNOOZE: Final = "settings.unsnooze"
SETTINGS_OPTIN: Final = "settings.optin"

COMMAND_HELP: Final = "command.help"
COMMAND_RULES: Final = "command.rules"
COMMAND_SETTINGS: Final = "command.settings"

NOMINATION_OPEN: Final = "wg.nomination.open"
NOMINATION_SUBMIT: Final = "wg.nomination.submit"
NOMINATION_EDIT: Final = "wg.nomination.edit"
NOMINATION_WITHDRAW: Final = "wg.nomination.withdraw"

APPLICATION_OPEN: Final = "wg.application.open"
APPLICATION_SUBMIT: Final = "wg.application.submit"
APPLICATION_EDIT: Final = "wg.application.edit"
APPLICATION_WITHDRAW: Final = "wg.application.withdraw"

CAMPAIGN_STATUS_REFRESH: Final = "campaign.status.refresh"

ALL_VERBS: Final[frozenset[str]] = frozenset(
    {
        NUDGE_HELPFUL,
        NUDGE_NOT_HELPFUL,
        NUDGE_SNOOZE_TODAY,
        NUDGE_OPT_OUT,
        SETTINGS_UNSNOOZE,
        SETTINGS_OPTIN,
        COMMAND_HELP,
        COMMAND_RULES,
        COMMAND_SETTINGS,
        NOMINATION_OPEN,
        NOMINATION_SUBMIT,
        NOMINATION_EDIT,
        NOMINATION_WITHDRAW,
        APPLICATION_OPEN,
        APPLICATION_SUBMIT,
        APPLICATION_EDIT,
        APPLICATION_WITHDRAW,
        CAMPAIGN_STATUS_REFRESH,
    }
)
