"""The PyTorch seq2seq tutorial's BahdanauAttention, as it is there: the
naive math that test_torch.py and test_torch_backward.py compare seqattn.torch
with. Imported only after those tests have imported torch (or skipped)."""

import torch
import torch.nn.functional as F
from torch import nn


class TutorialBahdanauAttention(nn.Module):
    """The PyTorch seq2seq tutorial's module, as it is there."""

    def __init__(self, hidden_size):
        super().__init__()
        self.Wa = nn.Linear(hidden_size, hidden_size)
        self.Ua = nn.Linear(hidden_size, hidden_size)
        self.Va = nn.Linear(hidden_size, 1)

    def forward(self, query, keys):
        scores = self.Va(torch.tanh(self.Wa(query) + self.Ua(keys)))
        scores = scores.squeeze(2).unsqueeze(1)
        weights = F.softmax(scores, dim=-1)
        context = torch.bmm(weights, keys)
        return context, weights
