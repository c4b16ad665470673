"""The pre-training job's hot loop, compiled: instances, plain masking and Example bytes for one bucket pass.

Why compiled: in the common configuration (segment pairs, masking single positions, no weights) the
job spends its time in per-token Python (chunking, `truncate_seq_pair`, drawing masked positions,
joining varints), about 40 µs an instance however it is written. Here the same steps run in numba over
flat arrays, about 20× faster, so a worker's time goes to tokenization and I/O instead.

It is `instances.document_instances` with each instance masked by `Masker.mask` on single positions as
soon as it is built, draw for draw: the same random stream (`seeding.SplitMix64` seeded by
`stable_hash(seed, document key, pass)`; `_random` here is the same algorithm), the same draws in the
same order (`randint` as low + int(random() * n), positions by `masking.draw_positions`), so both paths
give the same bytes (tests/transforms/test_instance_kernel.py compares them on the shared corpus). The plain-Python
path runs every other option, and this configuration too where numba is missing.

Arrays: a bucket's sentences are one int32 `tokens` array cut by `sentence_starts` (S+1 offsets);
documents are runs of sentences cut by `document_starts` (D+1 offsets into the sentences).
"""
import numpy as np

try:
    import numba
except ImportError:  # the plain-Python path works without it
    numba = None

MODES = {"nsp": 0, "sop": 1, "none": 2}
MAX_ID = 1 << 28  # ids must stay below this: record_size_bound counts at most 4 bytes a varint
MASK, KEEP, RANDOM = 0, 1, 2  # masking.MASK / KEEP / RANDOM

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX_1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX_2 = np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31, _S11 = np.uint64(30), np.uint64(27), np.uint64(31), np.uint64(11)
_UNIT = 1.0 / 9007199254740992.0  # 2**-53


def available() -> bool:
    return numba is not None


def is_compiled() -> bool:
    """Whether numba's cache already holds the kernel for this source (else its first use compiles, about
    10 s). Reads numba's cache index, which numba does not document: when that fails, says True (no notice)."""
    if numba is None:
        return True
    try:
        return all(bool(function._cache._cache_file._load_index()) for function in (build_pass, encode_records))
    except Exception:  # another numba version's cache internals
        return True


def _jit(function):
    return numba.njit(cache=True, nogil=True)(function) if numba is not None else function


@_jit
def _random(state):
    """SplitMix64: the next float in [0, 1) from a one-element uint64 state array (seeding.SplitMix64)."""
    state[0] += _GOLDEN
    z = state[0]
    z = (z ^ (z >> _S30)) * _MIX_1
    z = (z ^ (z >> _S27)) * _MIX_2
    z = z ^ (z >> _S31)
    return float(z >> _S11) * _UNIT


@_jit
def _randint(state, low, high):
    """An int in [low, high], both included (as random.randint)."""
    return low + int(_random(state) * (high - low + 1))


@_jit
def _gather(tokens, sentence_starts, first, last, out, at):
    """Copy sentences first..last-1 into out[at:]; returns the new end."""
    for s in range(first, last):
        for t in range(sentence_starts[s], sentence_starts[s + 1]):
            out[at] = tokens[t]
            at += 1
    return at


@_jit
def _truncate(len_a, len_b, max_num_tokens, state, cuts):
    """truncate_seq_pair as counts: cuts = [a_front, a_back, b_front, b_back]."""
    cuts[:] = 0
    while len_a + len_b > max_num_tokens:
        if len_a > len_b:
            if _random(state) < 0.5:
                cuts[0] += 1
            else:
                cuts[1] += 1
            len_a -= 1
        else:
            if _random(state) < 0.5:
                cuts[2] += 1
            else:
                cuts[3] += 1
            len_b -= 1


@_jit
def _emit(n, a, a_from, a_to, b, b_from, b_to, with_b, label, cls_id, sep_id, unk_id, state,
          mask_id, random_ids, budgets, out_ids, out_length, out_len_a, out_label, out_positions,
          out_label_ids, out_kinds, out_count, out_unk, candidates):
    """Write instance n ([CLS] A [SEP] (B [SEP])) and mask it in place."""
    row = out_ids[n]
    row[0] = cls_id
    length = 1
    unk = 0
    for t in range(a_from, a_to):
        row[length] = a[t]
        unk += a[t] == unk_id
        length += 1
    row[length] = sep_id
    length += 1
    len_a = a_to - a_from
    count = 0
    for p in range(1, len_a + 1):
        candidates[count] = p
        count += 1
    if with_b:
        for t in range(b_from, b_to):
            row[length] = b[t]
            unk += b[t] == unk_id
            candidates[count] = length
            count += 1
            length += 1
        row[length] = sep_id
        length += 1
    out_length[n] = length
    out_len_a[n] = len_a
    out_label[n] = label
    out_unk[n] = unk

    budget = budgets[length]
    if budget >= count:
        budget = count  # every candidate, no draw (masking.draw_positions)
    else:
        # The first `budget` entries of a partial Fisher-Yates shuffle: distinct, uniformly drawn positions.
        for k in range(budget):
            j = k + int(_random(state) * (count - k))
            swap = candidates[k]
            candidates[k] = candidates[j]
            candidates[j] = swap
    chosen = np.sort(candidates[:budget])
    positions = out_positions[n]
    label_ids = out_label_ids[n]
    kinds = out_kinds[n]
    vocabulary = random_ids.shape[0]
    for k in range(budget):
        position = chosen[k]
        positions[k] = position
        label_ids[k] = row[position]
        if _random(state) < 0.8:
            row[position] = mask_id
            kinds[k] = MASK
        elif _random(state) < 0.5:
            kinds[k] = KEEP
        else:
            row[position] = random_ids[int(_random(state) * vocabulary)]
            kinds[k] = RANDOM
    out_count[n] = budget


@_jit
def build_pass(tokens, sentence_starts, document_starts, document_seeds, mode, max_seq_length, short_seq_prob,
               cls_id, sep_id, unk_id, mask_id, random_ids, budgets,
               out_ids, out_length, out_len_a, out_label, out_positions, out_label_ids, out_kinds, out_count,
               out_unk):
    """All instances of one pass over a bucket's documents, masked; returns how many were written.

    The out_* arrays need a row per sentence of the bucket (a document never yields more instances
    than it has sentences); out_ids rows must be zero beyond each instance (padding).
    """
    pair = mode != 2
    max_num_tokens = max_seq_length - (3 if pair else 2)
    documents = document_starts.shape[0] - 1
    scratch_a = np.empty(tokens.shape[0] + 1, np.int32)
    scratch_b = np.empty(tokens.shape[0] + 1, np.int32)
    candidates = np.empty(max_seq_length, np.int64)
    cuts = np.zeros(4, np.int64)
    state = np.zeros(1, np.uint64)
    n = 0
    for d in range(documents):
        state[0] = document_seeds[d]
        first_sentence = document_starts[d]
        count = document_starts[d + 1] - first_sentence
        target = max_num_tokens
        if _random(state) < short_seq_prob:
            target = _randint(state, 2, max_num_tokens)
        chunk_start = 0  # sentence indexes (within the document) of the current chunk: chunk_start..i
        chunk_length = 0
        i = 0
        while i < count:
            s = first_sentence + i
            chunk_length += sentence_starts[s + 1] - sentence_starts[s]
            if i == count - 1 or chunk_length >= target:
                chunk_size = i - chunk_start + 1
                chunk_first = first_sentence + chunk_start
                if not pair:
                    len_a = _gather(tokens, sentence_starts, chunk_first, chunk_first + chunk_size, scratch_a, 0)
                    _truncate(len_a, 0, max_num_tokens, state, cuts)
                    _emit(n, scratch_a, cuts[0], len_a - cuts[1], scratch_b, 0, 0, False, 0, cls_id, sep_id,
                          unk_id, state, mask_id, random_ids, budgets, out_ids, out_length, out_len_a, out_label,
                          out_positions, out_label_ids, out_kinds, out_count, out_unk, candidates)
                    n += 1
                else:
                    a_end = 1
                    if chunk_size >= 2:
                        a_end = _randint(state, 1, chunk_size - 1)
                    len_a = _gather(tokens, sentence_starts, chunk_first, chunk_first + a_end, scratch_a, 0)
                    label = 0
                    put_back = 0
                    len_b = 0
                    emit = True
                    if mode == 0:
                        if chunk_size == 1 or _random(state) < 0.5:
                            label = 1
                            # B: sentences of another document from a random start, up to the remaining target.
                            other = d
                            for _ in range(10):
                                other = _randint(state, 0, documents - 1)
                                if other != d:
                                    break
                            other_first = document_starts[other]
                            other_count = document_starts[other + 1] - other_first
                            start = _randint(state, 0, other_count - 1)
                            target_b = target - len_a
                            len_b = 0
                            for j in range(start, other_count):
                                len_b = _gather(tokens, sentence_starts, other_first + j, other_first + j + 1,
                                                scratch_b, len_b)
                                if len_b >= target_b:
                                    break
                            put_back = chunk_size - a_end
                        else:
                            len_b = _gather(tokens, sentence_starts, chunk_first + a_end, chunk_first + chunk_size,
                                            scratch_b, 0)
                        a_buffer, b_buffer = scratch_a, scratch_b
                    else:
                        if chunk_size == 1:
                            if len_a < 2:
                                emit = False
                            else:
                                cut = _randint(state, 1, len_a - 1)
                                len_b = len_a - cut
                                scratch_b[:len_b] = scratch_a[cut:len_a]
                                len_a = cut
                        else:
                            len_b = _gather(tokens, sentence_starts, chunk_first + a_end, chunk_first + chunk_size,
                                            scratch_b, 0)
                        a_buffer, b_buffer = scratch_a, scratch_b
                        if emit and _random(state) < 0.5:
                            a_buffer, b_buffer = scratch_b, scratch_a
                            len_a, len_b = len_b, len_a
                            label = 1
                    if emit:
                        _truncate(len_a, len_b, max_num_tokens, state, cuts)
                        _emit(n, a_buffer, cuts[0], len_a - cuts[1], b_buffer, cuts[2], len_b - cuts[3], True,
                              label, cls_id, sep_id, unk_id, state, mask_id, random_ids, budgets, out_ids,
                              out_length, out_len_a, out_label, out_positions, out_label_ids, out_kinds, out_count,
                              out_unk, candidates)
                        n += 1
                    i -= put_back
                chunk_start = i + 1
                chunk_length = 0
            i += 1
    return n


@_jit
def _write_bytes(buffer, at, source, length):
    for k in range(length):
        buffer[at + k] = source[k]
    return at + length


@_jit
def _write_varint(buffer, at, value):
    while value >= 0x80:
        buffer[at] = (value & 0x7F) | 0x80
        value >>= 7
        at += 1
    buffer[at] = value
    return at + 1


@_jit
def _varint_size(value):
    size = 1
    while value >= 0x80:
        value >>= 7
        size += 1
    return size


@_jit
def _write_packed(body, b, values, count, padded_to, headers, header_sizes):
    """An int64 list feature: the header for its packed size, `count` varints, zeros up to `padded_to`."""
    size = padded_to - count
    for t in range(count):
        size += _varint_size(values[t])
    b = _write_bytes(body, b, headers[size], header_sizes[size])
    for t in range(count):
        b = _write_varint(body, b, values[t])
    for t in range(padded_to - count):
        body[b] = 0
        b += 1
    return b


@_jit
def encode_records(n, max_seq_length, max_predictions, out_ids, out_length, out_len_a, out_label, out_positions,
                   out_label_ids, out_count, ids_headers, ids_header_sizes, label_headers, label_header_sizes,
                   position_headers, position_header_sizes, mask_header, segment_header, weight_entries,
                   weight_entry_sizes, label_entries, label_entry_sizes, buffer, offsets):
    """Serialize instances 0..n-1 as tf.train.Example bytes into `buffer`; record k is
    buffer[offsets[k]:offsets[k+1]]. Headers come from `PretrainingEncoder` (see `pretraining_records.CompiledEncoder`)."""
    at = 0
    body = np.empty(buffer.shape[0] // max(n, 1) + 16, np.uint8)
    for k in range(n):
        length = out_length[k]
        count = out_count[k]
        row = out_ids[k]
        b = _write_packed(body, 0, row, length, max_seq_length, ids_headers, ids_header_sizes)
        b = _write_bytes(body, b, mask_header, mask_header.shape[0])  # input_mask: 1 per real token
        for t in range(max_seq_length):
            body[b] = 1 if t < length else 0
            b += 1
        b = _write_packed(body, b, out_label_ids[k], count, max_predictions, label_headers, label_header_sizes)
        b = _write_packed(body, b, out_positions[k], count, max_predictions, position_headers,
                          position_header_sizes)
        # masked_lm_weights, next_sentence_labels: whole entries by count and label
        b = _write_bytes(body, b, weight_entries[count], weight_entry_sizes[count])
        label = out_label[k]
        b = _write_bytes(body, b, label_entries[label], label_entry_sizes[label])
        # segment_ids: 0 through the first [SEP], 1 through the second, 0 padding
        b = _write_bytes(body, b, segment_header, segment_header.shape[0])
        boundary = out_len_a[k] + 2
        for t in range(max_seq_length):
            body[b] = 1 if (boundary < length and boundary <= t < length) else 0
            b += 1
        offsets[k] = at
        buffer[at] = 0x0A
        at = _write_varint(buffer, at + 1, b)
        at = _write_bytes(buffer, at, body, b)
    offsets[n] = at
    return at


def record_size_bound(max_seq_length: int, max_predictions: int) -> int:
    """Bytes a record can take at most (ids below MAX_ID; generous headers)."""
    return 4 * max_seq_length + 2 * max_seq_length + 9 * max_predictions + 4 * max_predictions + 256
