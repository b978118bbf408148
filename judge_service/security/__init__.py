"""Access control: API keys (``keys``), the auth middleware (``auth``) and per-client rate limits (``ratelimit``)."""
