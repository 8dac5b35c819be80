"""The dashboard (``flushwatch serve``): pages and a JSON API over :mod:`flushwatch.api`.

A front end only: every number comes from a :class:`~flushwatch.api.Workspace` call, every
chart from the report layer's figure builders; the store is opened read-only and no route
takes SQL. See :mod:`flushwatch.web.security` for who may connect.
"""

from flushwatch.web.app import create_app

__all__ = ["create_app"]
