"""VADER sentiment (Hutto and Gilbert, 2014) with the lexicon the vaderSentiment package ships."""

from __future__ import annotations

from studio.plugins.api import Generator, JobContext, Param, Scores


class ReviewSentiment(Generator):
    kind = "annotator"
    title = "Review sentiment (VADER)"
    params = (
        Param("threshold", "float", 0.05, minimum=0.0, maximum=1.0, step=0.01,
              help="compound score beyond which a text counts as positive or negative"),
    )  # fmt: skip

    def __init__(self) -> None:
        super().__init__()
        self._analyzer = None

    def run(self, request: dict, ctx: JobContext) -> Scores:
        text = str(request.get("text", "")).strip()
        if not text:
            raise ValueError("there is no text to score")
        if self._analyzer is None:
            from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

            self._analyzer = SentimentIntensityAnalyzer()
        scores = self._analyzer.polarity_scores(text)
        compound = scores["compound"]
        limit = request["threshold"]
        tag = "positive" if compound >= limit else "negative" if compound <= -limit else "neutral"
        ctx.progress(1.0)
        return Scores(
            {"sentiment": compound, "positive": scores["pos"], "negative": scores["neg"],
             "neutral": scores["neu"]},
            tags=[tag],
        )  # fmt: skip
