"""What the web app's events do: the Keyboard tab's view and clicks, the model card and sample,
streamed generation, and the keyboard API (/suggest through Gradio, and the same call as plain JSON).
Each handler calls the library (catalog, typists, predictor) and returns what the page shows.

    keyboard_view(catalog, "Mr. Knightl", "default", typist)   # (panel HTML, the tab's Typist)
    api = KeyboardApi(catalog); api.suggest_now("Mr. Knightl", "", 3, "my-id")
"""
from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from urllib.parse import unquote

import gradio as gr
from starlette.requests import Request
from starlette.responses import Response

from ..catalog import Catalog
from ..checkpoint import CheckpointError
from ..keys import KOREAN_ROWS, LATIN_ROWS, delete_key, is_jamo, key_distribution, show_char, type_jamo, typed_jamo
from ..sample import SampleConfig
from ..profile import ProfileError, wipe
from ..typos import LEVELS, review
from ..typists import Typist, TypistPool, keystroke_async
from ..words import current_word
from .render import render_panel

NO_MODEL = "No model yet — train one in the Train tab."
N_CHIPS, STREAM_EVERY = 8, 0.03          # next-character chips; seconds between streamed updates
MODEL_SAMPLE_CHARS = 300                 # the Model tab's sample


def keyboard_view(catalog: Catalog, text: str, model: str | None, typist, learn: bool = True, browser: str = ""):
    """Everything the Keyboard tab shows for ``text``: (panel HTML, the tab's Typist). ``learn``: the
    "Learn from my typing" switch; ``browser``: this browser's id (its kept profile, if any, is
    where the session starts)."""
    typist = typist or Typist()
    text = text or ""
    if not model:
        return render_panel(text, message=NO_MODEL), typist
    try:
        predictor = catalog.predictor(model)
        profile = catalog.profile_path(model, browser) if browser else None
        with typist.lock:
            s = typist.session_for(predictor, model, text, learn=bool(learn), profile=profile)
            words, chars = s.suggest(3), s.next_chars(N_CHIPS)
            mass, _ = key_distribution(s)
            status = typist.status_line()
    except CheckpointError as e:
        return render_panel(text, message=str(e)), typist
    return render_panel(text, words, chars, predictor.korean, mass, status=status), typist


def keep_profile(catalog: Catalog, model: str | None, typist, browser: str) -> str:
    """"Keep what I taught it": this tab's adaptation and lexicon saved as this browser's profile for
    the model (nothing else leaves the tab's session). Returns the line to show."""
    if not model or typist is None or typist.session is None:
        return "Type something first: there is nothing to keep yet."
    try:
        path = catalog.profile_path(model, browser)
        with typist.lock:
            typist.keep(path)
            st = typist.session.learner.status()
    except (CheckpointError, ValueError, OSError) as e:
        return f"Not kept: {e}"
    return (f"Kept: {st['steps']:,} updates and {st['lexicon_words']:,} words, in {path.name} "
            f"({path.stat().st_size / 1e6:.1f} MB, next to the model). It comes back when this browser opens {model}.")


def forget_profile(catalog: Catalog, model: str | None, typist, browser: str) -> str:
    """"Forget": the trained model again at once, and this browser's kept profile deleted."""
    gone = False
    try:
        if model and browser:
            gone = wipe(catalog.profile_path(model, browser))
    except (CheckpointError, ProfileError) as e:
        return f"Not forgotten: {e}"
    if typist is not None:
        with typist.lock:
            typist.forget()
    return "Forgotten: back to the trained model" + (", and the kept profile is deleted." if gone else ".")


def press(catalog: Catalog, key: str, text: str, model: str | None, typist, autocorrect: str = "off") -> str:
    """The text after a click on a suggestion (w:), a chip (c:) or an on-screen key (k:). A space or
    punctuation key after a word autocorrects it at the ``autocorrect`` level, and ⌫ right after
    brings back what was typed (``Session.edit``)."""
    text = text or ""
    kind, _, value = key.partition(":")
    value = unquote(value)
    if not model or not value:
        return text
    if kind == "w":                          # like a phone: the word in place of the typed part, a space
        return text[:len(text) - len(current_word(text))] + value + " "
    typist = typist or Typist()
    predictor = catalog.predictor(model)
    with typist.lock:
        s = typist.session_for(predictor, model, text)
        if kind == "k":
            if value == "bksp":
                return _edited(s, text, delete_key(text, predictor.jamo), autocorrect)
            _, best = key_distribution(s)
            value = best.get(value) or {"space": " ", "enter": "\n"}.get(value) or \
                (typed_jamo(value) if predictor.jamo else value)
            if not (predictor.jamo and is_jamo(value)):
                return _edited(s, text, text + value, autocorrect)
    return type_jamo(text, value) if predictor.jamo and is_jamo(value) else text + value


def _edited(s, text: str, new: str, level: str) -> str:
    """``new`` as the keyboard session makes it (an autocorrection, or its undo), for a session that
    reads ``text`` from ``s.offset`` on."""
    head = text[:s.offset]
    if not new.startswith(head):
        return new
    return head + s.edit(new[len(head):], level)


def model_card(catalog: Catalog, model: str | None):
    if not model:
        return NO_MODEL, {}
    try:
        entry, predictor = catalog.entry(model), catalog.predictor(model)
    except CheckpointError as e:
        return str(e), {}
    c = entry.config
    m, tok, corpus, metrics = c["model"], c["tokenizer"], c.get("corpus", {}), c.get("metrics", {})
    files = ", ".join(Path(f).name for f in corpus.get("files", [])) or "unknown"
    lines = [f"### {model}",
             f"- **model**: {m['cell'].upper()} {m['num_layers']} × {m['hidden_size']}, "
             f"{predictor.num_params() / 1e6:.2f} M parameters, dropout {m.get('dropout', 0)}",
             f"- **tokenizer**: {tok.get('kind')} ({predictor.vocab_size:,} symbols)",
             f"- **corpus**: {files} ({corpus.get('chars', 0):,} characters)",
             f"- **val bpc**: {metrics['val_bpc']:.3f} ({metrics['val_nats']:.3f} nats/char) at step "
             f"{metrics.get('step', '?'):,}" if "val_bpc" in metrics else "- **val bpc**: not validated yet",
             f"- **budget**: {c.get('train', {}).get('max_minutes', '?')} min · checkpoint `{entry.path.name}`"]
    return "\n".join(lines), c


def model_sample(catalog: Catalog, model: str | None, seed: int | None = 0) -> str:
    if not model:
        return NO_MODEL
    try:
        p = catalog.predictor(model)
    except CheckpointError as e:
        return str(e)
    return "".join(p.generate("", MODEL_SAMPLE_CHARS, SampleConfig.temperature, seed=seed))


def stream_generate(catalog: Catalog, prompt, temperature, top_k, top_p, length, seed, model):
    """Yield the growing text (prompt + continuation) at most every STREAM_EVERY seconds."""
    model = model or catalog.default_name()
    if not model:
        raise gr.Error(NO_MODEL)
    try:
        p = catalog.predictor(model)
        pieces = p.generate(prompt or "", int(length), float(temperature), int(top_k), float(top_p),
                            seed=None if seed is None or seed == "" else int(seed))
        text, last = prompt or "", 0.0
        for piece in pieces:
            text += piece
            if time.monotonic() - last >= STREAM_EVERY:
                last = time.monotonic()
                yield text
        yield text
    except (ValueError, CheckpointError) as e:       # invalid settings, broken checkpoint
        raise gr.Error(str(e)) from None


class TabPool(TypistPool):
    """The API's pool of sessions, where a Keyboard tab's session that the user asked to keep saves
    what it learned since when it is dropped (idle, or pushed out), as the tab's own state did."""

    def _expire(self) -> None:
        self._saving(super()._expire)

    def _shrink(self, keep: Typist) -> None:
        self._saving(lambda: super(TabPool, self)._shrink(keep))

    def _saving(self, drop) -> None:
        before = list(self._by_id.values())
        drop()
        for t in before:
            if t.kept is not None and t not in self._by_id.values():
                threading.Thread(target=_save_quietly, args=(t,), daemon=True).start()


def _save_quietly(typist: Typist) -> None:
    try:
        typist.save_if_kept()
    except (ValueError, OSError):        # nothing more to do for a session that is gone
        pass


class KeyboardApi:
    """The keyboard as an API: /suggest (Gradio, gradio_client) and /keyboard/suggest (plain JSON)
    answer the same call from the same pool of sessions (see chargen/typists.py)."""

    def __init__(self, catalog: Catalog):
        self.catalog, self.pool = catalog, TabPool()

    def suggest_now(self, text: str, model: str, n, session: str, learn=True, autocorrect: str = "modest",
                    browser: str = "", key: str = "", panel: bool = False, gesture=None, layout=None) -> dict:
        """The answer for ``text`` (run it on the keystroke worker: see ``keystroke_async``). The
        Keyboard tab's own calls (with a session id) add ``browser`` (its kept profile, if any, is
        where a new session starts), ``key`` (a click on a suggestion, chip or on-screen key, applied
        to ``text`` first at the ``autocorrect`` level; the answer's ``text`` is the result) and
        ``panel`` (the on-screen keyboard's shading, its rows, the learning status line; not the
        corrections list, which the page does not show apart from the bar). ``gesture``: a list of
        [x, y] points drawn across the keyboard after ``text`` (``layout``: char -> [left, top, right,
        bottom] in the points' coordinates; default the app's keyboard in key units): the answer is
        then {"kind": "gesture", "words": [[word, p], ...]} (Session.resolve_gesture)."""
        model = model or self.catalog.default_name()
        if not model:
            raise gr.Error(NO_MODEL)
        try:
            predictor = self.catalog.predictor(model)           # a listed model, or CheckpointError
            n = max(1, min(10, int(n)))
            if session:
                sid, typist = self.pool.checkout(session)
                profile = self.catalog.profile_path(model, browser) if browser else None
                if key:
                    text = press(self.catalog, key, text, model, typist, autocorrect if autocorrect in LEVELS else "off")
                typist.lock.acquire()
            else:
                sid, typist, profile = None, self.pool.anonymous(text), None
            try:
                s = typist.session_for(predictor, model, text, learn=bool(learn) and bool(sid), profile=profile)
                if gesture is not None:
                    words = s.resolve_gesture(gesture, n, layout)
                    return {"session": sid or self.pool.offer(typist), "model": model, "kind": "gesture",
                            "words": [[w, p] for w, p in words]}
                answer = {"model": model, "kind": "next words" if not current_word(text) else "completions",
                          "suggestions": s.suggest(n), "next_chars": [[c, p] for c, p in s.next_chars(N_CHIPS)],
                          # the page shows corrections in the bar (suggest ranks them), not as a list
                          **({} if panel else corrections_answer(s, n, autocorrect))}
                if panel:
                    answer.update(panel_answer(s, typist, text, answer["next_chars"], predictor.korean))
                return {"session": sid or self.pool.offer(typist), **answer}
            finally:
                typist.lock.release()
        except (CheckpointError, ValueError) as e:
            raise gr.Error(str(e)) from None

    def gradio_endpoint(self):
        """/suggest's function, with the signature and docstring gradio_client shows."""
        async def suggest(text: str, model: str = "", n: int = 3, session: str = "") -> dict:
            """Keyboard suggestions for `text`: the suggestion bar (completions of the current word, or
            next words after a space), the next characters and their probabilities. `session`: the id
            an earlier answer returned (or one of your own, 1-64 letters, digits, - or _): your own
            keyboard session, where a call costs only the keys typed since the last one. Without it
            the answer is just as right, from a shared pool, and carries an id for the next call.
            A session with an id learns from its typing (README, "Adaptation"). `corrections`: what the
            current word may have been meant to be, with probabilities; `autocorrect`: what a space
            would turn it into (the modest level; the JSON lane takes any level), or null."""
            return await keystroke_async(self.suggest_now, text, model, n, session)
        return suggest

    async def json_endpoint(self, request: Request) -> Response:
        """POST {"text": ..., "model": "", "n": 3, "session": "", "autocorrect": "modest"} -> the /suggest answer as JSON
        (the Keyboard tab's page adds "browser", "key" and "panel"; "gesture": [[x, y], ...] and an
        optional "layout" ask for the words a gesture draws: see ``suggest_now``); a bad
        request is {"error": message} with status 400."""
        try:
            body = json.loads(await request.body() or b"{}")
            if not isinstance(body, dict) or not all(isinstance(body.get(f, ""), str) for f in ("text", "browser", "key")):
                raise ValueError('send a JSON object: {"text": "...", "model": "", "n": 3, "session": "", "autocorrect": "modest"}')
            answer = await keystroke_async(self.suggest_now, body.get("text", ""), str(body.get("model") or ""),
                                           body.get("n", 3), str(body.get("session") or ""), body.get("learn", True) is not False,
                                           str(body.get("autocorrect") or "modest"), body.get("browser", ""),
                                           body.get("key", ""), body.get("panel") is True,
                                           body.get("gesture"), body.get("layout"))
            return Response(json.dumps(answer, ensure_ascii=False), media_type="application/json")
        except (ValueError, TypeError, CheckpointError, gr.Error) as e:
            message = e.message if isinstance(e, gr.Error) else str(e)
            return Response(json.dumps({"error": message}, ensure_ascii=False), status_code=400,
                            media_type="application/json")


def panel_answer(s, typist, text: str, chips: list, korean: bool) -> dict:
    """What the Keyboard tab's page draws besides the bar: the text (after a click), the typed part
    of the current word, the chips as shown, the on-screen keyboard's rows and each key's probability,
    the line about what the keyboard has learned."""
    mass, _ = key_distribution(s)
    return {"text": text, "typed": current_word(text), "shown": [show_char(c) for c, _ in chips],
            "rows": KOREAN_ROWS if korean else LATIN_ROWS, "mass": {k: round(p, 4) for k, p in mass.items() if p >= 1e-4},
            "status": typist.status_line()}


def corrections_answer(s, n: int, level: str) -> dict:
    """The API's typo fields: the current word's corrections and what autocorrect would do on a space."""
    fixes, fix = review(s, n, level)
    return {"corrections": [[w, p] for w, p in fixes], "autocorrect": fix}
