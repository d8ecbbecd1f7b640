"""The guard itself: a test that leaves a process behind must fail."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]


def test_a_test_leaving_a_process_behind_fails(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TUI_ORCH_TEST_SETTLE", "0.5")
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    pytester.makeconftest("from tests.process_guard import no_leftover_processes  # noqa: F401\n")
    pytester.makepyfile(
        """
        import subprocess

        def test_leaks():
            subprocess.Popen(["sleep", "60"], start_new_session=True)

        def test_cleans_up():
            child = subprocess.Popen(["sleep", "60"], start_new_session=True)
            child.kill()
            child.wait()
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider", "-p", "no:textual-snapshot")
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(["*the test left processes behind:*", "*sleep 60*"])
