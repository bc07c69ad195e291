"""The bundled embedding model really loads offline and gives unit vectors that rank sensibly."""

import pytest

from tuneworth.errors import ConfigError

pytest.importorskip("sentence_transformers")


def test_unknown_embedder_is_a_config_error():
    from tuneworth.embeddings.load import load_embedder

    with pytest.raises(ConfigError, match="unknown embedding model"):
        load_embedder("local/nope")


def test_minilm_embeds_offline_and_ranks_related_text_higher():
    import numpy as np

    from tuneworth.embeddings.load import load_embedder

    emb = load_embedder()
    assert load_embedder() is emb  # memoised
    vecs = emb.embed(["How long do refunds take?", "Refunds are issued within 14 days.", "The cat sat on the mat."])
    assert vecs.shape == (3, emb.dim) and vecs.dtype == np.float32
    assert np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-4)
    assert vecs[0] @ vecs[1] > vecs[0] @ vecs[2] + 0.2
    assert emb.embed([]).shape == (0, emb.dim)
