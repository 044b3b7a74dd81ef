"""A smoothed n-gram baseline (interpolated Kneser-Ney) over the same tokens as the transformer."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence

__all__ = ["KneserNey"]


class KneserNey:
    """Interpolated Kneser-Ney language model of a given order with absolute discount ``d``.

    Highest order uses counts; lower orders use continuation counts; the base is uniform over the
    vocabulary, so every token has a probability above zero.
    """

    def __init__(self, order: int, vocab_size: int, discount: float = 0.75) -> None:
        if order < 1:
            raise ValueError("order must be >= 1")
        self.order, self.vocab_size, self.d = order, vocab_size, discount
        # counts[n][context][token]: n = context length
        self.counts: list[dict[tuple, dict[int, int]]] = [defaultdict(dict) for _ in range(order)]

    def fit(self, sequences: Iterable[Sequence[int]]) -> KneserNey:
        top = self.order - 1
        seen_cont: list[set[tuple]] = [set() for _ in range(self.order)]
        for seq in sequences:
            seq = list(seq)
            for i in range(1, len(seq)):
                tok = seq[i]
                ctx_full = tuple(seq[max(0, i - top) : i])
                # highest order for this position: real counts
                n = len(ctx_full)
                table = self.counts[n][ctx_full]
                table[tok] = table.get(tok, 0) + 1
                # lower orders: continuation counts (distinct left contexts)
                for m in range(n - 1, -1, -1):
                    ngram = tuple(seq[i - m - 1 : i + 1])
                    if ngram in seen_cont[m]:
                        break
                    seen_cont[m].add(ngram)
                    ctx = ngram[1:-1]
                    t = self.counts[m][ctx]
                    t[tok] = t.get(tok, 0) + 1
        self._totals = [
            {c: (sum(t.values()), len(t)) for c, t in level.items()} for level in self.counts
        ]
        return self

    def prob(self, context: Sequence[int], token: int) -> float:
        context = tuple(context[-(self.order - 1) :]) if self.order > 1 else ()
        p = 1.0 / self.vocab_size
        for n in range(0, len(context) + 1):
            ctx = context[len(context) - n :] if n else ()
            table = self.counts[n].get(ctx)
            if not table:
                continue
            total, types = self._totals[n][ctx]
            c = table.get(token, 0)
            p = max(c - self.d, 0) / total + (self.d * types / total) * p
        return p

    def cross_entropy(self, sequences: Iterable[Sequence[int]]) -> tuple[float, int]:
        """Mean negative log-likelihood (nats per token) over every token after the first."""
        nll, count = 0.0, 0
        for seq in sequences:
            seq = list(seq)
            for i in range(1, len(seq)):
                nll -= math.log(self.prob(seq[max(0, i - self.order + 1) : i], seq[i]))
                count += 1
        return nll / max(1, count), count
