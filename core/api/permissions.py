from rest_framework.permissions import BasePermission


class IsStaff(BasePermission):
    """Staff endpoints: staff accounts only; what each may do is checked by the service's permission."""

    def has_permission(self, request, view) -> bool:
        return bool(request.user and request.user.is_authenticated and request.user.is_staff)


class HasModelPerm(IsStaff):
    """Staff with a named permission (``required_perm`` on the view), as in admin."""

    def has_permission(self, request, view) -> bool:
        perm = getattr(view, "required_perm", None)
        return super().has_permission(request, view) and (perm is None or request.user.has_perm(perm))
