"""seed_demo: the demo restaurant, its staff and customers, and a wallet the jobs can act on."""

import os
import subprocess
import sys
from datetime import timedelta
from io import StringIO

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.utils import timezone
from rest_framework.authtoken.models import Token

from core.models import AuditLog
from core.roles import FINANCE, OPERATIONS
from coupons.models import CouponStatus, CouponTemplate, TemplateStatus, UserCoupon, ValidityType
from marketing.models import Activity, ActivityStatus, GiftPack, GiftPackTrigger, MemberProfile
from orders.models import Category, Order, OrderStatus, Product

pytestmark = pytest.mark.django_db

User = get_user_model()


def run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


# seed_demo ------------------------------------------------------------------------------------------------


def counts() -> dict[str, int]:
    return {
        "users": User.objects.count(),
        "profiles": MemberProfile.objects.count(),
        "tokens": Token.objects.count(),
        "categories": Category.objects.count(),
        "products": Product.objects.count(),
        "templates": CouponTemplate.objects.count(),
        "audit": AuditLog.objects.count(),
    }


def test_seed_demo_refuses_the_production_settings(settings):
    # given: settings that do not allow the demo's published logins (production's)
    settings.DEMO_SEED_ALLOWED = False

    # when / then: refused, and nothing is created
    with pytest.raises(CommandError, match="published password"):
        run("seed_demo")
    assert not User.objects.filter(username__in=["admin", "ops", "finance", "demo"]).exists()


def test_seed_demo_under_the_production_settings_refuses_before_touching_the_database():
    # given: the production settings, pointed at a database that does not exist
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "SECRET_KEY": "x" * 50,
        "ALLOWED_HOSTS": "coupons.example",
        "DATABASE_URL": "mysql://nobody@127.0.0.1:9/none",
        "REDIS_URL": "redis://127.0.0.1:9/0",
    }

    # when
    done = subprocess.run(
        [sys.executable, "manage.py", "seed_demo"], env=env, capture_output=True, text=True, timeout=120, check=False
    )

    # then
    assert done.returncode == 1, done.stdout + done.stderr
    assert "published password" in done.stderr


def test_seed_demo_is_idempotent():
    run("seed_demo")
    first = counts()
    token = Token.objects.get(user__username="demo").key

    run("seed_demo")

    assert counts() == first
    assert Token.objects.get(user__username="demo").key == token
    assert first["templates"] >= 8


def test_seed_demo_builds_the_restaurant_of_seed_003():
    run("seed_demo")

    codes = set(Category.objects.values_list("code", flat=True))
    assert {"cat-roast-duck", "cat-cold", "cat-main-course", "cat-drinks"} <= codes
    plum = Product.objects.select_related("category").get(sku="d-901")
    assert (plum.name, plum.category.code, plum.is_active) == ("酸梅汤", "cat-drinks", True)
    assert Product.objects.filter(category__code="cat-roast-duck", sku="d-101").exists()
    assert all(product.price > 0 for product in Product.objects.all())


def test_seed_demo_templates_are_in_a_mix_of_statuses_with_their_trails():
    run("seed_demo")

    statuses = set(CouponTemplate.objects.values_list("status", flat=True))
    assert {TemplateStatus.APPROVED, TemplateStatus.PENDING_REVIEW, TemplateStatus.DRAFT, TemplateStatus.REJECTED} <= (
        statuses
    )
    ops, finance = User.objects.get(username="ops"), User.objects.get(username="finance")
    for template in CouponTemplate.objects.all():
        # the workflow trail (the demo wallet also adds staff "grant" records on some templates)
        trail = AuditLog.objects.filter(content_type__model="coupontemplate", object_id=template.pk).exclude(
            action="grant"
        )
        actions = list(trail.order_by("id").values_list("action", flat=True))
        expected = {
            TemplateStatus.DRAFT: ["create"],
            TemplateStatus.PENDING_REVIEW: ["create", "submit"],
            TemplateStatus.APPROVED: ["create", "submit", "approve"],
            TemplateStatus.REJECTED: ["create", "submit", "reject"],
        }[template.status]
        assert actions == expected, template.name
        assert template.created_by == ops
        if template.status in (TemplateStatus.APPROVED, TemplateStatus.REJECTED):
            assert template.reviewed_by == finance
    rejected = CouponTemplate.objects.get(status=TemplateStatus.REJECTED)
    assert rejected.review_remark.strip()
    gift = CouponTemplate.objects.get(type="FREE_ITEM")
    assert gift.value == {"gift_item_id": "d-901", "quantity": 1}


def test_seed_demo_creates_the_logins():
    out = run("seed_demo")

    admin, ops, finance, demo = (User.objects.get(username=name) for name in ("admin", "ops", "finance", "demo"))
    assert (admin.is_staff, admin.is_superuser) == (True, True)
    assert (ops.is_staff, list(ops.groups.values_list("name", flat=True))) == (True, [OPERATIONS])
    assert (finance.is_staff, list(finance.groups.values_list("name", flat=True))) == (True, [FINANCE])
    assert (demo.is_staff, demo.is_superuser) == (False, False)
    assert MemberProfile.objects.filter(user=demo).exists()
    token = Token.objects.get(user=demo).key
    assert token in out
    for user in (admin, ops, finance, demo):
        assert user.check_password("coupons-demo-2026")


def test_the_demo_token_works_on_the_customer_api(api_client):
    run("seed_demo")
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get(user__username='demo').key}")

    response = api_client.get("/api/v1/menu/")

    assert response.status_code == 200
    assert "cat-roast-duck" in [category["code"] for category in response.json()]


def test_seed_demo_gives_the_new_user_pack_an_activity_and_a_wallet_the_jobs_can_act_on():
    run("seed_demo")
    run("seed_demo")

    pack = GiftPack.objects.get(name="新人礼包")
    assert pack.trigger == GiftPackTrigger.REGISTER
    assert sum(pack.items.values_list("quantity", flat=True)) == 7  # seed 004: seven coupons
    assert Activity.objects.get(title="烤鸭节").status == ActivityStatus.PUBLISHED
    demo = User.objects.get(username="demo")
    wallet = UserCoupon.objects.filter(user=demo)
    assert wallet.count() == 7
    assert wallet.filter(status=CouponStatus.UNUSED, expires_at__lt=timezone.now()).count() == 1
    order = Order.objects.get(user=demo)
    assert order.status == OrderStatus.PENDING_PAYMENT
    assert order.created_at < timezone.now() - timedelta(minutes=settings.ORDER_PAYMENT_TIMEOUT)
    assert wallet.filter(status=CouponStatus.LOCKED, order=order).count() == 1


def test_the_history_keeps_each_coupons_validity_and_the_windows_it_was_claimed_in():
    run("seed_demo")

    history = UserCoupon.objects.filter(user__username__startswith="guest").select_related("template")
    assert history.exists()
    for coupon in history:
        template = coupon.template
        if template.validity_type == ValidityType.RELATIVE_DAYS:
            assert coupon.expires_at - coupon.acquired_at == timedelta(days=template.valid_days_after_issue)
        if template.issue_start_time is not None:
            assert template.issue_start_time <= coupon.acquired_at, template.name
    earliest = min(history.values_list("acquired_at", flat=True))
    assert Activity.objects.get(title="烤鸭节").start_time <= earliest
