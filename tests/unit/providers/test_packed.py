"""Packed oneDNN linear weights (models/packed.py): same results as F.linear, training and in-place
weight changes fall back / repack, and greedy generation is unchanged."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from tuneworth.providers.local.packed import can_pack, pack_linears  # noqa: E402

pytestmark = pytest.mark.skipif(not torch.backends.mkldnn.is_available(), reason="needs oneDNN (mkldnn)")


def _tiny() -> torch.nn.Module:
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=97, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128,
                         pad_token_id=0, eos_token_id=1, bos_token_id=2)
    return LlamaForCausalLM(config).eval()


def test_packed_linear_matches_f_linear() -> None:
    lin = torch.nn.Linear(24, 40)
    x3 = torch.randn(3, 5, 24)
    x1 = torch.randn(1, 24)
    with torch.inference_mode():
        want3, want1 = lin(x3), lin(x1)
    assert pack_linears(lin) == 1
    assert pack_linears(lin) == 0  # already packed
    with torch.inference_mode():
        assert torch.allclose(lin(x3), want3, atol=1e-5)
        assert torch.equal(lin(x1), want1)  # one row stays on F.linear
    # In-place change (e.g. a LoRA merge): the packed copy is rebuilt.
    with torch.no_grad():
        lin.weight.mul_(2)
    with torch.inference_mode():
        assert torch.allclose(lin(x3), torch.nn.functional.linear(x3, lin.weight, lin.bias), atol=1e-5)
    # Training takes the autograd path.
    out = lin(x3).sum()
    out.backward()
    assert lin.weight.grad is not None and lin.weight.grad.abs().sum() > 0


def test_packed_model_generates_the_same() -> None:
    model = _tiny()
    assert can_pack(model)
    ids = torch.tensor([[0, 0, 5, 6, 7], [3, 4, 5, 6, 8]])
    mask = torch.tensor([[0, 0, 1, 1, 1], [1, 1, 1, 1, 1]])
    kwargs = dict(max_new_tokens=6, do_sample=False, pad_token_id=0)
    with torch.inference_mode():
        want = model.generate(input_ids=ids, attention_mask=mask, **kwargs)
        logits = model(input_ids=ids, attention_mask=mask).logits
    assert pack_linears(model) == 15  # 7 per layer and the LM head
    with torch.inference_mode():
        assert torch.equal(model.generate(input_ids=ids, attention_mask=mask, **kwargs), want)
        assert torch.allclose(model(input_ids=ids, attention_mask=mask).logits, logits, atol=1e-4)
