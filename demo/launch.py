"""Start and stop a real local JupyterHub with Hubclass as its managed service.

Used by `make demo` (demo/run.py) and by the test suite's session fixture, so the tests run the
very configuration the demo shows.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import sysconfig
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parent.parent
CONFIG = REPO / "demo" / "jupyterhub_config.py"
VENV_BIN = Path(sys.executable).parent


def _open_to_everyone(path: Path) -> bool:
    """Every account may run `path`: it and each folder above it are open to others (o+x)."""
    return all(os.stat(part).st_mode & 0o001 for part in (path, *path.parents))


def python_for_everyone() -> tuple[list[str], dict[str, str]]:
    """How an unprivileged account runs this venv's Python: (argv prefix, extra environment).

    The venv's interpreter may sit where only root may read (a pyenv under /root): then the
    system's Python of the same version runs the venv's packages (the same ABI), on PYTHONPATH,
    with the venv's Jupyter config (so its servers load nbgitpuller, as the venv's would).
    """
    real = Path(sys.executable).resolve()
    if _open_to_everyone(real):
        return [sys.executable], {}
    system = Path(f"/usr/bin/python{sys.version_info.major}.{sys.version_info.minor}")
    if not system.exists():
        raise RuntimeError(
            f"{real} cannot be run by other accounts, and there is no {system}: make the venv "
            "with a Python every account can run (e.g. the system's python3)."
        )
    packages = sysconfig.get_paths()["purelib"]
    # The venv's own Jupyter config (the server extensions its packages enable: nbgitpuller),
    # which the system's Python looks for under its own prefix, not the venv's.
    config = Path(sys.prefix) / "etc" / "jupyter"
    return [str(system)], {
        "PYTHONPATH": f"{packages}{os.pathsep}{REPO}",
        "JUPYTER_CONFIG_PATH": str(config),
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class RunningHub:
    state: Path
    port: int
    hub_api_port: int
    service_port: int
    password: str
    admin_token: str
    service_token: str
    process: subprocess.Popen
    log_path: Path
    env: dict = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.hub_api_port}/hub/api"

    @property
    def service_url(self) -> str:
        return f"{self.url}/services/hubclass/"

    @property
    def service_data_dir(self) -> Path:
        return Path(self.env["HUBCLASS_DATA_DIR"])

    def admin(self) -> requests.Session:
        """A requests session with the suite's Hub admin token (for setting up users)."""
        session = requests.Session()
        session.headers["Authorization"] = f"token {self.admin_token}"
        return session

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self, timeout: float = 20) -> None:
        """Stop the Hub; it stops the proxy, the service and the users' servers."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        # Anything the Hub left behind in its process group (a stuck server) goes too.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)


def wait_for(url: str, *, timeout: float, process: subprocess.Popen, log_path: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"JupyterHub exited with {process.returncode}; see {log_path}")
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {timeout:g} s; see {log_path}")


def start_hub(
    state: Path,
    *,
    port: int | None = None,
    password: str | None = None,
    extra_env: dict[str, str] | None = None,
    output=None,
    timeout: float = 90,
) -> RunningHub:
    """Start JupyterHub in `state` (a fresh folder) and wait until Hubclass answers through it."""
    state.mkdir(parents=True, exist_ok=True)
    (state / "homes").mkdir(exist_ok=True)
    ports = {
        "HUBCLASS_HUB_PORT": port or free_port(),
        "HUBCLASS_HUB_API_PORT": free_port(),
        "HUBCLASS_HUB_PROXY_API_PORT": free_port(),
        "HUBCLASS_SERVICE_PORT": free_port(),
    }
    password = password or secrets.token_urlsafe(12)
    admin_token = secrets.token_hex(24)
    service_token = secrets.token_hex(24)
    env = {
        **os.environ,
        **{k: str(v) for k, v in ports.items()},
        "HUBCLASS_HUB_STATE": str(state),
        "HUBCLASS_HUB_PASSWORD": password,
        "HUBCLASS_HUB_ADMIN_TOKEN": admin_token,
        "HUBCLASS_SERVICE_API_TOKEN": service_token,
        "HUBCLASS_DATA_DIR": str(state / "hubclass"),
        "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        **(extra_env or {}),
    }
    # Our own JUPYTERHUB_* variables (if this runs inside a Hub) must not leak into this one.
    for name in list(env):
        if name.startswith("JUPYTERHUB_"):
            del env[name]
    log_path = state / "jupyterhub.log"
    log_file = output if output is not None else open(log_path, "ab")  # noqa: SIM115
    process = subprocess.Popen(
        [str(VENV_BIN / "jupyterhub"), "-f", str(CONFIG)],
        cwd=state,
        env=env,
        stdout=log_file,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        # Its own process group: stopping the group stops proxy, service and servers with it.
        start_new_session=True,
    )
    if output is None:
        log_file.close()
    hub = RunningHub(
        state=state,
        port=int(ports["HUBCLASS_HUB_PORT"]),
        hub_api_port=int(ports["HUBCLASS_HUB_API_PORT"]),
        service_port=int(ports["HUBCLASS_SERVICE_PORT"]),
        password=password,
        admin_token=admin_token,
        service_token=service_token,
        process=process,
        log_path=log_path,
        env=env,
    )
    try:
        wait_for(f"{hub.url}/hub/api/", timeout=timeout, process=process, log_path=log_path)
        wait_for(f"{hub.service_url}health", timeout=timeout, process=process, log_path=log_path)
    except BaseException:
        hub.stop()
        raise
    return hub
