"""The keyboard-key helpers the web app and the keystroke simulation share."""
from chargen import keys


def test_keyboard_helpers():
    assert keys.type_jamo("한", "\u1161") == "하나"           # a vowel takes the final consonant (ㅏ)
    assert keys.type_jamo("하", "\u11ab") == "한"             # a final consonant joins the syllable
    assert keys.type_jamo("영화 ", "\u1100") == "영화 \u1100"  # a lone initial stays a jamo
    assert [keys.key_of(c) for c in ("É", "e", " ", "\n", "\u11a8", "\u1100", "국")] == \
        ["e", "e", "space", "enter", "ㄱ", "ㄱ", "ㄱ"]
    assert [keys.show_char(c) for c in (" ", "\n", "\u1161", "a")] == ["␣", "⏎", "ㅏ", "a"]
    assert keys.delete_key("국", jamo=True) == "구" and keys.delete_key("국", jamo=False) == ""
    assert keys.typed_jamo("ㄱ") == "\u1100" and keys.typed_jamo("a") == "a"


def test_word_keys_split_compound_jamo_as_a_two_set_keyboard_types_them():
    from chargen.keys import word_keys
    assert word_keys("과") == ("ㄱ", "ㅗ", "ㅏ")
    assert word_keys("닭") == ("ㄷ", "ㅏ", "ㄹ", "ㄱ")
    assert word_keys("가게")[:3] == word_keys("각")         # 각, then ㅔ, becomes 가게 on screen
    assert word_keys("ㅋㅋ") == ("ㅋ", "ㅋ") and word_keys("\u1100") == ("ㄱ",)
    assert word_keys("ab1") == ("a", "b", "1")
