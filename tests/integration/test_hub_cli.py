"""`coursehub user ...`, `token create` and `serve` from the shell."""
import re
import socket

from hubproc import Hub


def test_user_commands_manage_accounts_the_hub_sees(tmp_path):
    hub = Hub(tmp_path)
    hub.add_user("Teacher", "Teacher-Pass-1", admin=True)
    hub.add_user("nopass")
    out = hub.cli("user", "list").stdout
    assert "teacher\tadmin" in out and "nopass\tno-password" in out
    r = hub.cli("user", "add", "teacher", check=False)
    assert r.returncode == 1 and "already exists" in r.stderr
    r = hub.cli("user", "add", "bad name", check=False)
    assert r.returncode == 1 and "spaces" in r.stderr
    r = hub.cli("user", "add", "weak", "--password-stdin", input="123456\n", check=False)
    assert r.returncode == 1 and "at least 8" in r.stderr
    assert "weak" not in hub.cli("user", "list").stdout
    r = hub.cli("user", "admin", "nopass", "maybe", check=False)
    assert r.returncode == 2
    hub.cli("user", "admin", "nopass", "on")
    assert "nopass\tadmin" in hub.cli("user", "list").stdout

    csv = tmp_path / "class.csv"
    lines = ["username,password,admin"] + [f"student{i:03d},Class-Pass-{i:03d}," for i in range(170)]
    csv.write_text("\n".join(lines) + "\n")
    r = hub.cli("user", "import", str(csv))
    assert "170 added, 0 already existed" in r.stdout
    r = hub.cli("user", "import", str(csv))
    assert "0 added, 170 already existed" in r.stdout
    bad = tmp_path / "bad.csv"
    bad.write_text("fine-one\nnot fine\n")
    r = hub.cli("user", "import", str(bad), check=False)
    assert r.returncode == 1 and "line 2" in r.stderr and "nothing was imported" in r.stderr
    assert "fine-one" not in hub.cli("user", "list").stdout

    with hub:
        token = hub.token("teacher", note="from the shell")
        me = hub.api("GET", "user", token=token).json()
        assert me["name"] == "teacher" and me["admin"] is True
        hub.login("student042", "Class-Pass-042")
        hub.cli("user", "set-password", "student042", "--password-stdin", input="Fresh-Pass-042\n")
        hub.login("student042", "Fresh-Pass-042")
        hub.cli("user", "remove", "student001")
        assert hub.api("GET", "users/student001", token=token).status_code == 404
        r = hub.cli("token", "create", "ghost", check=False)
        assert r.returncode == 1 and "no such user" in r.stderr
        r = hub.cli("token", "create", "teacher", "--expires-in", "-5", check=False)
        assert r.returncode == 2


def test_serve_refuses_a_second_hub_on_the_same_prefix_and_a_bad_port(tmp_path):
    with Hub(tmp_path) as hub:
        r = hub.cli("serve", "--port", "0", "--ip", "127.0.0.1", check=False)
        assert r.returncode == 1 and "another coursehub serve is running" in r.stderr
    r = hub.cli("serve", "--port", "99999", check=False)
    assert r.returncode == 2 and "--port" in r.stderr
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        r = hub.cli("serve", "--ip", "127.0.0.1", "--port", str(port), check=False)
        assert r.returncode == 1 and "cannot listen" in r.stderr


def test_sigterm_stops_gracefully_and_removes_the_pid_file(tmp_path):
    hub = Hub(tmp_path).start()
    assert (hub.prefix / "state" / "hub.pid").exists()
    assert hub.stop() == 0
    assert not (hub.prefix / "state" / "hub.pid").exists()
    assert "stopped" in hub.log()


def test_sighup_reloads_without_dropping_an_open_connection(tmp_path):
    def read_response(sock):
        data = b""
        while b"\r\n\r\n" not in data:
            part = sock.recv(65536)
            assert part, "the hub closed the connection"
            data += part
        head, _, body = data.partition(b"\r\n\r\n")
        length = int(re.search(rb"Content-Length: (\d+)", head).group(1))
        while len(body) < length:
            body += sock.recv(65536)
        return head

    with Hub(tmp_path, config={"users": {"admin": ["first"]}}) as hub:
        with socket.create_connection(("127.0.0.1", hub.port), timeout=60) as s:
            s.sendall(b"GET /hub/api HTTP/1.1\r\nHost: x\r\n\r\n")
            assert read_response(s).startswith(b"HTTP/1.1 200")
            hub.write_config({"users": {"admin": ["first", "second"]}})
            hub.reload()
            s.sendall(b"GET /hub/api HTTP/1.1\r\nHost: x\r\n\r\n")
            assert read_response(s).startswith(b"HTTP/1.1 200")
        # The reloaded users.admin took effect.
        assert "second\tadmin" in hub.cli("user", "list").stdout
