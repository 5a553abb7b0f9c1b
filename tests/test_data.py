"""Tests of the whole-array data sets and their batch iterator."""

import numpy as np
import torch

from sklearn_transformers._data import BatchIterator, RaggedTokens


def _ragged():
    documents = [[2, 5, 6], [2], [2, 7, 8, 9, 10], [2, 5]]
    offsets = np.concatenate([[0], np.cumsum([len(d) for d in documents])])
    ids = np.concatenate(documents)
    return documents, RaggedTokens(ids, offsets, y=torch.arange(4), pad_id=0)


def test_batch_pads_to_the_longest_document_of_the_batch():
    documents, data = _ragged()
    tokens, y = data.batch([3, 0])
    assert tokens.tolist() == [[2, 5, 0], [2, 5, 6]]
    assert y.tolist() == [3, 0]
    assert [data.document(i).tolist() for i in range(4)] == documents


def test_flat_gives_the_documents_in_order_for_a_subset_too():
    documents, data = _ragged()
    part = data.subset([2, 0])
    ids, offsets = part.flat()
    assert ids.tolist() == documents[2] + documents[0]
    assert offsets.tolist() == [0, 5, 8]


def test_subset_shares_the_token_ids_and_keeps_documents():
    documents, data = _ragged()
    part = data.subset([2, 0])
    # No copy of the corpus' ids: the early-stopping split costs no memory.
    assert np.shares_memory(part.ids, data.ids)
    assert len(part) == 2
    assert [part.document(i).tolist() for i in range(2)] == [documents[2], documents[0]]
    tokens, y = part.batch([0, 1])
    assert tokens.tolist() == [[2, 7, 8, 9, 10], [2, 5, 6, 0, 0]]
    assert y.tolist() == [2, 0]
    batches = list(BatchIterator(part, batch_size=1))
    assert sorted(int(y) for _, y in batches) == [0, 2]
