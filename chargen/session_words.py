"""A session's own words: the cache of the words typed so far (names and rare words recur), pushed
as word boundaries are passed and rebuilt after other edits, and how much the keyboard trusts each
part of a completion in this session, moved by online EM after every word (``mixture``).

With a checkpoint's n-gram statistics (words.json version 2), every word typed updates the
three-part mixture (character model, n-grams, cache); with the version-1 bigram statistics of older
checkpoints, only the cache's share of the word statistics adapts, as before. Usage (a session's):

    words = SessionWords(predictor.words, predictor.word_key, char_prob=session._span_prob)
    cache = words.update(session.text); words.mixture.weights
"""
from __future__ import annotations

from .lexicon import SHARE as LEXICON_SHARE
from .mixture import Mixture
from .ngram import NgramModel, fold
from .wordstats import WordCache
from .words import current_word, word_spans

CACHE_WORDS = 1000     # the session's recent words that feed its word cache
CACHE_WEIGHT = 0.5     # version-1 statistics: the cache's starting share of the word side,
CACHE_RATE = 0.02      # how fast that share follows the words typed (about the last 50 words),
CACHE_PRIOR = 20       # and it counts fully only once the cache holds well over this many words
RECENT_CHARS = 200     # a rebuild asks the character model about the words in these last characters


def cache_share(weight: float, cached: int) -> float:
    """Version-1 statistics: the cache's share of the word side, ``weight`` once the cache holds well
    over CACHE_PRIOR words, less while it holds ``cached`` (a cache of a few words knows little yet)."""
    return weight * cached / (cached + CACHE_PRIOR)


def own_prob(cache, lex, prev: str | None, w: str) -> float:
    """The own-words part of a word's probability: the session cache's, half and half with the
    user's lexicon when the session learns and the lexicon holds words."""
    q = cache.prob(prev, w)
    return (1 - LEXICON_SHARE) * q + LEXICON_SHARE * lex.prob(prev, w) if lex else q


class SessionWords:
    def __init__(self, words, word_key, char_prob=None):
        self.words = words               # the checkpoint's NgramModel, WordModel (version 1) or None
        self.word_key = word_key         # a word as the statistics store it (decomposed for jamo models)
        self.char_prob = char_prob       # (start, end) of a word in the text -> its P_char, or None
        self.text, self.cache, self.weight = None, None, CACHE_WEIGHT
        self.mixture = Mixture(words.mixture if isinstance(words, NgramModel) else None)
        self.history = (None, None)      # the two words before the next one, as the n-grams count them
        self.lexicon = lambda: None      # the user's lexicon, when the session learns (see chargen.lexicon)

    def shares(self, p) -> list[float]:
        """The session's (char, n-gram, own words) mixture weights, less the parts the predictor
        leaves out (``char=False``, ``cache=False``): they weigh nothing."""
        w = list(self.mixture.weights)
        return [w[0] * p.char, w[1], w[2] * p.cache]

    def update(self, text: str) -> WordCache:
        """The cache after the words of ``text`` before its current word (pushing only the new ones
        when the text grew; rebuilt from the end of the text after other edits)."""
        head = text[:len(text) - len(current_word(text))]
        done = self.text
        if done is None or not head.startswith(done):
            self.cache, self.weight, self.history = WordCache(CACHE_WORDS), CACHE_WEIGHT, (None, None)
            self.mixture = Mixture(self.words.mixture if isinstance(self.words, NgramModel) else None)
            spans, fresh = word_spans(head)[-CACHE_WORDS:], False
        elif len(head) == len(done):
            return self.cache                    # no word boundary passed since: nothing to push
        else:
            spans, fresh = [(a + len(done), b + len(done)) for a, b in word_spans(head[len(done):])], True
        for a, b in spans:
            # the character model has its say on the words whose states are still cached (those
            # typed since the last update, the last few of a rebuild); the rest teach the word side
            self._push(self.word_key(head[a:b]), (a, b) if fresh or b > len(head) - RECENT_CHARS else None)
        self.text = head
        return self.cache

    def _push(self, w: str, span) -> None:
        cache, words = self.cache, self.words
        prev = cache.words[-1] if cache.words else None
        if isinstance(words, NgramModel):
            u, v = self.history
            p_char = self.char_prob(*span) if span is not None and self.char_prob is not None else None
            self.mixture.update((p_char, words.prob(u, v, fold(w)), own_prob(cache, self.lexicon(), prev, w)))
            self.history = (v, fold(w))
        elif words is not None and prev is not None:
            # Version 1: online EM for the cache's share, how much better it predicted this word than
            # the train split's statistics. Recurring names push it up; unrelated texts (a stream of
            # separate reviews) pull it down.
            pc, pt = cache.prob(prev, w), words.prob(prev, w)
            lam = self.weight
            if pc + pt > 0:
                r = lam * pc / (lam * pc + (1 - lam) * pt)
                self.weight = min(0.9, max(0.05, lam + CACHE_RATE * (r - lam)))
        cache.push(w)
