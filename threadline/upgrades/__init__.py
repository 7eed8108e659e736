"""Versions and upgrades: what a store records about itself, the check every open makes, and
``threadline migrate`` (docs/upgrades.md).

- ``versions``: the package, store format and ontology versions, and how they compare;
- ``record``: the store's version record in the admin-only graph ``graph/store``;
- ``renames``: the ontology's term renames (``ontology/renames.csv``), shared by the migration and the record hash;
- ``plan``: the steps from a store's versions to this Threadline's, and whether they are trivial;
- ``gate``: what ``open_store`` admits; ``migration``: carrying a plan out; ``commands``: the CLI verb.
"""
