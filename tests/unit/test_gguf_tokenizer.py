import pytest

from shared.models import ChatMessage, GgufTokenizer, locate_smollm2_gguf


@pytest.fixture(scope="module")
def tokenizer() -> GgufTokenizer:
    return GgufTokenizer()


def test_locates_the_shipped_gguf_file() -> None:
    path = locate_smollm2_gguf()

    assert path.suffix == ".gguf"
    assert path.is_file()


def test_counts_are_positive(tokenizer: GgufTokenizer) -> None:
    assert tokenizer.count("refund") > 0
    assert tokenizer.count("Where is my refund for invoice INV-1001?") > 0


def test_empty_text_has_no_tokens(tokenizer: GgufTokenizer) -> None:
    assert tokenizer.count("") == 0


def test_longer_text_has_more_tokens(tokenizer: GgufTokenizer) -> None:
    short = "Refunds are issued within 14 days."
    long = short + " Items must be returned unused, in their original packaging, with a receipt."

    assert tokenizer.count(long) > tokenizer.count(short)


def test_chat_count_includes_template_markup(tokenizer: GgufTokenizer) -> None:
    messages = [
        ChatMessage(role="system", content="You are a billing assistant."),
        ChatMessage(role="user", content="Can I get a refund for INV-1001?"),
    ]

    assert tokenizer.count_chat(messages) > sum(tokenizer.count(m.content) for m in messages)


def test_chat_is_rendered_as_chatml_with_assistant_prefix(tokenizer: GgufTokenizer) -> None:
    prompt = tokenizer.render_chat([ChatMessage(role="user", content="hi")])

    assert "<|im_start|>user\nhi<|im_end|>\n" in prompt
    assert prompt.endswith("<|im_start|>assistant\n")


def test_template_adds_a_default_system_turn_when_none_is_given(tokenizer: GgufTokenizer) -> None:
    prompt = tokenizer.render_chat([ChatMessage(role="user", content="hi")])

    assert prompt.startswith("<|im_start|>system\nYou are a helpful AI assistant named SmolLM")
