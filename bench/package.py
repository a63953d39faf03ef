"""Unzipped size of each built function and of the layer, from `sam build`'s output."""

from __future__ import annotations

from pathlib import Path

BUILD = Path(__file__).resolve().parent.parent / ".aws-sam" / "build"


def sizes() -> dict[str, float]:
    """Megabytes per build artefact; empty when `sam build` has not run."""
    found = {}
    if BUILD.is_dir():
        for artefact in sorted(p for p in BUILD.iterdir() if p.is_dir()):
            found[artefact.name] = sum(f.stat().st_size for f in artefact.rglob("*") if f.is_file()) / 1_000_000
    return found
