"""The latency part of ``studio bench library`` on a small catalog: it measures the hybrid with
its reasons and reports p50, p95 and their ratio to the 10 ms target."""

from studio.library.bench import _latency


def test_latency_reports_percentiles_against_the_target():
    out = _latency(count=3000, users=150, probes=20)
    assert out["synthetic_items"] == 3000 and out["synthetic_users"] == 150
    assert 0 < out["recommend_p50_ms"] <= out["recommend_p95_ms"]
    assert abs(out["recommend_p95_vs_10ms_target"] - out["recommend_p95_ms"] / 10) < 0.011
    assert out["als_on_gpu"] in (True, False)
