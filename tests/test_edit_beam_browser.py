"""The edit-tolerant beam (chargen/edit_beam.py) in the page (typos.js): with the character model
alone (a checkpoint without version-2 word n-grams, "legacy" here) the beam is the only source of
corrections, so there the page's corrections, autocorrection and completions that forgive a slip
must be the Python engine's, word for word. Fixtures of tests/test_ondevice_browser.py."""
import pytest

from test_ondevice_browser import context, open_page, python_engine, server, typos_as_in_python  # noqa: F401
from test_app_browser import browser  # noqa: F401  (the Chromium fixture)


pytestmark = [pytest.mark.slow, pytest.mark.browser]
SLIPS = ["Emma and Mr. Knihgtley", "I shall recieve", "She was vry", "Miss Bates and Miss Fairfx", "I think teh",
         "Mr. Woodhoise", "Emma and Mr. Knigjtl", "It is a truth universally acknowledgd"]


def test_the_beam_corrects_as_in_python_with_the_model_alone(context, server):  # noqa: F811
    url, root = server
    pg = open_page(context, f"{url}/ondevice/?model=legacy")
    fixed = typos_as_in_python(pg, python_engine(root / "legacy", words=False), SLIPS)
    assert fixed >= 5, "the beam corrected too few slips for this test to tell"
