"""The README's Layout section names the tree as it is: every top-level folder, and every package of the layered
packages, is described there, and nothing is described that is gone."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).parents[2]
# Packages whose subpackages the layout names, each in its own entry.
LAYERED = ("sentinel", "citysim", "deployments")


def layout_entries() -> dict[str, str]:
    """The Layout block's entries: folder -> its description (continuation lines joined)."""
    text = (ROOT / "README.md").read_text()
    block = re.search(r"^## Layout\n\n```\n(.*?)^```$", text, re.S | re.M)
    assert block is not None, "README.md has no Layout section with a code block"
    entries: dict[str, str] = {}
    current = None
    for line in block.group(1).splitlines():
        head = re.match(r"(\S+)/\s+(.*)", line)
        if head:
            current = head.group(1)
            entries[current] = head.group(2)
        else:
            assert current is not None and line.startswith(" "), f"not a layout line: {line!r}"
            entries[current] += " " + line.strip()
    return entries


def tracked_folders() -> set[str]:
    """The top-level folders git tracks files in, hidden ones (.ci) aside."""
    files = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    return {path.split("/")[0] for path in files.splitlines() if "/" in path and not path.startswith(".")}


def test_every_top_level_folder_is_described_and_every_described_one_exists() -> None:
    entries = layout_entries()
    folders = tracked_folders()
    assert len(folders) >= 10, folders
    assert folders - set(entries) == set(), "folders the README's Layout does not describe"
    assert set(entries) - folders == set(), "the README's Layout describes folders the tree does not have"


def test_every_package_of_the_layered_packages_is_named_in_its_entry() -> None:
    entries = layout_entries()
    seen = 0
    for package in LAYERED:
        subpackages = sorted(p.parent.name for p in (ROOT / package).glob("*/__init__.py"))
        assert subpackages, f"{package} has no subpackages"
        seen += len(subpackages)
        missing = [name for name in subpackages if f"{name}/" not in entries[package]]
        assert not missing, f"README Layout, {package}/: does not name {missing}"
    assert seen >= 15, seen
