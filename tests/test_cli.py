"""The command line's demo (the README's main job)."""

from jointdist.cli import main


def test_demo_runs_and_ranks_models(capsys):
    assert main(["demo", "--samples", "300", "--horizon", "5", "--history", "200"]) == 0
    out = capsys.readouterr().out
    rows = {line.split()[1]: line.split() for line in out.splitlines()
            if line.startswith(("HS ", "oracle"))}
    assert set(rows) == {"iid", "stationary", "filtered", "(ref.)"}
    # the oracle's energy distance to itself is the smallest (~0)
    ed = {k: float(v[2]) for k, v in rows.items()}
    assert ed["(ref.)"] < min(ed["iid"], ed["stationary"], ed["filtered"])


def test_default_command_is_demo(capsys):
    assert main(["--samples", "100", "--horizon", "3", "--history", "100"]) == 0
    assert "HS filtered" in capsys.readouterr().out
