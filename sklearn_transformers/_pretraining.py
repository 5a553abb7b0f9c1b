"""Self-pretraining: a masked-language-model objective on the training texts.

Before the classifier learns the labels, its token embedding and encoder
learn to predict masked words of the same documents (BERT's objective,
Devlin et al. 2019, on the downstream corpus alone as in Krishna et al.,
ACL 2023). The masked-word head is tied to the token embedding and thrown
away afterwards; only the embedding and encoder keep what they learned.

Nothing here knows about scikit-learn or skorch. It reads two things of the
classifier module: ``embed`` (the token embedding, an ``nn.Embedding``) and
the contextual encoder states of a batch of token ids (its
``contextual_states(tokens)``, ``(B, L, D)``).
"""

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ._data import BatchIterator

__all__ = ["MaskedTokenHead", "pretrain_masked_lm"]

# BERT's recipe: 15% of the tokens are chosen; of those 80% are replaced by the
# mask token, 10% by a random token and 10% kept as they are.
MASK_RATE = 0.15
REPLACE_SHARES = (0.8, 0.1)


class MaskedTokenHead(nn.Module):
    """Encoder states in, vocabulary logits out, tied to the token embedding.

    ``(M, D) -> (M, V)``: a dense layer with GELU and LayerNorm, then the
    product with the embedding table plus a per-token bias.
    """

    def __init__(self, embedding):
        super().__init__()
        vocab_size, dim = embedding.weight.shape
        self.embedding = embedding
        self.transform = nn.Linear(dim, dim)
        self.norm = nn.LayerNorm(dim)
        self.bias = nn.Parameter(torch.zeros(vocab_size))

    def forward(self, states):
        # (M, D) -> (M, D) -> (M, V)
        hidden = self.norm(F.gelu(self.transform(states)))
        return hidden @ self.embedding.weight.T + self.bias


def mask_tokens(tokens, *, mask_id, special, vocab_size):
    """``(inputs, targets)`` for one batch of token ids ``(B, L)``.

    Chooses ``MASK_RATE`` of the positions whose id is not in ``special`` (a
    1-D tensor of ids); ``targets`` is the original id there and -100
    (ignored by the loss) elsewhere. Random replacements are never special
    ids (a padding id would hide the position from attention).
    """
    draw = torch.rand(tokens.shape, device=tokens.device)
    chosen = ~torch.isin(tokens, special) & (draw < MASK_RATE)
    targets = torch.where(chosen, tokens, torch.full_like(tokens, -100))
    # Reuse the same draw, rescaled to [0, 1) inside the chosen positions.
    share = draw / MASK_RATE
    to_mask = chosen & (share < REPLACE_SHARES[0])
    to_random = chosen & ~to_mask & (share < sum(REPLACE_SHARES))
    random_ids = torch.randint(vocab_size, tokens.shape, device=tokens.device)
    to_random &= ~torch.isin(random_ids, special)
    inputs = torch.where(to_mask, torch.full_like(tokens, mask_id), tokens)
    inputs = torch.where(to_random, random_ids, inputs)
    return inputs, targets


def pretrain_masked_lm(
    module,
    data,
    *,
    epochs,
    batch_size,
    lr,
    weight_decay,
    mask_id,
    special_ids,
    seed,
    device,
):
    """Train ``module``'s embedding and encoder to predict masked tokens.

    Parameters
    ----------
    module : torch.nn.Module
        The classifier module; its ``embed`` and encoder are trained in place.
    data : RaggedTokens
        The training documents (labels unused).
    epochs, batch_size : int
        Passes over ``data`` and documents per batch.
    lr, weight_decay : float
        AdamW settings; the rate decays along a half cosine over all steps.
    mask_id : int
        Id that stands for a masked token (the unknown-word id: the model
        learns to read a word it cannot see from its context).
    special_ids : sequence of int
        Ids never masked nor predicted (padding, [CLS]), nor the mask id.
    seed : int
        Seed of the batch order (masks come from torch's generator, which
        the caller seeds).
    device : torch.device
        Where to train.

    Returns
    -------
    losses : list of float
        The mean masked-token loss of each epoch.
    """
    module.to(device)
    head = MaskedTokenHead(module.embed).to(device)
    params = list(
        {id(p): p for p in [*module.parameters(), *head.parameters()]}.values()
    )
    optimizer = torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    batches = BatchIterator(data, batch_size, shuffle=True, seed=seed, device=device)
    steps = max(1, epochs * len(batches))
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: 0.5 * (1 + math.cos(math.pi * min(step, steps) / steps))
    )
    special = torch.as_tensor(np.unique([*special_ids, mask_id]), device=device)
    vocab_size = module.embed.num_embeddings
    module.train()
    head.train()
    losses = []
    for _ in range(epochs):
        total, count = 0.0, 0
        for tokens, _ in batches:
            inputs, targets = mask_tokens(
                tokens, mask_id=mask_id, special=special, vocab_size=vocab_size
            )
            picked = targets != -100  # (B, L)
            if not picked.any():
                continue
            states = module.contextual_states(inputs)[picked]  # (M, D)
            loss = F.cross_entropy(head(states), targets[picked])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            total += loss.item() * int(picked.sum())
            count += int(picked.sum())
        losses.append(total / max(count, 1))
    module.eval()
    return losses
