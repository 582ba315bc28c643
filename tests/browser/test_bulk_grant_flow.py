"""A bulk grant to a segment, through the real admin pages in Chromium: Operations drafts it with the
segment editor and sees the audience estimated, submits; Finance sees the audience on the approve page
and approves; the run the approval enqueued is taken by a Celery worker and the progress page refreshes
itself until the grant is done."""

import pytest
from selenium.webdriver.common.by import By

from coupons.models import UserCoupon
from marketing.models import BulkGrant, BulkGrantStatus, MemberLevel
from tests.factories import CouponTemplateFactory, UserFactory

pytestmark = pytest.mark.usefixtures("clean_redis")

CUSTOMERS = {"en": "3 customers", "zh-hans": "3 位顾客"}


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_bulk_grant_to_a_segment_runs_to_done(language, admin_browser, staff, celery_worker, settings):
    # given three gold members among five customers, and an approved template
    settings.BULK_GRANT_CHUNK_SIZE = 2  # two chunks, so the run takes turns as a large one does
    gold = [UserFactory(profile__level=MemberLevel.GOLD) for _ in range(3)]
    others = [UserFactory(), UserFactory(profile__level=MemberLevel.SILVER)]
    template = CouponTemplateFactory(name="午市满100减10", total_quantity=100, per_user_limit=1)
    browser = admin_browser
    browser.use_language(language)
    browser.shot("login page")

    # Operations drafts the grant: segment fields, no JSON, the audience estimated as they change
    browser.log_in(staff["operations"], then="/admin/marketing/bulkgrant/add/")
    browser.type("#id_name", f"Gold lunch {language}")
    browser.select("#id_target_type", "SEGMENT")
    browser.select("#id_template", str(template.pk))
    browser.check("input[name=levels][value=GOLD]")
    browser.attribute_becomes("#audience-estimate", "data-count", "3")
    assert browser.text("#audience-estimate") == CUSTOMERS[language]
    browser.shot("segment with its estimate", showing="#audience-estimate")
    browser.click_and_load("#bulkgrant_form input[name=_continue]")
    grant = BulkGrant.objects.get(name=f"Gold lunch {language}")
    assert (grant.status, grant.template_id) == (BulkGrantStatus.DRAFT, template.pk)
    assert grant.segment == {"levels": ["GOLD"]}
    assert browser.text("#audience-estimate") == CUSTOMERS[language]
    browser.shot("draft saved")

    browser.click_and_load("#workflow-submit")
    browser.shot("submit page")
    browser.click_and_load("#workflow-confirm")
    browser.find("#bulk-grant-progress-link")
    assert BulkGrant.objects.get(pk=grant.pk).status == BulkGrantStatus.PENDING_REVIEW
    browser.shot("submitted")

    # Finance sees the audience on the approve page and approves
    browser.log_in(staff["finance"], then=f"/admin/marketing/bulkgrant/{grant.pk}/change/")
    browser.click_and_load("#workflow-approve")
    assert CUSTOMERS[language] in browser.text("#workflow-facts")
    browser.type("#id_remark", "OK")
    browser.shot("approve page with the audience", showing="#workflow-facts")
    browser.click_and_load("#workflow-confirm")

    # the progress page waits for the run the approval enqueued, refreshing itself
    progress = f"/admin/marketing/bulkgrant/{grant.pk}/progress/"
    assert browser.driver.current_url.endswith(progress)
    browser.attribute_becomes("#bulk-grant-progress", "data-status", "APPROVED")
    assert browser.driver.find_elements(By.CSS_SELECTOR, 'meta[http-equiv="refresh"]')
    browser.shot("progress before the run")
    with celery_worker():
        browser.attribute_becomes("#bulk-grant-progress", "data-status", "DONE", timeout=60)
    browser.shot("progress done")

    # then the page and the database agree: the three gold members got one coupon each
    assert browser.text("#grant-targeted") == "3"
    assert browser.text("#grant-granted") == "3"
    assert browser.find("#grant-progress").get_attribute("value") == "100"
    assert not browser.driver.find_elements(By.CSS_SELECTOR, 'meta[http-equiv="refresh"]')
    grant.refresh_from_db()
    assert (grant.status, grant.targeted, grant.granted, grant.failed) == (BulkGrantStatus.DONE, 3, 3, 0)
    holders = sorted(UserCoupon.objects.filter(template=template).values_list("user_id", flat=True))
    assert holders == sorted(user.pk for user in gold)
    assert not {user.pk for user in others} & set(holders)
    template.refresh_from_db()
    assert template.issued_quantity == 3
