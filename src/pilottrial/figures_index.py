"""File-name helpers shared by the workflow and the library."""

import re

__all__ = ["outcome_slug"]


def outcome_slug(name: str) -> str:
    """A file-name-safe, lower-case slug of an outcome name: 'CAPS-5' -> 'caps-5'."""
    slug = re.sub(r"[^A-Za-z0-9]+", "-", name).strip("-").lower()
    return slug or "outcome"
