"""Activity workflow pages in admin: refused (403) to whoever may never act, not only their POST, and sent
back with the reason to whoever may but not now; an edit
saved while a colleague publishes never turns the published activity back into a draft."""

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from core.audit import audit_trail_for
from marketing.admin import ActivityAdmin
from marketing.models import Activity, ActivityItem, ActivityStatus
from marketing.services.activities import activity_publish
from tests.factories import CouponTemplateFactory, StaffFactory
from tests.marketing.admin_forms import activity_change_form
from tests.marketing.distribution import ensure_roles, restore_roles_after_module  # noqa: F401

pytestmark = pytest.mark.django_db


def logged_in(user) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(user)
    return client


@pytest.fixture
def activity() -> Activity:
    activity = Activity.objects.create(
        title="烤鸭节", start_time=timezone.now(), end_time=timezone.now() + timedelta(days=3)
    )
    ActivityItem.objects.create(activity=activity, template=CouponTemplateFactory(), quantity=1)
    return activity


@pytest.mark.parametrize("action", ["publish", "cancel"])
def test_finance_may_not_open_an_activitys_workflow_pages(finance_user, activity, action):
    client = logged_in(finance_user)

    assert client.get(f"/admin/marketing/activity/{activity.pk}/workflow/{action}/").status_code == 403
    assert client.post(f"/admin/marketing/activity/{activity.pk}/workflow/{action}/", {}).status_code == 403
    assert Activity.objects.get(pk=activity.pk).status == ActivityStatus.DRAFT


def test_operations_opens_publish_and_then_not_again(operations_user, activity):
    client = logged_in(operations_user)

    page = client.get(f"/admin/marketing/activity/{activity.pk}/workflow/publish/")
    published = client.post(f"/admin/marketing/activity/{activity.pk}/workflow/publish/", {})
    again = client.get(f"/admin/marketing/activity/{activity.pk}/workflow/publish/")

    assert page.status_code == 200 and 'id="workflow-confirm"' in page.content.decode()
    assert published.status_code == 302
    assert Activity.objects.get(pk=activity.pk).status == ActivityStatus.PUBLISHED
    # A published activity is not published twice: the page sends its publisher back, saying why.
    assert again.status_code == 302 and again["Location"] == f"/admin/marketing/activity/{activity.pk}/change/"
    told = [str(m) for m in client.get(again["Location"]).context["messages"]]
    assert told == ["Publish: done.", "Cannot publish an activity that is Published."]
    assert client.get(f"/admin/marketing/activity/{activity.pk}/workflow/cancel/").status_code == 200


def test_a_publish_sent_from_a_page_a_colleague_published_meanwhile_says_so(operations_user, activity):
    client = logged_in(operations_user)
    page = client.get(f"/admin/marketing/activity/{activity.pk}/workflow/publish/")
    assert page.status_code == 200
    activity_publish(activity=activity, actor=StaffFactory(role="operations"))
    trail = len(audit_trail_for(activity))

    sent = client.post(f"/admin/marketing/activity/{activity.pk}/workflow/publish/", {})

    assert sent.status_code == 302 and sent["Location"] == f"/admin/marketing/activity/{activity.pk}/change/"
    told = [str(m) for m in client.get(sent["Location"]).context["messages"]]
    assert told == ["Cannot publish an activity that is Published."]
    assert len(audit_trail_for(activity)) == trail


def draft_activity() -> Activity:
    activity = Activity.objects.create(
        title="烤鸭节", start_time=timezone.now(), end_time=timezone.now() + timedelta(days=3)
    )
    ActivityItem.objects.create(activity=activity, template=CouponTemplateFactory(), quantity=1)
    return activity


def in_thread(call) -> tuple[threading.Thread, list]:
    """Start ``call`` in a thread of its own (its own database connection); its result lands in the list."""
    results: list = []

    def run() -> None:
        try:
            results.append(call())
        except BaseException as exc:  # noqa: BLE001 - the test inspects it
            results.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, results


@pytest.mark.django_db(transaction=True)
def test_a_publish_while_an_edit_is_being_saved_leaves_the_activity_published(monkeypatch):
    # given an edit of a draft paused just before admin saves it
    ensure_roles()
    editor, publisher = StaffFactory(role="operations"), StaffFactory(role="operations")
    activity = draft_activity()
    saving, go_on = threading.Event(), threading.Event()
    save_model = ActivityAdmin.save_model

    def paused_save_model(self, request, obj, form, change):
        saving.set()
        go_on.wait(timeout=20)
        return save_model(self, request, obj, form, change)

    monkeypatch.setattr(ActivityAdmin, "save_model", paused_save_model)
    data = activity_change_form(activity, title="烤鸭节 (edited)")
    editing, edited = in_thread(
        lambda: logged_in(editor).post(f"/admin/marketing/activity/{activity.pk}/change/", data)
    )
    assert saving.wait(timeout=20)

    # when a colleague publishes it meanwhile
    publishing, published = in_thread(
        lambda: activity_publish(activity=Activity.objects.get(pk=activity.pk), actor=publisher)
    )
    publishing.join(timeout=1)  # it waits for the edit, which holds the activity's row
    go_on.set()
    editing.join(timeout=30)
    publishing.join(timeout=30)

    # then both happen, in turn: the edit is saved and the activity stays published
    assert edited[0].status_code == 302, edited
    assert isinstance(published[0], Activity), published
    activity.refresh_from_db()
    assert (activity.status, activity.title) == (ActivityStatus.PUBLISHED, "烤鸭节 (edited)")
    assert audit_trail_for(activity)[0].to_status == ActivityStatus.PUBLISHED


@pytest.mark.django_db(transaction=True)
def test_an_edit_of_an_activity_published_after_the_page_read_it_is_refused_on_the_form(monkeypatch):
    # given an edit that read the draft (and found it editable), paused before its form is validated
    ensure_roles()
    editor, publisher = StaffFactory(role="operations"), StaffFactory(role="operations")
    activity = draft_activity()
    read, go_on = threading.Event(), threading.Event()
    get_form = ActivityAdmin.get_form

    def paused_get_form(self, request, obj=None, change=False, **kwargs):
        if request.method == "POST":
            read.set()
            go_on.wait(timeout=20)
        return get_form(self, request, obj, change, **kwargs)

    monkeypatch.setattr(ActivityAdmin, "get_form", paused_get_form)
    data = activity_change_form(activity, title="烤鸭节 (edited)")
    editing, edited = in_thread(
        lambda: logged_in(editor).post(f"/admin/marketing/activity/{activity.pk}/change/", data)
    )
    assert read.wait(timeout=20)

    # when a colleague publishes it before the edit is saved
    activity_publish(activity=Activity.objects.get(pk=activity.pk), actor=publisher)
    go_on.set()
    editing.join(timeout=30)

    # then the edit is refused with a message on the page, and the activity stays published as it was
    response = edited[0]
    assert response.status_code == 200, response
    assert "This activity is no longer a draft (Published): it cannot be edited." in response.content.decode()
    activity.refresh_from_db()
    assert (activity.status, activity.title) == (ActivityStatus.PUBLISHED, "烤鸭节")


def test_staff_without_the_change_permission_are_still_refused(finance_user, activity):
    data = activity_change_form(activity, title="x")

    assert logged_in(finance_user).post(f"/admin/marketing/activity/{activity.pk}/change/", data).status_code == 403
    assert Activity.objects.get(pk=activity.pk).title == "烤鸭节"
