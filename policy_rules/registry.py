"""Detector kinds, registered by name.

A kind is one function ``detect(view, message, options, allow) -> Iterable[Hit]`` (the built-in
kinds return lists, which is cheaper than a generator on the hot path) and one
pydantic options model whose ``kind`` field is a ``Literal`` of the kind's name. A rule in
YAML names its kind and gives that kind's options; the loader validates them against the
model. Detectors only read: they never send, store or log anything.

For speed, a kind's prepared options may carry ``gates``: compiled regexes that must all match
the view text for the detector to run (words its patterns need, derived from the patterns, and
an admin's ``prefilter``). The engine runs them, and only the engine, before calling the
detector; a derived gate must never be stricter than the detector.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from policy_rules.model import Hit, MessageInput
from policy_rules.normalize import MatchView

DetectFunction = Callable[[MatchView, MessageInput, Any, Any], Iterable[Hit]]


@dataclass(frozen=True)
class DetectorKind:
    """A registered kind: its name, its options model and its function."""

    name: str
    options_model: type[BaseModel]
    detect: DetectFunction


DETECTOR_KINDS: dict[str, DetectorKind] = {}


def detector_kind(name: str, options_model: type[BaseModel]) -> Callable[[DetectFunction], DetectFunction]:
    """Register ``detect`` as the detector kind ``name`` with its options model."""

    def register(detect: DetectFunction) -> DetectFunction:
        if name in DETECTOR_KINDS:
            raise ValueError(f"detector kind {name!r} registered twice")
        DETECTOR_KINDS[name] = DetectorKind(name, options_model, detect)
        return detect

    return register
