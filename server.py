"""ASGI entry point: ``uvicorn server:app`` serves the store named by THREADLINE_STORE."""

from threadline.app import create_app

app = create_app()
