"""A private Dovecot IMAP server on loopback for tests: own config, port, passwd file and maildirs."""

from __future__ import annotations

import contextlib
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from handoff_bot.intake.email.mailbox import Mailbox, parse_mailbox

BINARY_PATHS = ("/usr/sbin/dovecot", "/usr/local/sbin/dovecot")
NOT_INSTALLED = (
    "Dovecot is not installed (apt-get install -y dovecot-imapd; .ci/run tries that): "
    "the email tests need a real IMAP server"
)

USERS = 300
SSL = "ssl = yes\nssl_cert = <{root}/cert.pem\nssl_key = <{root}/key.pem"

CONFIG = """\
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
protocols = imap
listen = 127.0.0.1
{ssl}
# Plaintext login on loopback only: the server listens nowhere else.
disable_plaintext_auth = no
auth_mechanisms = plain login
default_internal_user = {internal_user}
default_internal_group = {internal_group}
default_login_user = {login_user}
first_valid_uid = 0
first_valid_gid = 0
mail_location = maildir:{root}/mail/%u
mailbox_idle_check_interval = 1 secs
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
userdb {{
  driver = static
  args = uid={mail_uid} gid={mail_gid} home={root}/mail/%u
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {tls_port}
  }}
}}
service anvil {{
  chroot =
}}
service stats {{
  unix_listener stats-reader {{
    mode = 0666
  }}
  unix_listener stats-writer {{
    mode = 0666
  }}
}}
"""


def binary() -> str | None:
    found = shutil.which("dovecot")
    return found or next((p for p in BINARY_PATHS if os.access(p, os.X_OK)), None)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _user(name: str) -> pwd.struct_passwd | None:
    try:
        return pwd.getpwnam(name)
    except KeyError:
        return None


@dataclass
class Dovecot:
    root: Path
    port: int
    process: subprocess.Popen[bytes]
    users: list[tuple[str, str]]
    tls_port: int | None = None  # imaps with a self-signed certificate for 127.0.0.1 (None: no openssl)
    handed_out: int = 0

    @property
    def certificate(self) -> Path:
        return self.root / "cert.pem"

    def add_user(self) -> Mailbox:
        """The next unused test user: its INBOX is empty."""
        if self.handed_out >= len(self.users):
            raise RuntimeError(f"all {len(self.users)} Dovecot test users are in use; raise USERS")
        user, password = self.users[self.handed_out]
        self.handed_out += 1
        return parse_mailbox(f"imap://{user.replace('@', '%40')}:{password}@127.0.0.1:{self.port}/INBOX")

    def log(self) -> str:
        path = self.root / "dovecot.log"
        return path.read_text(errors="replace") if path.exists() else ""


@contextlib.contextmanager
def running(executable: str) -> Iterator[Dovecot]:
    root = Path(tempfile.mkdtemp(prefix="handoff-dovecot-"))
    root.chmod(0o755)  # the login and mail processes run as other users when we are root
    for sub in ("run", "state", "mail"):
        (root / sub).mkdir()
    # Written once, before start-up: Dovecot notices changes to a passwd-file only now and then.
    users = [
        (f"desk-{i}-{secrets.token_hex(3)}@example.org", secrets.token_urlsafe(12)) for i in range(USERS)
    ]
    (root / "passwd").write_text("".join(f"{u}:{{PLAIN}}{p}\n" for u, p in users))
    if os.geteuid() == 0:
        # Dovecot refuses root for its login processes and mail access: use the package's users.
        internal = _user("dovecot") or _user("nobody")
        login = _user("dovenull") or _user("nobody")
        assert internal is not None and login is not None, "no unprivileged user for Dovecot"
        os.chown(root / "mail", internal.pw_uid, internal.pw_gid)
        internal_user, login_user, uid, gid = (
            internal.pw_name,
            login.pw_name,
            internal.pw_uid,
            internal.pw_gid,
        )
        internal_group = _group_name(internal.pw_gid)
    else:
        me = pwd.getpwuid(os.geteuid())
        internal_user = login_user = me.pw_name
        internal_group = _group_name(me.pw_gid)
        uid, gid = me.pw_uid, me.pw_gid
    process: subprocess.Popen[bytes] | None = None
    tls = _certificate(root)
    try:
        for _attempt in range(5):  # another test run may grab the port between our probe and bind
            port = _free_port()
            tls_port = _free_port() if tls else 0
            config = root / "dovecot.conf"
            config.write_text(
                CONFIG.format(
                    root=root,
                    port=port,
                    tls_port=tls_port,
                    ssl=SSL.format(root=root) if tls else "ssl = no",
                    internal_user=internal_user,
                    internal_group=internal_group,
                    login_user=login_user,
                    mail_uid=uid,
                    mail_gid=gid,
                )
            )
            process = subprocess.Popen(
                [executable, "-F", "-c", str(config)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT
            )
            if _wait_listening(port, process):
                break
            _stop(process)
            process = None
        if process is None:
            raise RuntimeError(f"Dovecot did not start: {(root / 'dovecot.log').read_text(errors='replace')}")
        yield Dovecot(root, port, process, users, tls_port or None)
    finally:
        if process is not None:
            _stop(process)
        shutil.rmtree(root, ignore_errors=True)


def _certificate(root: Path) -> bool:
    """A self-signed certificate for 127.0.0.1, when openssl is there to make one."""
    openssl = shutil.which("openssl")
    if openssl is None:
        return False
    result = subprocess.run(
        [
            openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
            "-keyout", str(root / "key.pem"), "-out", str(root / "cert.pem"),
        ],
        capture_output=True,
        check=False,
    )  # fmt: skip
    if result.returncode != 0:
        return False
    (root / "key.pem").chmod(0o644)  # read by Dovecot's config process (it may run unprivileged)
    return True


def _group_name(gid: int) -> str:
    import grp

    return grp.getgrgid(gid).gr_name


def _wait_listening(port: int, process: subprocess.Popen[bytes], timeout: float = 20) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            if s.recv(100).startswith(b"* OK"):
                return True
        time.sleep(0.1)
    return False


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)
