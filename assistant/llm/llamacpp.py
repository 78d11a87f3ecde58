"""A local GGUF model as a LangChain chat model, through llama-cpp-python.

langchain-community has a `ChatLlamaCpp`, but that package is large, deprecated piece by piece,
and pulls SQLAlchemy and aiohttp for one class; this adapter is the part hoidap needs.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterator
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import PrivateAttr

_ROLES = {"system": "system", "human": "user", "ai": "assistant"}


class ChatLlamaCpp(BaseChatModel):
    """Chat completions from a GGUF file; the model loads on first use and stays loaded.

    llama.cpp contexts are not thread-safe, so generations (from several chat sessions) take
    turns on one lock.
    """

    model_path: str
    n_ctx: int = 4096
    n_threads: int | None = None
    max_tokens: int = 256
    temperature: float = 0.0
    seed: int = 0
    timeout: float | None = None
    """Seconds one reply may take; enforced inside llama.cpp, reading the prompt included."""

    _llama: Any = PrivateAttr(default=None)
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)
    _deadline: float = PrivateAttr(default=math.inf)
    _abort: Any = PrivateAttr(default=None)

    @property
    def _llm_type(self) -> str:
        return "llama-cpp"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model_path": self.model_path, "n_ctx": self.n_ctx}

    def _model(self) -> Any:
        if self._llama is None:
            import llama_cpp  # the optional extra `hoidap[llm]`; checked by the backend

            llama = llama_cpp.Llama(
                model_path=self.model_path,
                n_ctx=self.n_ctx,
                n_threads=self.n_threads,
                seed=self.seed,
                verbose=False,
            )
            # Reading a long prompt on a CPU takes seconds with no token to check the time
            # between, so llama.cpp itself asks whether to stop (kept referenced: C holds it).
            self._abort = llama_cpp.ggml_abort_callback(lambda _: time.monotonic() > self._deadline)
            llama_cpp.llama_set_abort_callback(llama.ctx, self._abort, None)
            self._llama = llama
        return self._llama

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        chat = [{"role": _ROLES.get(m.type, "user"), "content": m.text} for m in messages]
        with self._lock:
            model = self._model()
            self._deadline = time.monotonic() + self.timeout if self.timeout else math.inf
            stream = model.create_chat_completion(
                messages=chat,
                stream=True,
                max_tokens=kwargs.get("max_tokens", self.max_tokens),
                temperature=kwargs.get("temperature", self.temperature),
                seed=self.seed,
                stop=stop,
            )
            try:
                for part in stream:
                    delta = part["choices"][0].get("delta", {}).get("content")
                    if not delta:
                        continue
                    chunk = ChatGenerationChunk(message=AIMessageChunk(content=delta))
                    if run_manager:
                        run_manager.on_llm_new_token(delta, chunk=chunk)
                    yield chunk
            except RuntimeError as e:  # llama_decode's status when the callback stopped it
                if time.monotonic() > self._deadline:
                    raise TimeoutError(f"the local model took over {self.timeout:g} s") from e
                raise
            finally:
                self._deadline = math.inf
                stream.close()  # a caller that stops early (timeout) frees the model at once

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        text = "".join(c.text for c in self._stream(messages, stop, run_manager, **kwargs))
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=text))])
