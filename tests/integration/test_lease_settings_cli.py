"""`check-config` refuses a broker deadline whose retries outlast the instance lease, naming both settings."""

from __future__ import annotations

from tests.integration.test_check_config_cli import CREDENTIALS, check_config


def test_a_broker_read_longer_than_the_lease_is_refused_naming_both(tmp_path):
    env = tmp_path / "live.env"
    env.write_text("SWINGTRADER_MODE=live\n" + CREDENTIALS)
    proc = check_config(tmp_path, "--config", str(env), SWINGTRADER_KOTAK_TIMEOUT_SECONDS="300",
                        SWINGTRADER_LEASE_EXPIRY_SECONDS="60")
    assert proc.returncode == 2
    assert proc.stderr == ("error: SWINGTRADER_KOTAK_TIMEOUT_SECONDS (300 s) times the 4 attempts of a broker read "
                           "(1200 s) must be shorter than SWINGTRADER_LEASE_EXPIRY_SECONDS (60 s)\n")
    assert proc.stdout == ""


def test_a_deadline_within_the_lease_and_a_paper_store_without_the_broker_are_accepted(tmp_path):
    env = tmp_path / "live.env"
    env.write_text("SWINGTRADER_MODE=live\n" + CREDENTIALS)
    assert check_config(tmp_path, "--config", str(env), SWINGTRADER_KOTAK_TIMEOUT_SECONDS="10",
                        SWINGTRADER_LEASE_EXPIRY_SECONDS="60").returncode == 0
    assert check_config(tmp_path, SWINGTRADER_KOTAK_TIMEOUT_SECONDS="300",  # paper prices from bars: no broker
                        SWINGTRADER_LEASE_EXPIRY_SECONDS="60").returncode == 0
