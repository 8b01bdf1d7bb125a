"""The README documents every SURGEWATCH_* setting and the two commands."""
from pathlib import Path

from streams.config import Settings

README = (Path(__file__).resolve().parents[2] / "README.md").read_text("utf-8")


def test_every_setting_is_in_the_configuration_table():
    missing = [f"SURGEWATCH_{n.upper()}" for n in Settings.model_fields if f"`SURGEWATCH_{n.upper()}`" not in README]
    assert not missing, f"document these settings in README.md: {missing}"


def test_two_commands_are_shown():
    assert "make run" in README and "make test" in README
