"""The playground's fake organisation: staff personas, the bot, the team, channel and chats.

The Entra object ids of the first three personas are the sample contacts of
``wg/departments_sample.csv`` (情報政策課 and 行政管理課), so a WG campaign started in the
playground sends its request cards to people one can act as. All ids are fake.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

TENANT_ID = "00000000-0000-4000-8000-00000000f00d"
BOT_ID = "28:00000000-0000-4000-8000-0000000000b0"
BOT_NAME = "ポリシーボット"
TEAM_ID = "19:playground-team@thread.tacv2"
TEAM_NAME = "DX推進チーム"
CHANNEL_ID = "19:playground-general@thread.tacv2"
CHANNEL_NAME = "一般"
GROUP_CHAT_ID = "19:playground-group@thread.v2"
GROUP_CHAT_NAME = "WG準備グループ"
PERSONAL_PREFIX = "a:1playground-"
THREAD_SUFFIX = ";messageid="

WG_ADMIN_AAD_ID = "00000000-0000-4000-8000-0000000000a1"
"""The persona configured as WG admin: the lead's local-mode settings list this id."""


@dataclass(frozen=True, slots=True)
class Persona:
    """A sample member of staff one can post as."""

    key: str  # short id used by the page
    teams_id: str  # "29:..." Bot Framework user id
    aad_object_id: str  # fake Entra object id
    name: str
    department: str
    role: str = ""  # shown next to the name, e.g. WG管理者

    def account(self) -> dict[str, Any]:
        """The ChannelAccount JSON Teams puts in ``from``."""
        return {"id": self.teams_id, "name": self.name, "aadObjectId": self.aad_object_id}

    def personal_conversation_id(self) -> str:
        """The id of this persona's 1:1 chat with the bot (stable, so created chats match)."""
        return f"{PERSONAL_PREFIX}{self.key}"

    def as_json(self) -> dict[str, Any]:
        """What the page needs to know about the persona."""
        return {**asdict(self), "personal_conversation_id": self.personal_conversation_id()}


SAMPLE_PERSONAS: tuple[Persona, ...] = (
    Persona(
        "akagi",
        "29:1playground-akagi-hanako",
        "00000000-0000-4000-8000-000000000001",
        "赤城 花子",
        "情報政策課",
        "所属の連絡担当",
    ),
    Persona(
        "haruna",
        "29:1playground-haruna-ichiro",
        "00000000-0000-4000-8000-000000000002",
        "榛名 一郎",
        "情報政策課",
    ),
    Persona(
        "tone",
        "29:1playground-tone-sakura",
        "00000000-0000-4000-8000-000000000003",
        "利根 さくら",
        "行政管理課",
        "所属の連絡担当",
    ),
    Persona(
        "maebashi",
        "29:1playground-maebashi-taro",
        WG_ADMIN_AAD_ID,
        "前橋 太郎",
        "未来政策課",
        "WG管理者",
    ),
)


def persona_by_key(personas: tuple[Persona, ...], key: str) -> Persona | None:
    """The persona with this page key, or None."""
    return next((p for p in personas if p.key == key), None)


def persona_by_member_id(personas: tuple[Persona, ...], member_id: str) -> Persona | None:
    """The persona a Bot Connector member id names (Teams id or Entra object id)."""
    lowered = member_id.lower()
    return next((p for p in personas if member_id == p.teams_id or lowered == p.aad_object_id.lower()), None)


@dataclass(frozen=True, slots=True)
class DirectoryPerson:
    """Someone the playground's people picker offers besides the personas (fake, for WG forms)."""

    name: str
    aad_object_id: str
    department: str


SAMPLE_DIRECTORY: tuple[DirectoryPerson, ...] = tuple(
    DirectoryPerson(name, f"00000000-0000-4000-8000-0000000001{index:02d}", department)
    for index, (name, department) in enumerate(
        [
            ("大胡 健太", "行政管理課"),
            ("宮城 美咲", "行政管理課"),
            ("粕川 大輔", "情報政策課"),
            ("富士見 彩", "情報政策課"),
            ("城南 翔", "未来政策課"),
            ("桂萱 由美", "市民課"),
            ("芳賀 直樹", "財政課"),
            ("南橘 恵", "生涯学習課"),
            ("清里 拓也", "行政管理課"),
            ("総社 奈々", "情報政策課"),
            ("元総社 亮", "市民協働課"),
            ("東 千尋", "交通政策課"),
        ],
        start=1,
    )
)
