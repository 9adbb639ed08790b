"""When the assistant says "not found": a logistic model of P(the articles answer the question)
over a few features, fitted on the dev split by ``rag-eval fit-abstention``."""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass
from pathlib import Path

from rag.files import write_atomic

ABSTENTION_FILE = Path(__file__).with_name("abstention.json")
FEATURES = ("top_dense", "top_sentence", "answer_type_mismatch")
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Abstainer:
    weights: tuple[float, ...]
    bias: float
    threshold: float = 0.5

    def __post_init__(self) -> None:
        if not 0 <= self.threshold <= 1:
            raise ValueError(f"Abstainer.threshold is a probability: it must be in [0, 1], got {self.threshold!r}")

    @classmethod
    def never(cls) -> Abstainer:
        return cls(weights=(0.0,) * len(FEATURES), bias=10.0)

    @classmethod
    def load(cls, path: Path = ABSTENTION_FILE) -> Abstainer:
        if not path.exists():
            return cls.never()
        data = json.loads(path.read_text())
        if tuple(data["features"]) != FEATURES:
            log.warning("%s was fitted on other features; the assistant will not abstain until `rag-eval fit-abstention` refits it", path)
            return cls.never()
        return cls(tuple(data["weights"]), data["bias"], data.get("threshold", 0.5))

    def save(self, path: Path = ABSTENTION_FILE) -> None:
        payload = {"features": FEATURES, "weights": self.weights, "bias": self.bias, "threshold": self.threshold}
        write_atomic(path, (json.dumps(payload, indent=2) + "\n").encode())

    def probability(self, features: dict[str, float]) -> float:
        z = self.bias + sum(w * features[name] for w, name in zip(self.weights, FEATURES, strict=True))
        return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z))))
