"""`python -m gateway`: serve the gateway with uvicorn."""

from gateway.app import make_app
from gateway.config import GatewaySettings
from gateway.serving import serve
from runtime.heap import settle_for_serving
from runtime.logs import setup_logging


def main() -> None:
    settings = GatewaySettings()
    setup_logging(settings.log_level)
    app = make_app(settings)
    settle_for_serving()  # what start-up made is never walked by the collector again
    serve(app, settings)


if __name__ == "__main__":
    main()
