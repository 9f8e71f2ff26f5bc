"""The model registry: versions in SQL, artifacts by sha256, deploys, splits and canaries.

``traffic`` (the router every DataPlane uses) and ``subscriber`` (how a gateway keeps its
policies current) are the parts the serving processes import; the rest is the
``mlinfer registry`` service.
"""
