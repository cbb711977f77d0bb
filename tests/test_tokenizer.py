"""Tests for chargen.tokenizer: lossless round trips (hypothesis), unknowns, save/load, errors."""
import json
import random
import unicodedata

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from chargen.hangul import compose_hangul, decompose_hangul
from chargen.tokenizer import (UNK_ID, CharTokenizer, SubwordTokenizer, Tokenizer, TokenizerError,
                               _training_sentences, fit_tokenizer, load_tokenizer)

FAST = settings(max_examples=150, deadline=None)
KOREAN = "국민대학교 영화 정말 재밌어요! ㅋㅋㅋ 최고👍"
CONJOINING = [chr(c) for c in range(0x1100, 0x1200)]  # jamo mode recomposes these (documented)

# arbitrary text, with the characters that tokenizers most often get wrong made frequent.
# codec="utf-8" leaves out only lone surrogates (U+D800..U+DFFF), which no UTF-8 file can hold;
# subword tokenizers map them to unk (tested separately), char/jamo round-trip them.
tricky = st.sampled_from(list(" \n\t\r▁\x00\ufffd👍é") + ["e\u0301", "국", "ㅋ", "  "])
any_text = st.lists(st.one_of(st.characters(codec="utf-8"), tricky), max_size=40).map("".join)
korean_text = st.lists(st.one_of(st.characters(min_codepoint=0xAC00, max_codepoint=0xD7A3),
                                 st.sampled_from(list(" abc!?.\nㅋㅎ👍1"))), max_size=40).map("".join)
no_conjoining = st.text(st.characters(exclude_characters=CONJOINING), max_size=40)


def corpus(n_lines=120, seed=0):
    """A few KB of mixed English/Korean lines with digits, punctuation and repeated spaces."""
    rng = random.Random(seed)
    words = ("the quick brown fox jumps over a lazy dog and keeps typing words 2024 12:30 "
             "국민대학교 영화 정말 재밌어요 ㅋㅋㅋ 최고 한국어 키보드 예측").split()
    return "\n".join(" ".join(rng.choice(words) for _ in range(rng.randint(1, 12))) +
                     rng.choice(["", ".", "!", "  ", "?"]) for _ in range(n_lines))


@pytest.fixture(scope="module", params=["bpe", "unigram"])
def subword(request):
    return fit_tokenizer(request.param, [corpus()], vocab_size=400)


@pytest.fixture(scope="module", params=["char", "jamo", "bpe", "unigram"])
def any_tok(request):
    return fit_tokenizer(request.param, [corpus()], vocab_size=400)


# ----------------------------------------------------------------------------- char
@FAST
@given(st.text(st.characters(codec=None), min_size=1, max_size=60))  # surrogates included
def test_char_round_trip_on_own_text(text):
    tok = fit_tokenizer("char", [text])
    ids = tok.encode(text)
    assert tok.decode(ids) == text
    assert UNK_ID not in ids and len(ids) == len(text)
    assert tok.encode_array(text).tolist() == ids


@FAST
@given(any_text)
def test_char_unknowns_become_replacement_char(text):
    tok = fit_tokenizer("char", ["hello world"])
    ids = tok.encode(text)
    assert len(ids) == len(text)
    assert tok.decode(ids) == "".join(c if c in "helo wrd" else "\ufffd" for c in text)


def test_char_vocab_is_sorted_code_points_with_unk_zero():
    tok = fit_tokenizer("char", ["국b a국"])
    assert tok.chars == (" ", "a", "b", "국") and tok.vocab_size == 5 and tok.unk_id == 0
    assert tok.encode("국👍") == [4, UNK_ID]
    assert tok.decode([UNK_ID]) == tok.token_text(UNK_ID) == "\ufffd"
    assert tok.token_text(4) == "국"


def test_char_fit_over_chunks_equals_fit_over_joined_text():
    text = corpus()
    chunks = [text[i:i + 97] for i in range(0, len(text), 97)]
    assert fit_tokenizer("char", iter(chunks)).chars == fit_tokenizer("char", [text]).chars
    assert fit_tokenizer("jamo", chunks).chars == fit_tokenizer("jamo", text).chars


def test_char_fast_path_matches_slow_path_on_5mb():
    rng = random.Random(1)
    text = "".join(rng.choice("abcdefghij klmnop\n.,국👍") for _ in range(5000)) * 1000  # ~5 MB
    tok = fit_tokenizer("char", ["abcdefghij klmnop\n.,"])  # "국" and "👍" are unknown
    ids = tok.encode_array(text)
    assert ids.dtype == np.int64 and len(ids) == len(text)
    lookup = {c: i + 1 for i, c in enumerate(tok.chars)}
    for start in (0, 1_048_570, 2_500_000, len(text) - 3000):  # includes a block border
        sample = text[start:start + 3000]
        assert ids[start:start + 3000].tolist() == [lookup.get(c, UNK_ID) for c in sample]


def test_char_lone_surrogate_round_trips_and_saves(tmp_path):
    text = "a\ud800b"
    tok = fit_tokenizer("char", [text])
    assert tok.decode(tok.encode(text)) == text
    assert load_tokenizer(tmp_path, tok.save(tmp_path)).chars == tok.chars


# ----------------------------------------------------------------------------- jamo
def test_jamo_korean_example():
    tok = fit_tokenizer("jamo", [KOREAN])
    assert tok.kind == "jamo"
    assert tok.decode(tok.encode(KOREAN)) == KOREAN
    assert len(tok.encode("국")) == 3  # ᄀ + ᅮ + ᆨ
    assert len(tok.encode("ㅋ")) == 1 and tok.encode("ㅋ")[0] != UNK_ID  # compatibility jamo
    assert not any("\uac00" <= c <= "\ud7a3" for c in tok.chars)  # no syllables in the vocab
    assert tok.encode_array(KOREAN).tolist() == tok.encode(KOREAN)


def test_jamo_leaves_non_hangul_alone():
    assert decompose_hangul("é") == "é" and len(decompose_hangul("e\u0301")) == 2
    tok = fit_tokenizer("jamo", ["café e\u0301"])
    assert len(tok.encode("é")) == 1 and tok.decode(tok.encode("e\u0301")) == "e\u0301"


def test_hangul_functions_match_unicode_nfd_nfc():
    syllables = "".join(chr(c) for c in range(0xAC00, 0xD7A4))
    decomposed = decompose_hangul(syllables)
    assert decomposed == unicodedata.normalize("NFD", syllables)
    assert compose_hangul(decomposed) == syllables
    assert compose_hangul("\u1100") == "\u1100"  # a lone lead stays as it is
    assert compose_hangul("\u1100\u1161\u11a8\u11a8") == "각\u11a8"


@FAST
@given(no_conjoining)
def test_jamo_round_trip_arbitrary_text(text):
    tok = fit_tokenizer("jamo", [text + "x"])
    assert tok.decode(tok.encode(text)) == text
    assert tok.encode_array(text).tolist() == tok.encode(text)


@FAST
@given(korean_text, korean_text)
def test_jamo_round_trip_korean_and_chunk_concatenation(a, b):
    tok = fit_tokenizer("jamo", [a, b, "x"])
    ids = tok.encode(a) + tok.encode(b)
    assert tok.decode(ids) == a + b
    assert compose_hangul(decompose_hangul(a)) == a


@FAST
@given(any_text)
def test_jamo_unknowns_never_crash(text):
    tok = fit_tokenizer("jamo", [KOREAN])
    assert isinstance(tok.decode(tok.encode(text)), str)


# ----------------------------------------------------------------------------- subword
@FAST
@given(any_text)
def test_subword_round_trip_arbitrary_text(subword, text):
    ids = subword.encode(text)
    assert subword.decode(ids) == text
    assert subword.encode_array(text).tolist() == ids


@FAST
@given(any_text, any_text)
def test_subword_chunks_concatenate(subword, a, b):
    # the data loader encodes a corpus in chunks and joins the ids: no space may appear at joins
    assert subword.decode(subword.encode(a) + subword.encode(b)) == a + b


@FAST
@given(korean_text)
def test_subword_round_trip_korean(subword, text):
    assert subword.decode(subword.encode(text)) == text


def test_subword_basics(subword):
    assert subword.kind in ("bpe", "unigram") and isinstance(subword, SubwordTokenizer)
    assert subword.vocab_size <= 400 and subword.unk_id == subword.sp.unk_id()
    assert subword.token_text(subword.unk_id) == "\ufffd"
    for text in ["\n", "a▁b", "  lead and trail  ", "\t", "국민 영화👍", "\x00"]:
        assert subword.decode(subword.encode(text)) == text
    byte_a, byte_nl = subword.sp.piece_to_id("<0x41>"), subword.sp.piece_to_id("<0x0A>")
    assert subword.token_text(byte_a) == "A" and subword.token_text(byte_nl) == ""
    texts = [subword.token_text(i) for i in range(subword.vocab_size)]
    assert any(t.startswith(" ") and len(t) > 1 for t in texts)  # "▁the" is shown as " the"
    assert not any("▁" in t for t in texts)
    assert len(subword.encode("the quick brown fox")) < len("the quick brown fox")  # it merges


def test_subword_lone_surrogate_is_unknown(subword):
    ids = subword.encode("a\ud800▁b")
    assert subword.unk_id in ids and subword.decode(ids) == "a\ufffd▁b"


def test_training_sentences_join_chunks_and_cut_long_lines():
    long_line = "word " * 1000 + "x" * 3000
    out = list(_training_sentences(["ab\ncd", "ef\n\n", long_line, "\nlast▁one"]))
    assert out[:2] == ["ab", "cdef"] and out[-1] == "last one"
    assert "".join(out[2:-1]) == long_line and all(len(s) <= 1048 for s in out)


def test_subword_trains_on_single_long_line_chunks():
    text = corpus().replace("\n", " ")  # one line much longer than SentencePiece's limit
    tok = fit_tokenizer("bpe", [text[i:i + 500] for i in range(0, len(text), 500)], 400)
    assert tok.decode(tok.encode(text)) == text


def test_subword_vocab_size_errors():
    with pytest.raises(TokenizerError, match="at least 264"):
        fit_tokenizer("bpe", [corpus()], vocab_size=100)
    with pytest.raises(TokenizerError, match=r"too small for this corpus.*at least \d+"):
        fit_tokenizer("unigram", [corpus()], vocab_size=280)  # corpus has > 23 distinct chars


# ----------------------------------------------------------------------------- all kinds
def test_encode_array_matches_encode(any_tok):
    text = corpus(20, seed=5) + " unseen: Ω👍 ▁"
    arr = any_tok.encode_array(text)
    assert arr.dtype == np.int64 and arr.tolist() == any_tok.encode(text)
    assert isinstance(any_tok, Tokenizer)
    assert any_tok.encode("") == [] and any_tok.decode([]) == ""


def test_decode_accepts_lists_arrays_and_iterables(any_tok):
    ids = any_tok.encode("the fox 국민")
    expected = any_tok.decode(ids)
    assert any_tok.decode(np.array(ids, dtype=np.uint16)) == expected
    assert any_tok.decode(iter(ids)) == expected
    with pytest.raises(TokenizerError, match="outside"):
        any_tok.decode([any_tok.vocab_size])
    with pytest.raises(TokenizerError, match="outside"):
        any_tok.decode([-1])


def test_save_load_identical(any_tok, tmp_path):
    spec = any_tok.save(tmp_path)
    assert json.loads(json.dumps(spec)) == spec
    assert spec["kind"] == any_tok.kind and spec["vocab_size"] == any_tok.vocab_size
    loaded = load_tokenizer(tmp_path, spec)
    text = corpus(10, seed=3) + " Ω👍\n▁"
    assert type(loaded) is type(any_tok) and loaded.encode(text) == any_tok.encode(text)
    ids = any_tok.encode_array(text)
    assert loaded.decode(ids) == any_tok.decode(ids)
    assert [loaded.token_text(i) for i in range(loaded.vocab_size)] == \
        [any_tok.token_text(i) for i in range(any_tok.vocab_size)]


@pytest.mark.parametrize("kind", ["char", "bpe"])
def test_load_errors_are_helpful(kind, tmp_path):
    tok = fit_tokenizer(kind, [corpus()], vocab_size=400)
    spec = tok.save(tmp_path)
    path = tmp_path / spec["file"]
    with pytest.raises(TokenizerError, match="unknown tokenizer kind 'wordpiece'"):
        load_tokenizer(tmp_path, {**spec, "kind": "wordpiece"})
    with pytest.raises(TokenizerError, match="plain file name"):
        load_tokenizer(tmp_path, {**spec, "file": "../secrets"})
    with pytest.raises(TokenizerError, match="does not belong"):
        load_tokenizer(tmp_path, {**spec, "vocab_size": spec["vocab_size"] + 1})
    path.write_bytes(b"\xff\x00 garbage {")
    with pytest.raises(TokenizerError, match=f"{spec['file']} is corrupted.*retrain"):
        load_tokenizer(tmp_path, spec)
    path.unlink()
    with pytest.raises(TokenizerError, match=f"{spec['file']} not found.*retrain"):
        load_tokenizer(tmp_path, spec)
    with pytest.raises(TokenizerError, match="'kind'"):
        load_tokenizer(tmp_path, {"file": spec["file"]})


def test_load_rejects_malformed_char_json(tmp_path):
    for bad in ['{"kind": "char"}', '{"kind": "char", "chars": ["ab"]}', '["a"]',
                '{"kind": "char", "chars": ["a", "a"]}', '{"kind": "jamo", "chars": ["a"]}']:
        (tmp_path / "tokenizer.json").write_text(bad, encoding="utf-8")
        with pytest.raises(TokenizerError, match="tokenizer.json is corrupted"):
            load_tokenizer(tmp_path, {"kind": "char", "file": "tokenizer.json"})
    (tmp_path / "tokenizer.model").write_bytes(b"")  # parses as an empty model: still rejected
    with pytest.raises(TokenizerError, match="byte_fallback"):
        load_tokenizer(tmp_path, {"kind": "bpe"})


def test_fit_errors():
    with pytest.raises(TokenizerError, match="unknown tokenizer kind 'word'"):
        fit_tokenizer("word", ["abc"])
    for kind in ("char", "jamo", "bpe"):
        with pytest.raises(TokenizerError, match="empty"):
            fit_tokenizer(kind, ["", "\n\n"] if kind == "bpe" else [""], vocab_size=400)
    assert isinstance(CharTokenizer(["a"]), Tokenizer)
