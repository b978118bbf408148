"""Any server that speaks OpenAI chat completions: vLLM, Ollama, llama.cpp, LM Studio, TGI, gateways.

Same wire path and behaviour as ``openai.py`` with three differences:
- ``base_url`` is required (there is no sensible default host);
- the API key is optional: local servers usually need none, so without ``api_key_env`` the
  SDK is given the placeholder "not-needed";
- structured output is OFF unless asked for, because many servers ignore ``response_format``
  (the reply is then just text, which the tolerant parser handles) and some reject it with a
  400. Turn it on with ``structured_output: true`` (or ``options: {structured_output: true}``)
  for servers that enforce schemas (vLLM's guided decoding, llama.cpp's json_schema).

Every ``options`` key of ``openai.py`` applies here too (max_tokens_param, send_temperature,
structured_mode, health_probe, http_backend).

Examples (judges YAML):

    - {name: qwen-vllm, provider: openai_compatible, model: Qwen/Qwen2.5-7B-Instruct,
       base_url: "http://localhost:8000/v1", structured_output: true}        # vllm serve ...
    - {name: llama-ollama, provider: openai_compatible, model: "llama3.1:8b",
       base_url: "http://localhost:11434/v1"}                               # ollama serve
    - {name: gemma-llamacpp, provider: openai_compatible, model: gemma,
       base_url: "http://localhost:8080/v1", options: {max_tokens_param: max_tokens}}  # llama-server
"""

from __future__ import annotations

from judge_service.errors import InvalidInput
from judge_service.judges.config import JudgeSpec
from judge_service.judges.openai import OpenAIProvider
from judge_service.judges.secrets import read_api_key


class OpenAICompatibleProvider(OpenAIProvider):
    provider_label = "openai_compatible"
    default_key_env = None

    def __init__(self, spec: JudgeSpec, settings: object = None) -> None:
        if not spec.base_url:
            raise InvalidInput(
                f"judge '{spec.name}': provider openai_compatible needs base_url, e.g. "
                "http://localhost:8000/v1 (vLLM), http://localhost:11434/v1 (Ollama), http://localhost:8080/v1 (llama.cpp)",
                field="base_url",
            )
        super().__init__(spec, settings)

    def _read_key(self, spec: JudgeSpec) -> tuple[str | None, str | None]:
        return read_api_key(spec, None, required=False)

    def _structured_enabled(self, spec: JudgeSpec) -> bool:
        # JudgeSpec.structured_output defaults to True for every provider; here only an explicit
        # setting counts, because the safe default for unknown servers is off.
        if "structured_output" in spec.model_fields_set:
            return spec.structured_output
        return bool(spec.options.get("structured_output", False))
