"""Address allow-lists: who a rule names, which addresses it lets in, and proxies' headers."""

from __future__ import annotations

import ipaddress

import pytest

from formflow.accounts.addresses import (
    AddressRule,
    InvalidNetwork,
    allows,
    client_address,
    parse_networks,
)

OFFICE = parse_networks("10.0.0.0/8, 203.0.113.7")
REPS = AddressRule(1, OFFICE, app_key="crm", role_key="sales_rep")
ALICE_AT_HOME = AddressRule(2, parse_networks("198.51.100.0/24 2001:db8::/32"), user_id=7)


def test_networks_take_cidr_single_addresses_and_ipv6() -> None:
    assert [str(n) for n in parse_networks("10.0.0.0/8\n203.0.113.7, 2001:db8::/32")] == [
        "10.0.0.0/8",
        "203.0.113.7/32",
        "2001:db8::/32",
    ]


def test_a_network_that_is_not_one_is_refused_by_name() -> None:
    with pytest.raises(InvalidNetwork, match=r"'10\.0\.0\.300'"):
        parse_networks("10.0.0.0/8 10.0.0.300")


def test_someone_no_rule_names_may_come_from_anywhere() -> None:
    assert allows([REPS], 3, {"crm": {"sales_manager"}}, "192.0.2.1")


def test_a_roles_holders_come_only_from_its_networks() -> None:
    assert allows([REPS], 3, {"crm": {"sales_rep"}}, "10.20.30.40")
    assert allows([REPS], 3, {"crm": {"sales_rep"}}, "203.0.113.7")
    assert not allows([REPS], 3, {"crm": {"sales_rep"}}, "192.0.2.1")


def test_the_same_role_key_in_another_app_is_another_role() -> None:
    assert allows([REPS], 3, {"hr": {"sales_rep"}}, "192.0.2.1")


def test_someone_several_rules_name_may_come_from_any_of_their_networks() -> None:
    roles = {"crm": {"sales_rep"}}
    assert allows([REPS, ALICE_AT_HOME], 7, roles, "198.51.100.20")
    assert allows([REPS, ALICE_AT_HOME], 7, roles, "2001:db8::1")
    assert allows([REPS, ALICE_AT_HOME], 7, roles, "10.0.0.1")
    assert not allows([REPS, ALICE_AT_HOME], 7, roles, "192.0.2.1")


def test_an_address_that_is_not_one_is_kept_out_where_a_rule_applies() -> None:
    assert not allows([ALICE_AT_HOME], 7, {}, "unknown")


PROXY = (ipaddress.ip_network("127.0.0.1/32"), ipaddress.ip_network("172.16.0.0/12"))


def test_forwarded_for_is_ignored_from_a_client_that_is_not_a_trusted_proxy() -> None:
    assert client_address("192.0.2.1", "10.0.0.1", PROXY) == "192.0.2.1"


def test_forwarded_for_is_ignored_when_no_proxy_is_trusted() -> None:
    assert client_address("127.0.0.1", "10.0.0.1", ()) == "127.0.0.1"


def test_a_trusted_proxy_tells_the_client_read_from_the_right() -> None:
    spoofed_then_real = "10.0.0.1, 192.0.2.9, 172.16.0.5"
    assert client_address("127.0.0.1", spoofed_then_real, PROXY) == "192.0.2.9"
