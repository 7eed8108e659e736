"""Observability: logs (``logs``), counters (``metrics``), the request layer that ties a request id to both
(``request_context``), and the ``/livez``, ``/readyz``, ``/metrics`` routes with the scrape-time state they
read (``routes``, in the web layer). See docs/observability.md.

Nothing is imported here: the loader and the query worker processes import ``metrics`` and ``logs`` alone,
without the web framework.
"""
