"""Adaptive Card 1.5 builders: pure functions from domain objects to card dicts (no I/O)."""

from cards.nudge import NudgeItem, NudgeView, nudge_ack_card, nudge_card, nudge_withdrawn_card
from cards.onboarding import (
    DEFAULT_RULE_HOWTO,
    HOWTO_TOPICS,
    HowtoTopic,
    RuleSummary,
    help_card,
    rules_card,
    settings_card,
    welcome_card,
)
from cards.wg_cards import (
    application_receipt_card,
    campaign_status_card,
    nomination_request_card,
    open_application_announcement_card,
    open_application_card,
    reminder_card,
    submission_receipt_card,
    withdrawn_card,
)

__all__ = [
    "DEFAULT_RULE_HOWTO",
    "HOWTO_TOPICS",
    "HowtoTopic",
    "NudgeItem",
    "NudgeView",
    "RuleSummary",
    "application_receipt_card",
    "campaign_status_card",
    "help_card",
    "nomination_request_card",
    "nudge_ack_card",
    "nudge_card",
    "nudge_withdrawn_card",
    "open_application_announcement_card",
    "open_application_card",
    "reminder_card",
    "rules_card",
    "settings_card",
    "submission_receipt_card",
    "welcome_card",
    "withdrawn_card",
]
