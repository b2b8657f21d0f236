"""Store URLs and namespaces: pure parsing, no database."""

from __future__ import annotations

import pytest

from clockwf.errors import InvalidInput
from clockwf.store import redact_url, validate_namespace


@pytest.mark.parametrize(("url", "shown"), [
    ("postgresql://clockwf:s3cret@db.example:5432/clockwf",
     "postgresql://clockwf:***@db.example:5432/clockwf"),
    ("postgres://u:p%40ss@h/db?sslmode=require", "postgres://u:***@h/db?sslmode=require"),
    ("postgresql://u@h/db", "postgresql://u@h/db"),
    ("postgresql://h/db?user=u&password=secret&sslmode=require",
     "postgresql://h/db?user=u&password=***&sslmode=require"),
    ("postgresql:///db", "postgresql:///db"),
])
def test_redact_url(url: str, shown: str) -> None:
    assert redact_url(url) == shown


@pytest.mark.parametrize("ns", ["default", "team-a", "a", "0.x_y-z", "a" * 64])
def test_valid_namespaces(ns: str) -> None:
    assert validate_namespace(ns) == ns


@pytest.mark.parametrize("ns", ["", "Team", "-a", ".a", "a b", "a/b", "a" * 65, "default\n",
                                "é"])
def test_invalid_namespaces(ns: str) -> None:
    with pytest.raises(InvalidInput, match="invalid namespace"):
        validate_namespace(ns)
