"""ASGI entry point: ``uvicorn server:app`` serves the store named by THREADLINE_STORE."""

from threadline.web.app import create_app

app = create_app()
