"""The admin dashboard served by the app at ``/dashboard`` (Entra ID sign-in, charts, CSV)."""

from bot.dashboard.campaigns import campaign_status_from
from bot.dashboard.config import CampaignProgress, CampaignStatusProvider, DashboardConfig
from bot.dashboard.signin import EntraSignIn, SignInError
from bot.dashboard.web import Dashboard, setup_dashboard

__all__ = [
    "CampaignProgress",
    "CampaignStatusProvider",
    "Dashboard",
    "DashboardConfig",
    "EntraSignIn",
    "SignInError",
    "campaign_status_from",
    "setup_dashboard",
]
