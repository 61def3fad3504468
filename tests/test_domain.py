"""The domain objects' fast ``__init__`` (``slot_setting_init``) behaves as dataclasses' own."""

from __future__ import annotations

import dataclasses
import inspect
from typing import Any

import pytest

from bot import domain
from bot.domain import ConversationRef, Delivery, IncomingMessage, Outgoing, Person, slot_setting_init

FAST = [domain.Person, domain.ConversationRef, domain.Attachment, domain.IncomingMessage, domain.Outgoing]


def _reference(cls: type) -> type:
    """The same fields as a plain frozen, slotted dataclass (its generated __init__)."""
    fields = [
        (f.name, f.type, dataclasses.field(default=f.default))
        if f.default is not dataclasses.MISSING
        else (f.name, f.type)
        for f in dataclasses.fields(cls)
    ]
    return dataclasses.make_dataclass(cls.__name__, fields, frozen=True, slots=True)


@pytest.mark.parametrize("cls", FAST, ids=lambda c: c.__name__)
def test_the_signature_is_the_dataclass_one(cls: type) -> None:
    assert str(inspect.signature(cls.__init__)) == str(inspect.signature(_reference(cls).__init__))
    assert cls.__init__.__qualname__ == f"{cls.__name__}.__init__"


CONVERSATION = ConversationRef("19:c", "channel", "https://smba.example/", "tenant", "28:bot")
PERSON = Person("29:p", "aad", "前橋 太郎")


@pytest.mark.parametrize(
    ("cls", "args", "kwargs"),
    [
        (Person, ("29:x",), {}),
        (Person, ("29:x", None, "名前"), {}),
        (Person, (), {"teams_id": "29:x", "name": "n"}),
        (ConversationRef, ("19:c", "groupChat", "https://x/"), {"thread_root_id": "1", "team_id": "t"}),
        (IncomingMessage, ("1", CONVERSATION, PERSON, "text", "<p>text</p>"), {"is_edit": True}),
        (Outgoing, (CONVERSATION,), {"card": {"type": "AdaptiveCard"}, "delivery": Delivery.TARGETED}),
    ],
)
def test_objects_hold_what_the_dataclass_would_hold(
    cls: type, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> None:
    built = cls(*args, **kwargs)
    expected = _reference(cls)(*args, **kwargs)
    assert dataclasses.astuple(built) == dataclasses.astuple(expected)
    assert built == cls(*args, **kwargs)
    assert built == cls(**{f.name: getattr(expected, f.name) for f in dataclasses.fields(cls)})
    assert repr(built).split("(", 1)[1] == repr(expected).split("(", 1)[1]


@pytest.mark.parametrize(
    ("args", "kwargs", "error"),
    [
        ((), {}, "missing 1 required positional argument"),
        (("a", "b", "c", "d"), {}, "positional arguments"),
        (("a",), {"nope": 1}, "unexpected keyword argument"),
        (("a",), {"teams_id": "b"}, "multiple values"),
    ],
)
def test_wrong_arguments_are_refused_as_by_the_dataclass(
    args: tuple[Any, ...], kwargs: dict[str, Any], error: str
) -> None:
    with pytest.raises(TypeError, match=error):
        Person(*args, **kwargs)


def test_objects_stay_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        PERSON.name = "x"  # type: ignore[misc]
    assert dataclasses.replace(PERSON, name="y").name == "y"


def test_what_it_cannot_do_the_same_is_refused() -> None:
    @dataclasses.dataclass(frozen=True)
    class NoSlots:
        a: int

    @dataclasses.dataclass(frozen=True, slots=True)
    class Factory:
        a: list[int] = dataclasses.field(default_factory=list)

    @dataclasses.dataclass(frozen=True, slots=True)
    class PostInit:
        a: int

        def __post_init__(self) -> None:
            pass

    @dataclasses.dataclass(slots=True)
    class NotFrozen:
        a: int

    @dataclasses.dataclass(frozen=True, slots=True)
    class KeywordOnly:
        a: int = dataclasses.field(kw_only=True)

    @dataclasses.dataclass(frozen=True, slots=True)
    class Base:
        a: int

    @dataclasses.dataclass(frozen=True, slots=True)
    class Derived(Base):
        b: int

    for cls in (NoSlots, Factory, PostInit, NotFrozen, KeywordOnly, Derived):
        with pytest.raises(TypeError):
            slot_setting_init(cls)
