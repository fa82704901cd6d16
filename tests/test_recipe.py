"""The original AWD code's recipe composes, validates and trains; method=awd stays the paper's text."""

import torch

from seqvae.config import compose_config
from seqvae.data.batching import make_batch
from seqvae.models import SequenceVAE


def test_recipe_authors_sets_the_original_code_s_choices_on_top_of_a_size():
    cfg = compose_config(["recipe=authors", "model.emb_dim=16", "model.enc_hidden=24", "model.dec_hidden=24"])
    m, d = cfg.model, cfg.dropout
    assert (m.decoder, m.update_cells, m.state_dropout, m.init) == ("double-lstm", 2, 0.4, "small-uniform")
    assert (d.method, d.rate, d.lam, d.score_scale, d.score_bias) == ("awd", 0.2, 0.01, 1.0, False)
    assert (d.adv_optim, d.adv_lr, d.adv_lr_schedule) == ("adam", 0.1, "constant")
    assert (d.adv_emb_dim, d.adv_hidden_dim) == (16, 24), "the adversary as large as the decoder"
    assert (cfg.optim.name, cfg.optim.lr) == ("adam", 0.001), "the VAE's optimiser stays the size's"
    assert compose_config(["method=awd-authors"]).dropout == compose_config(["recipe=authors"]).dropout
    paper = compose_config(["method=awd"]).dropout
    assert (paper.lam, paper.score_scale, paper.adv_optim, paper.adv_lr_schedule) == (1.0, None, None, "decay")

    torch.manual_seed(0)
    model = SequenceVAE.from_config(cfg, 30).train()
    batch = make_batch(list(enumerate([[5, 6, 7, 8], [9, 10, 11]])))
    model(batch.tokens, batch.lengths).loss().backward()
    assert model.dropout.adversary.head.bias is None and model.decoder.update2.weight_hh.grad.abs().sum() > 0


def test_the_recipe_s_control_differs_from_it_only_in_which_words_are_dropped():
    recipe = compose_config(["method=awd-authors"])
    control = compose_config(["method=uniform-exact-authors"])
    assert control.model == recipe.model and control.optim == recipe.optim
    assert (control.dropout.method, control.dropout.exact_k, control.dropout.rate) == ("uniform", True, 0.2)

    torch.manual_seed(0)
    model = SequenceVAE.from_config(control, 30).train()
    assert not any(name.startswith("dropout.") for name, _ in model.named_parameters()), "no adversary"
    inputs = torch.randint(4, 30, (64, 11))  # <s> and 10 words
    dropped = (model.dropout(inputs, torch.full((64,), 10)).mask == 0).sum(1)
    assert dropped.eq(2).all(), "exactly K = round(0.2 * 10) words a sentence, AWD's budget"
