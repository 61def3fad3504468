"""A small registry that maps an Action.Execute verb to its handler (one id per action)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from bot.domain import CardAction, InvokeResult, Outgoing

ActionOutcome = tuple[InvokeResult, Sequence[Outgoing]]
ActionHandler = Callable[[CardAction], Awaitable[ActionOutcome]]


class ActionRegistry:
    """Verb -> handler, registered with a decorator: ``@actions.verb("nudge.snooze")``."""

    def __init__(self) -> None:
        self._handlers: dict[str, ActionHandler] = {}

    def verb(self, name: str) -> Callable[[ActionHandler], ActionHandler]:
        """Register the decorated coroutine function as the handler of ``name``."""

        def register(handler: ActionHandler) -> ActionHandler:
            if name in self._handlers:
                raise ValueError(f"verb {name!r} registered twice")
            self._handlers[name] = handler
            return handler

        return register

    def add(self, name: str, handler: ActionHandler) -> None:
        """Register ``handler`` for ``name`` (for bound methods)."""
        self.verb(name)(handler)

    @property
    def verbs(self) -> frozenset[str]:
        """Every registered verb."""
        return frozenset(self._handlers)

    async def dispatch(self, action: CardAction) -> ActionOutcome:
        """Run the handler of the action's verb; an unknown verb is a 400 with a Japanese message."""
        handler = self._handlers.get(action.verb)
        if handler is None:
            return (
                InvokeResult(status=400, error_code=400, error_message="このボタンは現在使えません。"),
                (),
            )
        return await handler(action)
