"""Shared by the Hub tests: huggingface_hub switched online for loopback only."""

import huggingface_hub.constants as hub_constants


def allow_loopback_hub(monkeypatch, endpoint: str) -> None:
    """conftest sets HF_HUB_OFFLINE=1; huggingface_hub read it at import, so patch the constants it consults."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "0")
    monkeypatch.setenv("HF_HUB_DISABLE_XET", "1")
    monkeypatch.setenv("HF_ENDPOINT", endpoint)
    monkeypatch.setattr(hub_constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(hub_constants, "HF_HUB_DISABLE_XET", True)
    monkeypatch.setattr(hub_constants, "ENDPOINT", endpoint)
    monkeypatch.setattr(
        hub_constants, "HUGGINGFACE_CO_URL_TEMPLATE", endpoint + "/{repo_id}/resolve/{revision}/{filename}"
    )


def write_digit_shard(path, first: int, stop: int) -> None:
    """A parquet shard of real image-text pairs: scikit-learn digits ``first..stop-1`` as PNG images (datasets'
    Image feature) with a caption and their index, the layout a Hub image-text dataset has."""
    import datasets
    import numpy as np
    from PIL import Image
    from sklearn.datasets import load_digits

    digits = load_digits()
    rows = range(first, stop)
    features = datasets.Features(
        {"image": datasets.Image(), "text": datasets.Value("string"), "idx": datasets.Value("int64")}
    )
    table = datasets.Dataset.from_dict(
        {
            "image": [Image.fromarray((digits.images[i] * 15).astype(np.uint8)) for i in rows],
            "text": [f"a handwritten digit {digits.target[i]}" for i in rows],
            "idx": list(rows),
        },
        features=features,
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    table.to_parquet(str(path))
