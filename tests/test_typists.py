"""Many typists: sessions by id, capped and expiring; id-less callers served from an anonymous pool."""
import threading
import time

import pytest
import torch

from chargen.model import CharLM, ModelConfig
from chargen.predictor import Predictor
from chargen.tokenizer import fit_tokenizer
from chargen.typists import KEYBOARD_CONTEXT, Typist, TypistPool
from conftest import ENGLISH


@pytest.fixture(scope="module")
def predictor():
    tok = fit_tokenizer("char", [ENGLISH])
    torch.manual_seed(0)
    return Predictor(CharLM(ModelConfig(vocab_size=tok.vocab_size, num_layers=1, hidden_size=16)), tok)


def test_sessions_by_id_are_their_own(predictor):
    pool = TypistPool()
    a_id, a = pool.checkout("alice")
    b_id, b = pool.checkout(None)
    assert a_id == "alice" and b_id and b_id != a_id and a is not b
    with a.lock:
        a.session_for(predictor, "m", "First Cit")
    with b.lock:
        b.session_for(predictor, "m", "All: spe")
    assert pool.checkout("alice")[1] is a and pool.checkout(b_id)[1] is b
    assert a.session.text == "First Cit" and b.session.text == "All: spe"
    with pytest.raises(ValueError, match="session id"):
        pool.checkout("../etc/passwd")


def test_the_pool_is_capped_in_number_and_memory_and_forgets_idle_sessions(predictor):
    pool = TypistPool(max_sessions=2)
    for sid in "abc":
        _, t = pool.checkout(sid)
        with t.lock:
            t.session_for(predictor, "m", ENGLISH)
    assert len(pool) == 2 and set(pool._by_id) == {"b", "c"}   # the least recently used one was dropped
    one = pool._by_id["c"]
    assert one.memory_bytes() > 0 and pool.memory_bytes() >= 2 * one.memory_bytes()
    small = TypistPool(max_bytes=one.memory_bytes() + 1)       # room for about one session
    _, busy = small.checkout("busy")
    with busy.lock:
        busy.session_for(predictor, "m", ENGLISH)
        _, other = small.checkout("other")                     # over the cap, but "busy" is in use
        assert "busy" in small._by_id
    with other.lock:
        other.session_for(predictor, "m", ENGLISH)
    small.checkout("third")                                    # now the idle, older one goes
    assert "busy" not in small._by_id and "third" in small._by_id
    idle = TypistPool(idle_seconds=0.05)
    idle.checkout("z")
    time.sleep(0.1)
    idle.checkout("y")
    assert "z" not in idle._by_id and len(idle) == 1


def test_anonymous_callers_never_share_a_typist_in_use_and_reuse_their_states(predictor):
    pool = TypistPool(anonymous=2)
    first = pool.anonymous("First Citizen")
    first.session_for(predictor, "m", "First Citizen")
    other = pool.anonymous("First Citizen")                  # the first is still in use
    assert other is not first
    first.lock.release(), other.lock.release()
    again = pool.anonymous("First Citizen: b")               # the one holding most of this text
    assert again is first
    steps = again.session.steps
    again.session_for(predictor, "m", "First Citizen: b")
    assert again.session.steps - steps == len(": b")        # typing on: a step per new character
    offered = pool.offer(again)                              # an id for next time: a fork of it
    again.lock.release()
    _, mine = pool.checkout(offered)
    assert mine is not again and mine.session.text == "First Citizen: b"
    with mine.lock:
        mine.session_for(predictor, "m", "First Citizen: be")
    assert again.session.text == "First Citizen: b"          # forks go on independently
    torch.testing.assert_close(mine.session.next_token_probs(),
                               predictor.session("First Citizen: be").next_token_probs(), atol=1e-5, rtol=0)


def test_threads_typing_side_by_side_each_get_their_own_suggestions(predictor):
    texts = {f"t{i}": (ENGLISH[i * 7:] * 2)[:120] for i in range(6)}

    def typist(pool, sid, text, out):
        for k in range(1, len(text), 3):
            _, t = pool.checkout(sid)
            with t.lock:
                s = t.session_for(predictor, "m", text[:k])
                out.append((s.text, s.suggest(3)))
    alone = {sid: [] for sid in texts}             # each typist on its own, one after another
    for sid, text in texts.items():
        typist(TypistPool(), sid, text, alone[sid])
    pool, together = TypistPool(), {sid: [] for sid in texts}
    threads = [threading.Thread(target=typist, args=(pool, sid, text, together[sid])) for sid, text in texts.items()]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert together == alone


def test_a_typist_reads_only_the_end_of_a_huge_text(predictor):
    t = Typist()
    big = ENGLISH * 200
    with t.lock:
        s = t.session_for(predictor, "m", big)
    assert len(s.text) <= KEYBOARD_CONTEXT and big.endswith(s.text)
