"""chargen: character-level (and subword) recurrent language models, a keyboard engine, a web app.

Importing the package caps numpy's BLAS at one thread unless the environment says otherwise (it
has to be set before numpy loads): the only BLAS work here is the keystroke path's products of a
few rows, where a second thread only spins (see ``faststep.use_keystroke_threads``).
"""
import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
