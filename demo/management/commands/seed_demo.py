"""Demo data: the restaurant of seed 003, its coupon templates in a mix of statuses, staff and a customer,
and two weeks of history (guests who claimed coupons and paid orders) rolled up for the dashboard.

Idempotent: running it again changes nothing that is already there.
"""

from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone
from rest_framework.authtoken.models import Token

from core.clock import business_today
from core.roles import FINANCE, OPERATIONS
from coupons import services
from coupons.ledger import coupons_redate
from coupons.models import CouponTemplate, UserCoupon, ValidityType
from coupons.services.grants import coupons_grant_by_staff
from coupons.services.stats import stats_rollup_day
from marketing.models import Activity, ActivityItem, GiftPack, GiftPackItem, GiftPackTrigger, MemberProfile
from marketing.services.activities import activity_claim, activity_publish
from marketing.services.registration import member_profile_create
from orders.models import Category, Order, Product
from orders.services import order_pay, order_place

DEMO_PASSWORD = "coupons-demo-2026"

MENU = [
    (
        "cat-roast-duck",
        "烤鸭",
        10,
        [("d-101", "北京烤鸭（整只）", "128.00"), ("d-102", "烤鸭（半只）", "68.00"), ("d-103", "鸭架汤", "18.00")],
    ),
    (
        "cat-cold",
        "凉菜",
        20,
        [("d-201", "凉皮", "18.00"), ("d-202", "拍黄瓜", "12.00"), ("d-203", "夫妻肺片", "32.00")],
    ),
    (
        "cat-main-course",
        "主食",
        30,
        [("d-301", "老北京炸酱面", "22.00"), ("d-302", "扬州炒饭", "26.00"), ("d-303", "葱油饼", "10.00")],
    ),
    ("cat-set-menu", "套餐", 40, [("d-501", "烤鸭双人套餐", "168.00")]),
    (
        "cat-drinks",
        "饮品",
        50,
        [("d-901", "酸梅汤", "8.00"), ("d-902", "北冰洋汽水", "6.00"), ("d-903", "茉莉花茶", "12.00")],
    ),
]

# The history: this many guests over this many past days (today excluded: the jobs fill it as it goes).
HISTORY_GUESTS = 12
HISTORY_DAYS = 14
# What a guest orders with each kind of coupon (each meets the coupon's rules), and without one.
HISTORY_ORDERS = {
    "烤鸭节满100减20": [{"sku": "d-101", "quantity": 1}],
    "随机红包": [{"sku": "d-302", "quantity": 1}, {"sku": "d-901", "quantity": 1}],
    "新人满50减8": [{"sku": "d-102", "quantity": 1}],
}
PLAIN_ORDERS = (
    [{"sku": "d-301", "quantity": 1}, {"sku": "d-902", "quantity": 1}],
    [{"sku": "d-501", "quantity": 1}],
    [{"sku": "d-201", "quantity": 2}, {"sku": "d-303", "quantity": 1}],
)

STACKABLE = {"rule_type": "STACKABILITY", "params": {"allow_stacking": True, "exclude_coupon_types": []}}


def templates(now) -> list[tuple[dict[str, Any], str, str]]:
    """(fields, final status, review remark)."""
    return [
        (
            {
                "name": "新人专享满68减10",
                "short_name": "满68减10",
                "type": "CASH_VOUCHER",
                "value": {"amount": "10.00"},
                "usage_rules": [{"rule_type": "MINIMUM_SPEND", "params": {"amount": "68.00"}}],
                "total_quantity": -1,
                "per_user_limit": 1,
                "validity_type": "RELATIVE_DAYS",
                "valid_days_after_issue": 7,
                "target": {"type": "NEW_USER", "days": 7},
                "description": "新用户注册7天内可领，全场通用，满68元可用。",
            },
            "APPROVED",
            "",
        ),
        (
            {
                "name": "烤鸭节满100减20",
                "short_name": "烤鸭满100减20",
                "type": "CASH_VOUCHER",
                "value": {"amount": "20.00"},
                "usage_rules": [
                    {"rule_type": "ITEM_ELIGIBILITY", "params": {"category_ids": ["cat-roast-duck"], "logic": "ANY"}},
                    {"rule_type": "ITEM_DISCOUNT_SCOPE", "params": {"category_ids": ["cat-roast-duck"]}},
                    {"rule_type": "MINIMUM_SPEND", "params": {"amount": "100.00"}},
                ],
                "total_quantity": 5000,
                "per_user_limit": 2,
                "validity_type": "RELATIVE_DAYS",
                "valid_days_after_issue": 7,
                # Open since before the history's first claim (HISTORY_DAYS ago).
                "issue_start_time": now - timedelta(days=HISTORY_DAYS + 1),
                "issue_end_time": now + timedelta(days=30),
                "description": "仅限烤鸭分类商品，烤鸭满100元减20元。",
            },
            "APPROVED",
            "",
        ),
        (
            {
                "name": "购买主食赠酸梅汤",
                "short_name": "主食赠饮",
                "type": "FREE_ITEM",
                "value": {"gift_item_id": "d-901", "quantity": 1},
                "usage_rules": [
                    {"rule_type": "CONDITIONAL_GIFT_ITEM", "params": {"required_category_ids": ["cat-main-course"]}}
                ],
                "total_quantity": 2000,
                "per_user_limit": 3,
                "validity_type": "RELATIVE_DAYS",
                "valid_days_after_issue": 14,
                "description": "购买任意主食，免费赠送一杯酸梅汤。",
            },
            "APPROVED",
            "",
        ),
        (
            {
                "name": "全场8.8折最高优惠20元",
                "short_name": "8.8折",
                "type": "PERCENTAGE_DISCOUNT",
                "value": {"percentage": 12, "max_off": "20.00"},
                "usage_rules": [],
                "total_quantity": 1000,
                "per_user_limit": 1,
                "validity_type": "FIXED_DATE",
                "valid_from": now,
                "valid_until": now + timedelta(days=30),
            },
            "PENDING_REVIEW",
            "",
        ),
        (
            {
                "name": "午市满50减8",
                "short_name": "午市减8",
                "type": "CASH_VOUCHER",
                "value": {"amount": "8.00"},
                "usage_rules": [
                    {"rule_type": "MINIMUM_SPEND", "params": {"amount": "50.00"}},
                    {"rule_type": "VALID_TIME_SLOTS", "params": {"slots": [{"start": "11:00", "end": "14:00"}]}},
                    STACKABLE,
                ],
                "total_quantity": 3000,
                "per_user_limit": 2,
                "validity_type": "RELATIVE_DAYS",
                "valid_days_after_issue": 30,
                "description": "仅午市 11:00-14:00 可用，可与其他可叠加券同用。",
            },
            "APPROVED",
            "",
        ),
        (
            {
                "name": "周末狂欢满100减15",
                "short_name": "周末满100减15",
                "type": "CASH_VOUCHER",
                "value": {"amount": "15.00"},
                "usage_rules": [
                    {"rule_type": "MINIMUM_SPEND", "params": {"amount": "100.00"}},
                    {"rule_type": "VALID_DAYS_OF_WEEK", "params": {"days": [6, 7]}},
                ],
                "total_quantity": 2000,
                "per_user_limit": 1,
                "validity_type": "CLAIM_DAY",
            },
            "DRAFT",
            "",
        ),
        (
            {
                "name": "随机红包",
                "short_name": "最高8.88元",
                "type": "RANDOM_CASH",
                "value": {"min_amount": "1.00", "max_amount": "8.88"},
                "usage_rules": [{"rule_type": "CHANNELS", "params": {"channels": ["APP", "MINI_PROGRAM"]}}, STACKABLE],
                "total_quantity": 10000,
                "per_user_limit": 1,
                "validity_type": "RELATIVE_DAYS",
                "valid_days_after_issue": 3,
            },
            "APPROVED",
            "",
        ),
        (
            {
                "name": "新人无门槛3元红包",
                "short_name": "无门槛3元",
                "type": "CASH_VOUCHER",
                "value": {"amount": "3.00"},
                "usage_rules": [STACKABLE],
                "total_quantity": -1,
                "per_user_limit": 0,
                "validity_type": "RELATIVE_DAYS",
                "valid_days_after_issue": 7,
                "visible_in_claim_center": False,
                "description": "新人礼包专享，可与其他可叠加券同用。",
            },
            "APPROVED",
            "",
        ),
        (
            {
                "name": "新人满50减8",
                "short_name": "满50减8",
                "type": "CASH_VOUCHER",
                "value": {"amount": "8.00"},
                "usage_rules": [{"rule_type": "MINIMUM_SPEND", "params": {"amount": "50.00"}}],
                "total_quantity": -1,
                "per_user_limit": 0,
                "validity_type": "RELATIVE_DAYS",
                "valid_days_after_issue": 14,
                "visible_in_claim_center": False,
                "description": "新人礼包专享。",
            },
            "APPROVED",
            "",
        ),
        (
            {
                "name": "无门槛5元红包",
                "short_name": "无门槛5元",
                "type": "CASH_VOUCHER",
                "value": {"amount": "5.00"},
                "usage_rules": [],
                "total_quantity": 100000,
                "per_user_limit": 1,
                "validity_type": "RELATIVE_DAYS",
                "valid_days_after_issue": 7,
            },
            "REJECTED",
            "预算未批：数量过大，请改为 1 万张后重新提交",
        ),
    ]


class Command(BaseCommand):
    help = "Load the demo restaurant, coupon templates, staff logins and a customer (idempotent)."

    def handle(self, *args, **options):
        if not settings.DEMO_SEED_ALLOWED:
            raise CommandError(
                "seed_demo creates a superuser and staff logins with a published password; it runs only with "
                "the local or test settings (DJANGO_SETTINGS_MODULE=config.settings.local)."
            )
        with transaction.atomic():
            token = self._seed()
        # After commit: the roll-up reads what the seed wrote, as the scheduled job would. Coupons whose
        # validity has ended (the demo customer's, the history's) are left to the expiry job.
        today = business_today()
        for offset in range(HISTORY_DAYS + 1):
            stats_rollup_day(day=today - timedelta(days=offset))

        self.stdout.write(self.style.SUCCESS("Demo data ready."))
        self.stdout.write(f"  admin    / {DEMO_PASSWORD}  (superuser)")
        self.stdout.write(f"  ops      / {DEMO_PASSWORD}  (Operations: design and submit)")
        self.stdout.write(f"  finance  / {DEMO_PASSWORD}  (Finance: approve or reject)")
        self.stdout.write(f"  demo     / {DEMO_PASSWORD}  (customer; API token {token})")

    def _seed(self) -> str:
        self._user("admin", is_staff=True, is_superuser=True)
        ops = self._user("ops", is_staff=True, group=OPERATIONS)
        finance = self._user("finance", is_staff=True, group=FINANCE)
        customer = self._user("demo", customer=True)
        token, _ = Token.objects.get_or_create(user=customer)

        for code, name, order, dishes in MENU:
            category, _ = Category.objects.get_or_create(code=code, defaults={"name": name, "sort_order": order})
            for sku, dish, price in dishes:
                Product.objects.get_or_create(
                    sku=sku, defaults={"name": dish, "category": category, "price": Decimal(price)}
                )

        now = timezone.now()
        for fields, final, remark in templates(now):
            if CouponTemplate.objects.filter(name=fields["name"]).exists():
                continue
            template = services.template_create(actor=ops, data=fields)
            if final == "DRAFT":
                continue
            template = services.template_submit(template=template, actor=ops)
            if final == "APPROVED":
                services.template_approve(template=template, actor=finance, remark="预算已确认")
            elif final == "REJECTED":
                services.template_reject(template=template, actor=finance, remark=remark)

        self._marketing(ops)
        self._wallet_and_orders(customer, ops)
        self._history(ops)
        return token.key

    def _marketing(self, ops) -> None:
        """The new-user pack of seed 004 (seven coupons) and a published activity."""
        by_name = {t.name: t for t in CouponTemplate.objects.filter(status="APPROVED")}
        if not GiftPack.objects.filter(name="新人礼包").exists():
            pack = GiftPack.objects.create(
                name="新人礼包", trigger=GiftPackTrigger.REGISTER, description="注册即送七张券"
            )
            for name, quantity in (
                ("新人无门槛3元红包", 3),
                ("新人满50减8", 2),
                ("新人专享满68减10", 1),
                ("购买主食赠酸梅汤", 1),
            ):
                GiftPackItem.objects.create(pack=pack, template=by_name[name], quantity=quantity)
        if not Activity.objects.filter(title="烤鸭节").exists():
            now = timezone.now()
            activity = Activity.objects.create(
                title="烤鸭节",
                intro="烤鸭节期间领取烤鸭满减券和随机红包",
                start_time=now - timedelta(days=HISTORY_DAYS + 1),  # before the history's first claim
                end_time=now + timedelta(days=14),
                per_user_limit=1,
                created_by=ops,
            )
            for name in ("烤鸭节满100减20", "随机红包"):
                ActivityItem.objects.create(activity=activity, template=by_name[name], quantity=1)
            activity_publish(activity=activity, actor=ops)

    def _wallet_and_orders(self, customer, ops) -> None:
        """Coupons in the demo customer's wallet, one already past its expiry (the sweep marks it within a
        minute of start) and an unpaid order older than the payment timeout (the timeout job cancels it)."""
        if UserCoupon.objects.filter(user=customer).exists():
            return
        by_name = {t.name: t for t in CouponTemplate.objects.filter(status="APPROVED")}
        for name in ("烤鸭节满100减20", "午市满50减8", "购买主食赠酸梅汤", "新人无门槛3元红包", "随机红包"):
            coupons_grant_by_staff(template=by_name[name], users=[customer], actor=ops)
        stale = coupons_grant_by_staff(template=by_name["新人满50减8"], users=[customer], actor=ops).coupons[0]
        expired_at = timezone.now() - timedelta(minutes=1)
        coupons_redate(coupon_ids=[stale.pk], valid_from=expired_at - timedelta(days=7), expires_at=expired_at)
        held = coupons_grant_by_staff(template=by_name["新人无门槛3元红包"], users=[customer], actor=ops).coupons[0]
        order = order_place(
            user=customer,
            lines=[{"sku": "d-102", "quantity": 1}, {"sku": "d-901", "quantity": 2}],
            channel="APP",
            coupon_ids=[held.pk],
        )
        timeout = timedelta(minutes=settings.ORDER_PAYMENT_TIMEOUT + 1)
        Order.objects.filter(pk=order.pk).update(created_at=timezone.now() - timeout)

    def _history(self, ops) -> None:
        """Guests who claimed the 烤鸭节 activity and were granted a coupon, then ordered over the past
        two weeks, some with a coupon and some without. Everything goes through the services (counters,
        audit, locks) and is then dated back to the day it stands for."""
        if get_user_model().objects.filter(username="guest01").exists():
            return
        by_name = {t.name: t for t in CouponTemplate.objects.filter(status="APPROVED")}
        activity = Activity.objects.get(title="烤鸭节")
        guests = [self._user(f"guest{n:02d}", customer=True) for n in range(1, HISTORY_GUESTS + 1)]
        coupons_grant_by_staff(template=by_name["新人满50减8"], users=guests, actor=ops)
        now = timezone.now()
        for n, guest in enumerate(guests):
            claimed_at = now - timedelta(days=HISTORY_DAYS - n % HISTORY_DAYS, hours=3)
            claimed = activity_claim(user=guest, activity_id=activity.pk)
            wallet = list(UserCoupon.objects.filter(user=guest).select_related("template"))
            # Each coupon keeps its own validity, counted from the day it stands for; its end is moved
            # after the order below was placed (today) with it.
            ends = {
                c.pk: c.expires_at
                if c.template.validity_type == ValidityType.FIXED_DATE
                else claimed_at + (c.expires_at - c.acquired_at)
                for c in wallet
            }
            coupons_redate(coupon_ids=[c.pk for c in wallet], acquired_at=claimed_at, valid_from=claimed_at)
            # Every other guest uses one coupon (alternating kinds) on a later day; all order plainly too.
            usable = [c for c in wallet if c.template.name in HISTORY_ORDERS]
            if n % 2 == 0 and usable and claimed:
                coupon = usable[(n // 2) % len(usable)]
                self._paid_order(
                    guest, HISTORY_ORDERS[coupon.template.name], [coupon.pk], claimed_at + timedelta(days=1)
                )
            for k in range(1 + n % 3):
                day = claimed_at + timedelta(days=1 + k * 4, hours=n % 5)
                if day < now - timedelta(hours=1):
                    self._paid_order(guest, PLAIN_ORDERS[(n + k) % len(PLAIN_ORDERS)], [], day)
            for coupon_id, expires_at in ends.items():
                coupons_redate(coupon_ids=[coupon_id], expires_at=expires_at)

    def _paid_order(self, guest, lines: list[dict[str, Any]], coupon_ids: list[int], when) -> None:
        order = order_place(user=guest, lines=lines, channel="APP", coupon_ids=coupon_ids)
        order_pay(order=order, actor=guest)
        Order.objects.filter(pk=order.pk).update(created_at=when, paid_at=when + timedelta(minutes=2))
        coupons_redate(coupon_ids=coupon_ids, used_at=when + timedelta(minutes=2))

    def _user(
        self,
        username: str,
        *,
        is_staff: bool = False,
        is_superuser: bool = False,
        group: str = "",
        customer: bool = False,
    ):
        user_model = get_user_model()
        user = user_model.objects.filter(username=username).first()
        if user is None:
            user = user_model(username=username, is_staff=is_staff, is_superuser=is_superuser)
            user.set_password(DEMO_PASSWORD)
            user.save()
        if group:
            user.groups.add(Group.objects.get(name=group))
        if customer and not MemberProfile.objects.filter(user=user).exists():
            member_profile_create(user=user)
        return user
