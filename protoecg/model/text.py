"""A report encoder that trains here, without downloaded weights: hashed word and character
n-gram embeddings (fastText-style), averaged, then a linear projection.

Reports are lower-cased; tokens are words (letters and digits) and the character trigrams of
each word padded with ``<`` and ``>``; each token goes to one of ``buckets`` rows by a stable
hash (CRC-32, the same on every machine and Python run), so no vocabulary is stored.
"""

from __future__ import annotations

import re
import zlib

import torch
from torch import nn

_WORD = re.compile(r"[a-z0-9äöüß]+")


def tokens(report: str) -> list[str]:
    """Words and character trigrams of a report (German and English PTB-XL reports alike)."""
    out = []
    for word in _WORD.findall(str(report).lower()):
        out.append(f"w:{word}")
        padded = f"<{word}>"
        out += [f"c:{padded[k:k + 3]}" for k in range(len(padded) - 2)]
    return out


def hash_tokens(report: str, buckets: int) -> list[int]:
    return [zlib.crc32(t.encode()) % buckets for t in tokens(report)]


class HashedTextEncoder(nn.Module):
    """(B reports) -> (B, dim): the mean of their tokens' bucket embeddings, projected. An
    empty report maps to the embedding of a reserved bucket (row 0 is never hashed to)."""

    def __init__(self, dim: int = 128, buckets: int = 2**16, width: int = 128):
        super().__init__()
        self.buckets = buckets
        self.embedding = nn.EmbeddingBag(buckets + 1, width, mode="mean")
        self.projection = nn.Linear(width, dim)

    def forward(self, reports: list[str]) -> torch.Tensor:
        device = self.embedding.weight.device
        ids, offsets = [], []
        for report in reports:
            offsets.append(len(ids))
            ids += [1 + h for h in hash_tokens(report, self.buckets)] or [0]
        return self.projection(self.embedding(
            torch.tensor(ids, dtype=torch.long, device=device),
            torch.tensor(offsets, dtype=torch.long, device=device)))
