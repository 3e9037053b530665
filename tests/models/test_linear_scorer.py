"""The fast scorer gives the pipeline's own probabilities, and declines pipelines it cannot copy."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.pipeline import Pipeline

from tuning.datasets.basedata import load_seed_messages
from tuning.models.linear_scorer import build_scorer
from tuning.models.local_classifier import build_pipeline

ODD = [
    "",
    " ",
    "a",
    "I",
    "İstanbul ÀÉ ß",
    "lone \ud83d surrogate",
    "tab\tsep\nnew  line\r\n",
    "😂😂 soooo great!!! /s",
    "a b c d e",
    "\u00a0nbsp\u00a0x\u2003em",
    "oh great, another meeting that could have been an email",
]


@pytest.fixture(scope="module")
def pipeline() -> Pipeline:
    """Return the production pipeline fitted (uncalibrated) on the seed messages."""
    seed = load_seed_messages()
    return build_pipeline().fit([m.text for m in seed], [m.label for m in seed])


def test_matches_predict_proba_on_seed_and_odd_texts(pipeline: Pipeline) -> None:
    texts = [m.text for m in load_seed_messages()] + ODD
    scorer = build_scorer(pipeline)
    assert scorer is not None
    expected = pipeline.predict_proba(texts)[:, 1]
    np.testing.assert_allclose(scorer.probabilities(texts), expected, rtol=0, atol=1e-12)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(alphabet=st.sampled_from("ab !?oO\u00e9\u0130 \t\n😂xyz"), max_size=40)))
def test_matches_predict_proba_on_any_text(pipeline: Pipeline, texts: list[str]) -> None:
    scorer = build_scorer(pipeline)
    assert scorer is not None
    expected = pipeline.predict_proba(texts)[:, 1] if texts else np.zeros(0)
    np.testing.assert_allclose(scorer.probabilities(texts), expected, rtol=0, atol=1e-12)


@pytest.mark.parametrize(
    ("step", "setting"),
    [
        ("features__char__ngram_range", (1, 4)),
        ("features__char__max_features", 500),
        ("features__char__analyzer", "char"),
        ("features__word__ngram_range", (1, 3)),
        ("features__word__lowercase", False),
        ("features__word__sublinear_tf", False),
    ],
)
def test_declines_settings_it_does_not_reproduce(step: str, setting: object) -> None:
    seed = load_seed_messages()
    changed = build_pipeline().set_params(**{step: setting})
    changed.fit([m.text for m in seed], [m.label for m in seed])
    assert build_scorer(changed) is None


def test_declines_what_is_not_the_pipeline() -> None:
    assert build_scorer(object()) is None
