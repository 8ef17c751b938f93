"""Rolling batches with Ansible's `serial` semantics."""

from __future__ import annotations

import pytest

from fixer.apply.batches import parse_serial_option, split_batches
from fixer.errors import UsageError

HOSTS = [f"mp{i:02d}" for i in range(1, 11)]


@pytest.mark.parametrize(
    ("serial", "sizes"),
    [
        (None, [10]),
        ([], [10]),
        ([1], [1] * 10),
        ([3], [3, 3, 3, 1]),
        (["50%"], [5, 5]),
        (["25%"], [2, 2, 2, 2, 2]),
        (["5%"], [1] * 10),  # rounds down but never below one host
        ([1, "25%", "100%"], [1, 2, 7]),
        ([1, 5], [1, 5, 4]),
        (["100%"], [10]),
        ([20], [10]),
        ([1, "30%"], [1, 3, 3, 3]),
    ],
)
def test_split(serial: list[int | str] | None, sizes: list[int]) -> None:
    batches = split_batches(HOSTS, serial)
    assert [len(b) for b in batches] == sizes
    assert [h for b in batches for h in b] == HOSTS


def test_empty() -> None:
    assert split_batches([], [1]) == []


@pytest.mark.parametrize("bad", [["x"], ["-1"], [-2], [True], ["1.5.%"]])
def test_bad_serial(bad: list[int | str]) -> None:
    with pytest.raises(UsageError):
        split_batches(HOSTS, bad)


def test_parse_option() -> None:
    assert parse_serial_option("1,25%,100%") == [1, "25%", "100%"]
    with pytest.raises(UsageError):
        parse_serial_option("1,,2")
    with pytest.raises(UsageError):
        parse_serial_option("one")
