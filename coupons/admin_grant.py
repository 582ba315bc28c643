"""Admin action "grant to customers": an intermediate page where staff paste usernames or ids, then
``coupons_grant_by_staff`` does the work (manual grant). Wired into the template admin's
``actions``."""

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.auth import get_user_model
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template import engines
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from core.errors import ApplicationError
from core.userlists import parse_user_list, resolve_users
from coupons.ledger.issuing import MAX_ISSUE_QUANTITY
from coupons.models import CouponTemplate, TemplateStatus
from coupons.services.grants import MAX_USERS_PER_GRANT, coupons_grant_by_staff

PAGE = """{% extends "admin/base_site.html" %}{% load i18n %}
{% block breadcrumbs %}<div class="breadcrumbs"><a href="{% url 'admin:index' %}">{% translate 'Home' %}</a>
&rsaquo; <a href="{% url 'admin:coupons_coupontemplate_changelist' %}">{{ opts.verbose_name_plural|capfirst }}</a>
&rsaquo; {{ title }}</div>{% endblock %}
{% block content %}
<p>{{ template.name }} — {% translate "remaining" %}:
{% if template.remaining is None %}∞{% else %}{{ template.remaining }}{% endif %},
{% translate "per-user limit" %}: {{ template.per_user_limit|default:"∞" }}</p>
<form method="post">{% csrf_token %}
  {{ form.as_p }}
  <input type="hidden" name="action" value="grant_to_users_action">
  <input type="hidden" name="{{ selected_name }}" value="{{ template.pk }}">
  <input type="hidden" name="apply" value="1">
  <input type="submit" value="{% translate 'Grant' %}" class="default">
</form>
{% endblock %}
"""


class GrantForm(forms.Form):
    users = forms.CharField(
        label=_("customers"),
        widget=forms.Textarea(attrs={"rows": 8, "cols": 60}),
        help_text=_("Usernames or user ids, separated by spaces, commas or new lines (at most %(max)s).")
        % {"max": MAX_USERS_PER_GRANT},
    )
    quantity = forms.IntegerField(label=_("coupons each"), min_value=1, max_value=MAX_ISSUE_QUANTITY, initial=1)

    def clean_users(self) -> list[Any]:
        tokens = parse_user_list(self.cleaned_data["users"])
        if len(tokens) > MAX_USERS_PER_GRANT:
            raise forms.ValidationError(gettext("At most %(max)s customers at a time.") % {"max": MAX_USERS_PER_GRANT})
        ids, unknown = resolve_users(tokens)
        if unknown:
            raise forms.ValidationError(gettext("Unknown customers: %(users)s") % {"users": ", ".join(unknown[:20])})
        if not ids:
            raise forms.ValidationError(gettext("Name at least one customer."))
        return list(get_user_model().objects.filter(pk__in=ids))


@admin.action(description=_("Grant to customers…"))
def grant_to_users_action(modeladmin: Any, request: HttpRequest, queryset: QuerySet[CouponTemplate]) -> Any:
    """Grant the selected (approved) template to pasted customers; ``coupons.grant_coupontemplate``."""
    if not request.user.has_perm("coupons.grant_coupontemplate"):
        modeladmin.message_user(request, gettext("You do not have permission to grant coupons."), messages.ERROR)
        return None
    templates = list(queryset[:2])
    if len(templates) != 1:
        modeladmin.message_user(request, gettext("Select exactly one template to grant."), messages.WARNING)
        return None
    template = templates[0]
    if template.status != TemplateStatus.APPROVED:
        modeladmin.message_user(request, gettext("Only an approved template can be granted."), messages.ERROR)
        return None
    form = GrantForm(request.POST if "apply" in request.POST else None)
    if form.is_bound and form.is_valid():
        try:
            result = coupons_grant_by_staff(
                template=template,
                users=form.cleaned_data["users"],
                actor=request.user,
                quantity=form.cleaned_data["quantity"],
            )
        except ApplicationError as exc:
            modeladmin.message_user(request, exc.message, messages.ERROR)
            return None
        modeladmin.message_user(
            request,
            gettext("Granted %(coupons)s coupons to %(users)s customers.")
            % {"coupons": len(result.coupons), "users": len(result.granted_users)},
            messages.SUCCESS,
        )
        if result.skipped:
            modeladmin.message_user(
                request,
                gettext("Skipped: %(skipped)s")
                % {"skipped": ", ".join(f"#{uid} ({code})" for uid, code in sorted(result.skipped.items()))},
                messages.WARNING,
            )
        return None
    context = {
        **modeladmin.admin_site.each_context(request),
        "opts": CouponTemplate._meta,
        "title": gettext("Grant “%(name)s” to customers") % {"name": template.name},
        "template": template,
        "form": form,
        "selected_name": helpers.ACTION_CHECKBOX_NAME,
    }
    return HttpResponse(engines["django"].from_string(PAGE).render(context, request))
