"""The SPARQL 1.1 Protocol endpoint, the Graph Store Protocol and the YASGUI editor (named queries, which run
through this endpoint's runner, are ``threadline.queries``); see docs/sparql.md.

The routes are ``routes.router``; the app's query runner is ``runner.Runner``. Importing this package stays
light: query worker processes (``python -m threadline.sparql.worker``) import it too.
"""
