"""OpenAPI schema generation (drf-spectacular) for the API's own conventions.

- `OrgAutoSchema`: our list views are plain `GenericAPIView`s with a `get()` that paginates, so
  drf-spectacular cannot tell them from detail views. A GET on a view that paginates, at a path whose
  last segment is not a variable (`/members/`, `/tasks/{task_id}/items/`, not `/members/{id}/`), is a
  list: it gets a `..._list` operation id and a paginated response schema.

Together with `OrgApiView.get_queryset()` (the model for schema generation) and the bearer scheme in
apps/accounts/schema.py, this keeps `manage.py check --deploy` (which generates the schema) free of warnings.
"""

import re

from drf_spectacular.openapi import AutoSchema
from rest_framework.generics import GenericAPIView

_ENDS_WITH_VARIABLE = re.compile(r"\{[^/]+\}/?$")


class OrgAutoSchema(AutoSchema):
    def _is_list_view(self, serializer=None) -> bool:
        if (
            self.method == "GET"
            and isinstance(self.view, GenericAPIView)
            and not hasattr(self.view, "action")
            and getattr(self.view, "pagination_class", None) is not None
            and not _ENDS_WITH_VARIABLE.search(self.path)
        ):
            return True
        return super()._is_list_view(serializer)

