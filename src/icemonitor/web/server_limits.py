"""The serve command's time and connection limits (defaults of `icemonitor serve`'s options), apart from the uvicorn
protocol that applies them (web/server.py) so the CLI shows them without importing uvicorn."""

HEADER_TIMEOUT = 10.0  # seconds from the connection (or the end of the previous response) to the end of the headers
BODY_TIMEOUT = 30.0  # seconds from the end of the headers to the end of the body
MAX_CONNECTIONS = 256  # open connections at once; more are answered 503 and closed
KEEP_ALIVE = 5  # seconds an idle keep-alive connection stays open (uvicorn's timeout_keep_alive)
