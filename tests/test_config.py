"""Configuration from the environment: fail fast with a useful message, keep the session key."""

from __future__ import annotations

import os
import stat
import subprocess
import sys

import pytest

from app.config import ConfigError, from_env, load_secret_key
from tests.conftest import hub_env


@pytest.mark.parametrize("missing", ["JUPYTERHUB_API_URL", "JUPYTERHUB_API_TOKEN"])
def test_a_missing_hub_variable_names_itself_and_how_to_get_it(tmp_path, missing):
    env = hub_env(HUBCLASS_DATA_DIR=str(tmp_path))
    del env[missing]
    with pytest.raises(ConfigError) as caught:
        from_env(env)
    assert missing in str(caught.value)
    assert "managed service" in str(caught.value)
    assert "external service" in str(caught.value)


def test_wsgi_start_up_stops_with_that_message(tmp_path):
    env = {"PATH": os.environ["PATH"], "HUBCLASS_DATA_DIR": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-c", "import wsgi"], env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode != 0
    assert "JUPYTERHUB_API_URL is not set" in result.stderr


def test_defaults(tmp_path):
    config = from_env(hub_env(HUBCLASS_DATA_DIR=str(tmp_path / "d")))
    assert config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path / 'd' / 'hubclass.sqlite'}"
    assert config["HUBCLASS_INSTRUCTOR_GROUPS"] == ["instructors"]
    assert config["HUBCLASS_ALLOWED_REPO_URLS"] == ["https://github.com/", "https://gitlab.com/"]
    assert config["HUB_CLIENT_ID"] == "service-hubclass"
    assert config["HUB_OAUTH_CALLBACK_URL"] == "/services/hubclass/oauth_callback"
    # Without public_url the Hub sends empty JUPYTERHUB_PUBLIC_*: the proxy-relative path works.
    assert config["HUB_URL"] == "/hub/"
    assert config["SESSION_COOKIE_PATH"] == "/services/hubclass/"
    assert config["SESSION_COOKIE_SECURE"] is False
    assert config["MAX_CONTENT_LENGTH"] > 0


def test_hub_values_and_overrides(tmp_path):
    config = from_env(
        hub_env(
            HUBCLASS_DATA_DIR=str(tmp_path),
            JUPYTERHUB_PUBLIC_HUB_URL="https://hub.example.edu/hub/",
            JUPYTERHUB_CLIENT_ID="service-classes",
            HUBCLASS_INSTRUCTOR_GROUPS="faculty, tas",
            HUBCLASS_ALLOWED_REPO_URLS="https://git.example.edu/",
            HUBCLASS_DATABASE_URL="postgresql://hubclass:pw@db/hubclass",
        )
    )
    assert config["HUB_URL"] == "https://hub.example.edu/hub/"
    assert config["SESSION_COOKIE_SECURE"] is True
    assert config["HUB_CLIENT_ID"] == "service-classes"
    assert config["HUBCLASS_INSTRUCTOR_GROUPS"] == ["faculty", "tas"]
    assert config["HUBCLASS_ALLOWED_REPO_URLS"] == ["https://git.example.edu/"]
    # psycopg 3 is the driver we ship; a bare postgresql:// would ask for psycopg2.
    assert config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://hubclass:pw@db/hubclass"


def test_secret_key_is_made_once_private_and_reused(tmp_path):
    first = load_secret_key(tmp_path)
    mode = stat.S_IMODE((tmp_path / "secret_key").stat().st_mode)
    assert mode == 0o600
    assert load_secret_key(tmp_path) == first
    assert from_env(hub_env(HUBCLASS_DATA_DIR=str(tmp_path)))["SECRET_KEY"] == first
    assert len(first) >= 64


def test_secret_key_from_the_environment_wins(tmp_path):
    config = from_env(hub_env(HUBCLASS_DATA_DIR=str(tmp_path), HUBCLASS_SECRET_KEY="k" * 40))
    assert config["SECRET_KEY"] == "k" * 40
    assert not (tmp_path / "secret_key").exists()
