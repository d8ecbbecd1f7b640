from tests.test_conflicts import *  # noqa

def test_dbg(repo, tmp_path):
    before = commit_files(repo, {"notes.txt": "notes\n"})
    gate = tmp_path / "gate"
    plan = write_plan(tmp_path / "plan.yaml", [{"id": "alpha", "files": ["alpha.txt"]}],
        {"editor": editor(tmp_path, "alpha.txt:1:a", "notes.txt:1:x", "--gate", str(gate), "--undo", "notes.txt")},
        conflicts={"interval": INTERVAL})
    with live_run(plan, repo, gate, "--json") as live:
        live.read_event_until(lambda e: e["event"] == "conflict_detected")
        code, lines, stderr = live.finish()
    for l in lines: print(l[:300])
    print(stderr)
    assert 0
