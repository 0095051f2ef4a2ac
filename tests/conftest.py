import pytest
import torch

from resmix.config import DataConfig, ModelConfig, quick


@pytest.fixture(autouse=True)
def _threads():
    torch.set_num_threads(2)


@pytest.fixture
def tiny():
    """A tiny experiment: a few clips, a narrow model, seconds to train."""
    return quick().with_(
        data=DataConfig(clip_seconds=0.128, n_train=16, n_val=8),
        model=ModelConfig(d_model=16, n_layers=1, n_heads=2),
        train={"epochs": 4, "batch_size": 8},
    )


@pytest.fixture(scope="session")
def wheel(tmp_path_factory):
    """The wheel of this checkout, built once per session as the book ships it (book/_ext/release_book.py)."""
    import sys
    from pathlib import Path
    root = Path(__file__).resolve().parents[1]
    sys.path.insert(0, str(root / "book" / "_ext"))
    import release_book
    return release_book.build_wheel(root, tmp_path_factory.mktemp("site") / release_book.DOWNLOADS)
