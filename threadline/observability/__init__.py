"""Observability: logs (``logs``), counters (``metrics``), the request layer that ties a request id to both
(``request_context``), scrape-time state (``state``) and the ``/livez``, ``/readyz``, ``/metrics`` routes
(``routes``). See docs/observability.md.

Nothing is imported here: the loader and the query worker processes import ``metrics`` and ``logs`` alone,
without the web framework.
"""
