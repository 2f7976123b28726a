"""Characters and segments as carriers count them, signature included."""

from __future__ import annotations

from formflow_sms.numbers import mobile
from formflow_sms.segments import count


def test_chinese_fits_seventy_characters_in_one_segment_signature_included() -> None:
    assert count("好" * 64, "华东贸易").segments == 1  # 【华东贸易】 is 6 characters
    assert count("好" * 65, "华东贸易").characters == 71


def test_concatenated_chinese_takes_sixty_seven_a_segment() -> None:
    assert count("好" * 71).segments == 2
    assert count("好" * 134).segments == 2
    assert count("好" * 135).segments == 3


def test_plain_ascii_is_gsm_with_160_and_then_153_a_segment() -> None:
    assert count("a" * 160).segments == 1
    assert count("a" * 161).segments == 2
    assert count("a" * 306).segments == 2
    assert count("a" * 307).encoding == "gsm"


def test_one_chinese_character_makes_the_whole_message_ucs2() -> None:
    assert count("a" * 80 + "好").segments == 2


def test_a_mobile_number_is_kept_in_e164_and_others_are_refused() -> None:
    assert mobile("138 0013 8000") == "+8613800138000"
    assert mobile("12345") is None
    assert mobile("010 6552 9988") is None  # a Beijing landline
    assert mobile("") is None
