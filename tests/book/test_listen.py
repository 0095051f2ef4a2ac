"""resmix.book.listen: players write one file per name and show the names as text."""
import pytest
import torch

from resmix.book.listen import players


def test_players_write_one_file_per_name(tmp_path):
    table = players({"Output 1": torch.zeros(80), "target <b>": torch.full((80,), 0.5)}, 8000, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["output_1.wav", "target__b_.wav"]
    assert "target &lt;b&gt;" in table.data and "target <b>" not in table.data  # a name is text, not markup


@pytest.mark.parametrize("names, message", [
    (("Output 1", "output_1"), r"'Output 1' and 'output_1' would both be saved as output_1.wav"),
    (("", "x"), r"name '' has no letter or digit"),
    (("?!", "x"), r"name '\?!' has no letter or digit"),
])
def test_names_that_would_overwrite_each_other_or_hide_are_refused_before_writing(tmp_path, names, message):
    """Regression (issue 20): names colliding after slugging overwrote each other; an empty name wrote a hidden .wav."""
    with pytest.raises(ValueError, match=message):
        players({n: torch.zeros(80) for n in names}, 8000, tmp_path)
    assert list(tmp_path.iterdir()) == []
