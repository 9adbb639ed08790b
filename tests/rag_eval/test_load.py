"""The load probe, small: it must pass on CI (make test), and report what it measured."""

from __future__ import annotations


def test_a_small_load_probe_has_no_errors(news):
    from rag_eval.load import markdown, run
    from rag_ui.server import WRITES

    result = run(clients=6, questions=36, uploads=2, serial=10, archive=12)
    assert result.errors == [], result.errors
    assert result.questions == 36 and result.uploads == 2 and result.removals == 1
    assert 0 < result.p50_s <= result.p95_s <= result.p99_s and result.peak_rss_mb > 100
    assert "| errors | 0 | 0 | met |" in markdown(result)
    cold, queued = result.cold, result.queued
    assert cold.questions == 12 and cold.english == 9 and 0 < cold.warm_p95_s and 0 < cold.cold_p95_s
    assert queued.writes == 50 and queued.refused == 50 - WRITES["running"] - WRITES["waiting"] and 0 < queued.slowest_refusal_s and 0 < queued.queued_p95_s
    assert queued.oversized_s < 10  # the 413 came back (inf when it did not)
    phase = result.collections  # two collections asked and uploaded to while the server builds a third
    assert phase.lost == () and phase.uploads == 4 and phase.archive_listed == phase.archive == 12
    assert phase.questions == 36 and 0 < phase.within <= phase.during and 0 < phase.quiet_p95_s and 0 < phase.during_p95_s
    assert 0 < phase.slowest_s < phase.build_s  # no question waited for the whole build
