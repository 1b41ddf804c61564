"""Every search attribute key is registered with the same name and type wherever a server starts."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

import yaml
from temporalio.common import SearchAttributeKey

from foundation import search_attributes as sa
from processes.devstack.temporal import search_attribute_arg, search_attribute_args

COMPOSE = Path(__file__).resolve().parents[2] / "docker-compose.yml"


def _registered_by(command: list[str]) -> set[str]:
    return {value for flag, value in pairwise(command) if flag == "--search-attribute"}


def test_docker_compose_registers_exactly_the_keys_with_their_types() -> None:
    compose = yaml.safe_load(COMPOSE.read_text())
    pairs = compose["services"]["temporal-setup"]["environment"]["SEARCH_ATTRIBUTES"].split()
    assert set(pairs) == {search_attribute_arg(key) for key in sa.ALL_KEYS}


def test_dev_server_registers_every_key_by_name() -> None:
    registered = {arg.split("=")[0] for arg in _registered_by(search_attribute_args())}
    assert registered == {"OrderId", "CustomerId", "OrderStatus"}


def test_a_key_is_registered_as_keyword() -> None:
    assert search_attribute_arg(sa.ORDER_STATUS) == "OrderStatus=Keyword"


def test_multi_word_types_are_spelled_as_the_cli_expects() -> None:
    key = SearchAttributeKey.for_keyword_list("Tags")
    assert search_attribute_arg(key) == "Tags=KeywordList"
