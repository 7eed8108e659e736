"""The HTTP face of the service: the app factory, the pages it serves itself, the OpenAPI document, request
limits and how error bodies look. Feature routes live with their feature (``threadline.<feature>.routes``);
this package assembles them (``app.create_app``)."""
