"""The Packages API (/hub/api/env/...) on the real hub, with real pip and a real index."""
import concurrent.futures
import json
import os
import subprocess
import threading
import time

import pkgindex
import requests
from conftest import BIN
from envtools import Env, clean_env, index, package_dir, tree_state  # noqa: F401
from hubproc import Hub
from jupyter_kernel import Kernel
from test_user_servers import cookie_header, server_model, start_via_api, wait_until


def events(hub, token, path, timeout=300, subscribed=None):
    """Reads a Server-Sent Events stream until the server closes it; sets
    `subscribed` once the first event arrived."""
    out = []
    with requests.get(hub.url + path, headers={"Authorization": f"token {token}"}, stream=True,
                      timeout=timeout) as r:
        assert r.status_code == 200, r.text
        assert r.headers["Content-Type"].startswith("text/event-stream")
        for raw in r.iter_lines(chunk_size=1, decode_unicode=True):
            if raw and raw.startswith("data: "):
                out.append(json.loads(raw[6:]))
                if subscribed is not None:
                    subscribed.set()
                if out[-1]["type"] == "done":
                    break
    return out


def wait_job(hub, token, job_id, predicate, timeout=300):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        j = hub.api("GET", f"env/jobs/{job_id}", token=token).json()
        if predicate(j):
            return j
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} never got there: {j}")


def stop_user_servers(hub, admin):
    """Servers outlive the hub by design: stop what the test started."""
    for u in hub.api("GET", "users", token=admin).json():
        if u["servers"]:
            hub.api("DELETE", f"users/{u['name']}/server", token=admin)
            wait_until(lambda: not server_model(hub, admin, u["name"]), 60, f"{u['name']}'s server to stop")


def test_admins_change_the_environment_through_the_api_and_watch_it_live(tmp_path, package_dir):
    idx = pkgindex.PackageIndex(package_dir / "index")
    hub = Hub(tmp_path, config={"user_environment": {"index_url": idx.url}})
    subprocess.run([str(BIN), "env", "init", "--prefix", str(hub.prefix)], check=True, capture_output=True,
                   env=clean_env())
    try:
        with hub:
            hub.add_user("admin", "Admin-Pass-2024", admin=True)
            hub.add_user("student", "Student-Pass-77")
            admin, student = hub.token("admin"), hub.token("student")

            # Not for students: the API and the page.
            for method, path in [("GET", "env"), ("GET", "env/packages"),
                                 ("GET", "env/transactions"), ("POST", "env/transactions"),
                                 ("POST", "env/rollback")]:
                r = hub.api(method, path, token=student, json={"action": "install", "specs": ["chalpha"]})
                assert r.status_code == 403, (path, r.status_code)
            browser = hub.login("student", "Student-Pass-77")
            assert browser.get(hub.url + "hub/admin/packages", allow_redirects=False).status_code == 403
            assert hub.api("GET", "env/packages").status_code in (401, 403)

            # Bad input is refused before anything is queued.
            for body in [{"action": "install", "specs": ["chalpha; touch /tmp/x"]},
                         {"action": "install", "specs": ["--index-url=http://127.0.0.1:1/"]},
                         {"action": "install", "requirements": "-e .\n"},
                         {"action": "install", "specs": []},
                         {"action": "format", "specs": ["x"]},
                         {"action": "remove", "specs": ["a b"]}]:
                r = hub.api("POST", "env/transactions", token=admin, json=body)
                assert r.status_code == 400, (body, r.text)
            assert hub.api("GET", "env/jobs", token=admin).json()["jobs"] == []

            # Install, watching the live log.
            r = hub.api("POST", "env/transactions", token=admin,
                        json={"action": "install", "specs": ["chgamma"]})
            assert r.status_code == 202, r.text
            job = r.json()
            evs = events(hub, admin, f"hub/api/env/jobs/{job['id']}/events")
            lines = [e["line"] for e in evs if e["type"] == "line"]
            assert any(l.startswith("Successfully installed chalpha-2.0 chbeta-2.0 chgamma-1.0") for l in lines)
            done = evs[-1]["job"]
            assert done["state"] == "done" and done["transaction"]["state"] == "succeeded"
            assert "restart your kernel to use the new package" in done["transaction"]["message"].lower()
            assert done["transaction"]["requested_by"] == "admin (web)"
            # A late subscriber gets the whole stream again.
            again = events(hub, admin, f"hub/api/env/jobs/{job['id']}/events")
            assert [e["line"] for e in again if e["type"] == "line"] == lines
            names = {p["name"]: p for p in hub.api("GET", "env/packages", token=admin).json()["packages"]}
            assert names["chgamma"]["version"] == "1.0" and names["chgamma"]["location"] == "own"
            assert hub.api("GET", "env/packages/chgamma", token=admin).json()["required_by"] == []
            assert hub.api("GET", "env/packages/nosuch", token=admin).status_code == 404

            # The CLI holds the environment: the hub's job waits, visibly, then runs.
            gate = idx.hold("chbeta-1.0-py3-none-any.whl")
            cli = subprocess.Popen([str(BIN), "env", "install", "chbeta==1.0", "--prefix", str(hub.prefix)],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=clean_env())
            assert gate.reached.wait(120)
            info = hub.api("GET", "env", token=admin).json()
            assert (info["kind"], info["installer"]) == ("venv", "pip")
            cli_txn = info["running"]
            assert cli_txn and cli_txn["request"] == ["chbeta==1.0"]
            job2 = hub.api("POST", "env/transactions", token=admin,
                           json={"action": "upgrade", "specs": ["chbeta"]}).json()
            waiting = wait_job(hub, admin, job2["id"], lambda j: j["state"] == "waiting")
            assert waiting["waiting_for"]["id"] == cli_txn["id"]
            # A second admin follows it live from here on.
            with concurrent.futures.ThreadPoolExecutor(1) as pool:
                subscribed = threading.Event()
                live = pool.submit(events, hub, admin, f"hub/api/env/jobs/{job2['id']}/events",
                                   subscribed=subscribed)
                assert subscribed.wait(120)
                gate.release.set()
                live_events = live.result(timeout=300)
            states = [e["job"]["state"] for e in live_events if e["type"] == "state"]
            assert states[0] == "waiting" and "running" in states, states
            assert any("Successfully installed chbeta-2.0" in e.get("line", "") for e in live_events)
            assert live_events[-1]["type"] == "done"
            assert cli.wait(300) == 0, cli.stderr.read()
            cli.stdout.close()
            cli.stderr.close()
            finished = wait_job(hub, admin, job2["id"], lambda j: j["state"] == "done")
            assert finished["transaction"]["state"] == "succeeded"
            hist = hub.api("GET", "env/transactions", token=admin).json()["transactions"]
            by_cli = next(t for t in hist if t["id"] == cli_txn["id"])
            by_web = next(t for t in hist if t["id"] == finished["transaction"]["id"])
            assert by_web["started"] >= by_cli["finished"]
            assert [(c["kind"], c["name"]) for c in by_web["changes"]] == [("upgraded", "chbeta")]

            # The CLI's transaction log, through the hub.
            log = events(hub, admin, f"hub/api/env/transactions/{cli_txn['id']}/log")
            assert any("Successfully installed chbeta-1.0" in e.get("line", "") for e in log)
            assert log[-1]["type"] == "done" and log[-1]["transaction"]["id"] == cli_txn["id"]

            # Roll back the first install with the index gone.
            idx.stop()
            first = next(t for t in hist if t["request"] == ["chgamma"])
            r = hub.api("POST", "env/rollback", token=admin, json={"target": first["id"]})
            assert r.status_code == 202
            rb = wait_job(hub, admin, r.json()["id"], lambda j: j["state"] == "done")
            assert rb["transaction"]["state"] == "succeeded", rb
            names = {p["name"] for p in hub.api("GET", "env/packages", token=admin).json()["packages"]}
            assert not names & {"chalpha", "chbeta", "chgamma"}
    finally:
        idx.stop()


def test_a_kernel_started_through_the_hub_imports_the_newly_installed_package(tmp_path, index):
    hub = Hub(tmp_path, config={"user_environment": {"index_url": index.url},
                                "services": {"cull": {"enabled": False}}})
    # The shared environment sees Debian's Jupyter (no PyPI here): users' servers run from it.
    subprocess.run([str(BIN), "env", "init", "--system-site-packages", "--prefix", str(hub.prefix)], check=True,
                   capture_output=True, env=clean_env())
    python = str(hub.prefix / "user" / "bin" / "python")
    with hub:
        try:
            hub.add_user("admin", "Admin-Pass-2024", admin=True)
            hub.add_user("alice", "Alice-Pass-1234")
            admin = hub.token("admin")
            alice = hub.login("alice", "Alice-Pass-1234")
            start_via_api(hub, admin, "alice")
            same_origin = {"Cookie": cookie_header(alice), "Origin": hub.url.rstrip("/")}

            # Before the install, a kernel does not have the package.
            k = Kernel(hub.url + "user/alice/", same_origin)
            try:
                r = k.execute("import sys; print(sys.executable)")
                assert r["text"].strip() == python, r
                assert k.execute("import chgamma")["error"] == "ModuleNotFoundError"
            finally:
                k.close()

            r = hub.api("POST", "env/transactions", token=admin, json={"action": "install", "specs": ["chgamma"]})
            assert r.status_code == 202, r.text
            done = wait_job(hub, admin, r.json()["id"], lambda j: j["state"] == "done")
            assert done["transaction"]["state"] == "succeeded", done
            assert "restart your kernel to use the new package" in done["transaction"]["message"].lower()

            # A kernel started now, through the proxy, imports it from the shared environment.
            k = Kernel(hub.url + "user/alice/", same_origin)
            try:
                r = k.execute("import chgamma, chalpha; print(chgamma.__version__, chalpha.__version__)")
                assert r["error"] is None, r
                assert r["text"].split() == ["1.0", "2.0"]
                r = k.execute("print(chgamma.__file__)")
                assert r["text"].strip().startswith(str(hub.prefix / "user" / "lib")), r
            finally:
                k.close()
        finally:
            stop_user_servers(hub, admin)


def test_a_hub_killed_mid_install_rolls_the_transaction_back_when_it_starts_again(tmp_path, index):
    hub = Hub(tmp_path, config={"user_environment": {"index_url": index.url}})
    env = Env(hub.prefix, index.url)
    env.run("init", index=False)
    env.run("install", "chbeta==1.0")
    before_list, before_tree = env.pip_list(), tree_state(env.user)
    with hub:
        hub.add_user("admin", "Admin-Pass-2024", admin=True)
        admin = hub.token("admin")
        r = hub.api("POST", "env/transactions", token=admin,
                    json={"action": "install", "specs": ["chbig", "chbeta==2.0"]})
        assert r.status_code == 202, r.text
        # Kill the hub while pip is writing chbig's 3000 files.
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            if (env.site / "chbig").is_dir() and len(os.listdir(env.site / "chbig")) > 10:
                break
            time.sleep(0.002)
        job = hub.api("GET", f"env/jobs/{r.json()['id']}", token=admin).json()
        assert job["state"] == "running", job
        hub.kill()
        txn = job["transaction_id"]

        hub.start()
        hub.wait_for_log(f"env: transaction #{txn} had been interrupted", timeout=120)
        t = hub.api("GET", f"env/transactions/{txn}", token=admin).json()
        assert t["state"] == "interrupted" and t["restored"], t
        assert t["after"] == t["before"]
        assert env.pip_list() == before_list
        assert tree_state(env.user) == before_tree
        assert env.pip_check()[0] == 0
        # The environment works on as usual, through the hub.
        r = hub.api("POST", "env/transactions", token=admin, json={"action": "install", "specs": ["chalpha==1.0"]})
        done = wait_job(hub, admin, r.json()["id"], lambda j: j["state"] == "done")
        assert done["transaction"]["state"] == "succeeded", done
