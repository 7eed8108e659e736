"""SHACL compliance validation: shape profiles, a native SPARQL engine with pyshacl fallback, reports."""
