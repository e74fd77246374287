import pytest

from orchestration.cli import build_parser, main


@pytest.mark.parametrize("command", ["demo", "run", "ui"])
def test_every_command_has_help(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    assert f"usage: cmi {command}" in capsys.readouterr().out


def test_top_level_help_lists_the_commands(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    for command in ("demo", "run", "ui"):
        assert command in out


def test_bad_date_is_refused_with_the_expected_format(capsys):
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args(["run", "--as-of", "30.06.2025"])
    assert exit_info.value.code == 2
    assert "YYYY-MM-DD" in capsys.readouterr().err
