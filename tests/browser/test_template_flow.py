"""A coupon template from draft to stop, through the real admin pages in Chromium: Operations designs
满100减10 limited to a category with the template editor (no JSON typed), is stopped by the sense check
for 满100减200, fixes it and submits; Finance reads the summary and the worst-case cost on the review
page and approves; Operations stops it and revokes the coupons still unused."""

import pytest
from django.utils import translation

from coupons.models import CouponStatus, CouponTemplate, TemplateStatus, UserCoupon
from coupons.services.claim import coupon_claim
from coupons.summary import template_summary
from tests.factories import CategoryFactory, ProductFactory, UserFactory

pytestmark = pytest.mark.usefixtures("clean_redis")

SUBMIT = "#content form input[type=submit].default"
SENSE_ERROR = {"en": "at or above its own spend threshold", "zh-hans": "不低于自身的使用门槛"}
WORST_CASE = "¥10,000.00"  # stock 1000 x ¥10
DISCOUNT = {"en": "¥10 off orders of ¥100 or more", "zh-hans": "满100元减10元"}
AUDIENCE = {"en": "about 2 customers now", "zh-hans": "目前约 2 位顾客"}


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_template_designed_reviewed_approved_and_stopped_with_revoke(language, admin_browser, staff):
    # given a menu with a roast duck category, and two customers
    duck = CategoryFactory(code="cat-roast-duck", name="烤鸭")
    ProductFactory(sku="d-101", name="北京烤鸭", category=duck, price="128.00")
    CategoryFactory(code="cat-drinks", name="饮品")
    customers = [UserFactory(), UserFactory()]
    name = f"烤鸭满100减10 {language}"
    browser = admin_browser
    browser.use_language(language)

    # Operations fills the editor: cash voucher, a minimum-spend row and a category row, no JSON
    browser.log_in(staff["operations"], then="/admin/coupons/coupontemplate/add/")
    browser.type("#id_name", name)
    browser.type("#id_short_name", "满100减10")
    browser.select("#id_type", "CASH_VOUCHER")
    browser.type("#id_value__CASH_VOUCHER__amount", "200")  # 满100减200: a discount that can never be given
    browser.type("#id_total_quantity", "1000")
    browser.type("#id_per_user_limit", "1")
    browser.select("#id_validity_type", "RELATIVE_DAYS")
    browser.type("#id_valid_days_after_issue", "30")
    browser.click("#add-rule")
    browser.select("#id_rules-0-rule_type", "MINIMUM_SPEND")
    browser.type("#id_rules-0-MINIMUM_SPEND__amount", "100")
    browser.click("#add-rule")
    browser.select("#id_rules-1-rule_type", "ITEM_DISCOUNT_SCOPE")
    browser.autocomplete("#id_rules-1-ITEM_DISCOUNT_SCOPE__category_ids", "烤", "烤鸭")
    browser.select("#id_target_type", "ALL")
    browser.shot("editor filled in", showing="#usage-rules")
    browser.click_and_load("input[name=_continue]")

    # the sense check refuses 满100减200; nothing is saved
    assert SENSE_ERROR[language] in browser.text("ul.errorlist.nonfield")
    assert not CouponTemplate.objects.filter(name=name).exists()
    browser.shot("sense check error", showing="ul.errorlist.nonfield")

    # fixed to 满100减10, it saves as a draft with the JSON the engine reads
    browser.type("#id_value__CASH_VOUCHER__amount", "10")
    browser.click_and_load("input[name=_continue]")
    template = CouponTemplate.objects.get(name=name)
    assert template.status == TemplateStatus.DRAFT
    assert template.value == {"amount": "10.00"}
    assert template.usage_rules == [
        {"rule_type": "MINIMUM_SPEND", "params": {"amount": "100.00"}},
        {"rule_type": "ITEM_DISCOUNT_SCOPE", "params": {"item_ids": [], "category_ids": ["cat-roast-duck"]}},
    ]
    with translation.override(language):
        summary = template_summary(template)
    assert DISCOUNT[language] in summary and "烤鸭" in summary
    assert summary in browser.text("#template-summary")
    browser.shot("draft with its summary")

    browser.click_and_load("a.workflow-submit")
    browser.shot("submit page")
    browser.click_and_load(SUBMIT)
    assert CouponTemplate.objects.get(pk=template.pk).status == TemplateStatus.PENDING_REVIEW

    # Finance reads the summary and the worst-case cost on the review page, and approves
    browser.log_in(staff["finance"], then=f"/admin/coupons/coupontemplate/{template.pk}/change/")
    browser.click_and_load("a.workflow-approve")
    assert summary in browser.text("#review-summary")
    assert browser.text("#review-stock").endswith("1000")
    assert AUDIENCE[language] in browser.text("#review-audience")
    assert WORST_CASE in browser.text("#review-worst-case")
    browser.type("#id_remark", "OK")
    browser.shot("review page", showing="#template-review")
    browser.click_and_load(SUBMIT)
    template.refresh_from_db()
    assert template.status == TemplateStatus.APPROVED

    # a customer claims one; Operations stops the template and revokes what is unused
    held = coupon_claim(user=customers[0], template_id=template.pk)
    browser.log_in(staff["operations"], then=f"/admin/coupons/coupontemplate/{template.pk}/change/")
    browser.click_and_load("a.workflow-stop")
    browser.check("#id_revoke_unused")
    browser.type("#id_remark", "budget reached")
    browser.shot("stop page")
    browser.click_and_load(SUBMIT)
    assert browser.find(".messagelist .success")
    browser.shot("stopped", showing='a[href$="/export/coupons.csv"]')

    template.refresh_from_db()
    assert (template.status, template.unused_revoked) == (TemplateStatus.STOPPED, True)
    assert UserCoupon.objects.get(pk=held.pk).status == CouponStatus.REVOKED
