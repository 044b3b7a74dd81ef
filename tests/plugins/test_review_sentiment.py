"""The example plugin under plugins/review-sentiment, installed with pip: VADER scores the text of
library items, the Library panel shows it, and it joins the items' features."""

from pathlib import Path

import pytest

from .conftest import install_plugin, registry_with

ROOT = Path(__file__).resolve().parents[2]
PLUGIN = ROOT / "plugins" / "review-sentiment"


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    site = install_plugin(PLUGIN, tmp_path_factory.mktemp("site"))
    with registry_with(site) as reg:
        yield reg


def test_vader_scores_reviews(registry):
    good = registry.run("review-sentiment/vader", {"text": "A moving, beautiful piece. Loved it!"})
    bad = registry.run("review-sentiment/vader", {"text": "Boring, muddy and far too long."})
    assert good.scores["sentiment"] > 0.5 and good.tags == ["positive"]
    assert bad.scores["sentiment"] < -0.2 and bad.tags == ["negative"]
    with pytest.raises(ValueError, match="no text"):
        registry.run("review-sentiment/vader", {"text": "  "})
    assert registry.records  # still enabled after refusing empty text
    assert all(r.ok for r in registry.records if r.name == "review-sentiment")


def test_the_library_shows_sentiment_and_uses_it_as_a_feature(registry, tmp_path, qtbot):
    from studio.library.catalog import Catalog
    from studio.library.service import Library
    from studio.ui.context import StudioContext
    from studio.ui.panels.library.panel import LibraryPanel

    catalog = Catalog(tmp_path / "lib.sqlite")
    (tmp_path / "a.mp3").write_bytes(b"x")
    review = "An absolutely wonderful, joyful recording."
    item = catalog.upsert(tmp_path / "a.mp3", "audio", {"title": "Night", "description": review})
    library = Library(catalog, registry)
    library.compute_features()
    assert catalog.feature("annotation")[item][0] > 0.5  # the sentiment joined the features
    context = StudioContext.create()
    context.registry = registry
    panel = LibraryPanel(context)
    qtbot.addWidget(panel)
    panel._catalog = catalog
    panel.reload()
    assert panel.select(item)
    qtbot.waitUntil(
        lambda: "Review sentiment (VADER): positive sentiment +0." in panel.details.text(),
        timeout=20000,
    )  # computed in the background, not on the window's thread
    context.runner.shutdown()
