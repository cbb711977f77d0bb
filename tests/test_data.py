import numpy as np
import pytest
import torch

from chargen.data import CorpusError, TBPTTBatches, find_files, ids_dtype, iter_text, prepare_corpus
from conftest import ENGLISH, KOREAN


def test_file_folder_and_several_paths(tmp_path, english_file):
    folder = tmp_path / "books"
    (folder / "sub").mkdir(parents=True)
    (folder / "b.txt").write_text("bbb")
    (folder / "sub" / "a.txt").write_text("aaa")
    (folder / "notes.md").write_text("ignored")
    assert find_files(folder) == [folder / "b.txt", folder / "sub" / "a.txt"]
    assert find_files([english_file, folder])[0] == english_file
    with pytest.raises(CorpusError, match="does not exist"):
        find_files(tmp_path / "missing.txt")
    (tmp_path / "empty_dir").mkdir()
    with pytest.raises(CorpusError, match="no .txt files"):
        find_files(tmp_path / "empty_dir")


def test_not_utf8_names_file_offset_and_encoding_flag(tmp_path):
    p = tmp_path / "review.txt"
    data = ("좋은 영화" * 50).encode("cp949")
    p.write_bytes(data)
    with pytest.raises(CorpusError) as e:
        list(iter_text([p]))
    msg = str(e.value)
    assert str(p) in msg and "byte offset 0" in msg and "--encoding cp949" in msg
    # the offset points at the first bad byte even deep into the file
    q = tmp_path / "late.txt"
    q.write_bytes(b"a" * 3_000_000 + b"\xff" + b"b" * 10)
    with pytest.raises(CorpusError, match="byte offset 3000000"):
        list(iter_text([q]))
    # and the suggested flag works
    assert "".join(iter_text([p], "cp949")) == "좋은 영화" * 50


def test_multibyte_character_split_across_read_blocks(tmp_path):
    p = tmp_path / "k.txt"
    text = "a" + "국" * 700_000          # 3 bytes each: block edges fall inside characters
    p.write_text(text, encoding="utf-8")
    assert "".join(iter_text([p])) == text


@pytest.mark.parametrize("content, match", [
    (b"", "empty"), (b"   \n\n\t ", "only whitespace"), (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" * 10, "binary"),
    (b"hello", "too small"), ("text".encode("utf-16"), "UTF-16"),
])
def test_bad_corpora_are_refused_clearly(tmp_path, content, match):
    p = tmp_path / "bad.txt"
    p.write_bytes(content)
    with pytest.raises(CorpusError, match=match):
        prepare_corpus([p], "char", tmp_path / "cache")


def test_unknown_encoding(tmp_path, english_file):
    with pytest.raises(CorpusError, match="unknown encoding"):
        prepare_corpus([english_file], "char", tmp_path / "c", encoding="klingon")


def test_split_dtype_memmap_and_cache(tmp_path, english_file):
    corpus = prepare_corpus([english_file], "char", tmp_path / "cache")
    text = english_file.read_text()
    n_train = int(len(text) * 0.9)
    assert corpus.train_ids.dtype == np.uint8 and isinstance(corpus.train_ids, np.memmap)
    assert corpus.tokenizer.decode(np.asarray(corpus.train_ids)) == text[:n_train]
    assert corpus.tokenizer.decode(np.asarray(corpus.val_ids)) == text[n_train:]
    assert corpus.meta["train_chars"] == n_train and corpus.meta["val_chars"] == len(text) - n_train
    mtime = (tmp_path / "cache" / "train.bin").stat().st_mtime_ns
    again = prepare_corpus([english_file], "char", tmp_path / "cache")      # reused, not rebuilt
    assert (tmp_path / "cache" / "train.bin").stat().st_mtime_ns == mtime
    assert again.meta == corpus.meta
    english_file.write_text(ENGLISH * 21)                                 # changed text: rebuilt
    assert prepare_corpus([english_file], "char", tmp_path / "cache").meta["chars"] == len(ENGLISH) * 21


def test_ids_dtype_is_smallest():
    assert ids_dtype(256) == np.uint8 and ids_dtype(257) == np.uint16 and ids_dtype(70_000) == np.uint32


@pytest.mark.parametrize("kind", ["jamo", "bpe"])
def test_other_tokenizers_split_on_characters(tmp_path, korean_file, kind):
    corpus = prepare_corpus([korean_file], kind, tmp_path / kind, vocab_size=400)
    text = korean_file.read_text()
    n_train = int(len(text) * 0.9)
    assert corpus.tokenizer.decode(np.asarray(corpus.train_ids)) + corpus.tokenizer.decode(np.asarray(corpus.val_ids)) == text
    assert corpus.meta["val_chars"] == len(text) - n_train


def test_batches_continue_each_other():
    ids = np.arange(1000) % 251
    b = TBPTTBatches(ids, batch_size=4, bptt_len=10)
    row_len = (len(ids) - 1) // 4
    x1, y1 = b.next()
    x2, y2 = b.next()
    assert x1.shape == (4, 10) and x1.dtype == torch.int64
    for r in range(4):   # row r is the r-th contiguous slice; batch 2 starts where batch 1 ended
        assert x1[r].tolist() == list(ids[r * row_len:r * row_len + 10])
        assert x2[r].tolist() == list(ids[r * row_len + 10:r * row_len + 20])
        assert y1[r, -1] == x2[r, 0]
    torch.testing.assert_close(y1[:, :-1], x1[:, 1:])


def test_batches_wrap_at_epoch_end_and_resume_position():
    ids = np.arange(101)
    b = TBPTTBatches(ids, batch_size=2, bptt_len=10)     # 50 per row -> 5 steps per epoch
    firsts = [b.next()[0][0, 0].item() for _ in range(6)]
    assert firsts == [0, 10, 20, 30, 40, 0] and b.epoch == 1 and b.new_epoch
    c = TBPTTBatches(ids, batch_size=2, bptt_len=10)
    c.load_state_dict(b.state_dict())
    torch.testing.assert_close(c.next()[0], b.next()[0])


def test_ranks_take_their_own_rows():
    ids = np.arange(1000)
    full = TBPTTBatches(ids, 4, 8).next()[0]
    parts = [TBPTTBatches(ids, 4, 8, rank=r, world_size=2).next()[0] for r in range(2)]
    torch.testing.assert_close(torch.cat(parts), full)


def test_too_small_for_batch_says_what_to_change():
    with pytest.raises(CorpusError, match="--batch-size"):
        TBPTTBatches(np.arange(50), batch_size=4, bptt_len=64)
