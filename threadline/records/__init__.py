"""Records (issue #15): the device history record of a unit or lot, and the first article inspection report of a
part revision, built from the thread, reviewed by exception and released by electronic signature.

``builder.dhr(store, identifier)`` and ``builder.fai(store, part, revision)`` gather a record (``dhr.collect``,
``fai.collect``), review it (``review``) and return the ``Record`` every format renders from (``render``: HTML and
PDF from one Jinja2 template; canonical JSON-LD from ``jsonld``, whose hash is the record's content hash); a
release (``release``) signs that hash. The package imports nothing here, so the CLI starts without it.
docs/records.md describes each part.
"""
