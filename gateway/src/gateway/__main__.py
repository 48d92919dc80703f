"""`python -m gateway`: serve the gateway with uvicorn."""

import uvicorn

from gateway.app import make_app
from gateway.config import GatewaySettings
from runtime.logs import setup_logging


def main() -> None:
    settings = GatewaySettings()
    setup_logging(settings.log_level)
    uvicorn.run(make_app(settings), host=settings.host, port=settings.port, log_config=None, access_log=False)


if __name__ == "__main__":
    main()
