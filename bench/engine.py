"""Rules engine benchmark: 200 coupons held, a 30-line cart, in process, no Django.

Run from the repository root: ``.venv/bin/python bench/engine.py`` (``BENCH_SCALE=0.2`` for a quick
run). Prints the preview's (usable check + best combination) p95 wall clock beside the 15 ms limit, with
its CPU time measured on the same calls beside it (their gap is what other processes on the machine
took), and the best-combination search beside brute force on the same 14 coupons, which must give the
same answer. Exits 1 when the wall-clock p95 is over the limit or the answers differ.
"""

from __future__ import annotations

import gc
import random
import statistics
import sys
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal
from itertools import combinations
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._report import Report, scaled
from coupons.engine import (
    Application,
    Cart,
    CartLine,
    Context,
    Coupon,
    GiftProduct,
    apply_coupons,
    best_combination,
    preview,
)

LIMIT_MS = 15.0
BRUTE_SIZE = 14
SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2024, 5, 4, 12, 30, tzinfo=SHANGHAI)  # Saturday lunch

CATEGORIES = {
    "cat-roast-duck": (68, 198),
    "cat-cold": (12, 38),
    "cat-main-course": (8, 28),
    "cat-hot": (28, 88),
    "cat-soup": (18, 48),
    "cat-drink": (6, 22),
    "cat-dessert": (10, 32),
}


def money(rng: random.Random, low: int, high: int) -> str:
    return str(Decimal(rng.randint(low * 100, high * 100)).scaleb(-2))


def build_menu(rng: random.Random) -> list[tuple[str, str, Decimal]]:
    menu = []
    for number, category in enumerate(sorted(CATEGORIES) * 10):
        low, high = CATEGORIES[category]
        menu.append((f"d-{100 + number}", category, Decimal(rng.randint(low, high))))
    return menu


def build_cart(rng: random.Random, menu: list[tuple[str, str, Decimal]]) -> Cart:
    return Cart(tuple(CartLine(sku, cat, price, rng.randint(1, 3)) for sku, cat, price in rng.sample(menu, 30)))


def rule(rule_type: str, **params: Any) -> dict[str, Any]:
    return {"rule_type": rule_type, "params": params}


def build_wallet(rng: random.Random, menu: list[tuple[str, str, Decimal]]) -> list[Coupon]:
    """A customer who collects everything: mostly lone 满减 and discounts, a few dozen stackable ones
    with scopes, caps and exclusions, some gifts, some that do not apply now."""
    categories = sorted(CATEGORIES)
    gift_dish = GiftProduct("d-901", "酸梅汤", Decimal("6.00"))
    coupons: list[Coupon] = []

    def add(coupon_type: str, value: dict[str, Any], rules: list[dict[str, Any]], **fields: Any) -> None:
        if rng.random() < 0.08:
            fields["expires_at"] = NOW - timedelta(hours=rng.randint(1, 48))
        coupons.append(Coupon(len(coupons) + 1, coupon_type, value, rules, **fields))

    def extra_conditions() -> list[dict[str, Any]]:
        extra = []
        if rng.random() < 0.15:
            extra.append(
                rule(
                    "VALID_TIME_SLOTS",
                    slots=[rng.choice([{"start": "11:00", "end": "14:00"}, {"start": "17:00", "end": "21:00"}])],
                )
            )
        if rng.random() < 0.1:
            extra.append(rule("VALID_DAYS_OF_WEEK", days=rng.choice([[6, 7], [1, 2, 3, 4, 5]])))
        if rng.random() < 0.1:
            extra.append(rule("CHANNELS", channels=rng.choice([["APP"], ["POS"], ["APP", "MINI_PROGRAM"]])))
        return extra

    def stacking() -> dict[str, Any]:
        excluded: list[str] = []
        if rng.random() < 0.25:
            excluded = rng.sample(["CASH_VOUCHER", "PERCENTAGE_DISCOUNT", "RANDOM_CASH", "FREE_ITEM"], 1)
        return rule("STACKABILITY", allow_stacking=True, exclude_coupon_types=excluded)

    # 150 that stand alone: 满减 of every size, 折扣 with caps, red packets, gifts.
    for _ in range(150):
        kind = rng.random()
        lone = [rule("STACKABILITY", allow_stacking=False)] if rng.random() < 0.5 else []
        if kind < 0.45:
            threshold = rng.choice([30, 68, 100, 200, 300, 500, 800, 1500, 3000])
            amount = max(3, threshold // rng.choice([5, 8, 10]))
            add(
                "CASH_VOUCHER",
                {"amount": str(amount)},
                [rule("MINIMUM_SPEND", amount=threshold), *lone, *extra_conditions()],
            )
        elif kind < 0.6:
            category = rng.choice(categories)
            add(
                "CASH_VOUCHER",
                {"amount": str(rng.choice([10, 20, 30]))},
                [
                    rule("MINIMUM_SPEND", amount=rng.choice([100, 200])),
                    rule("ITEM_ELIGIBILITY", category_ids=[category], logic="ANY"),
                    rule("ITEM_DISCOUNT_SCOPE", category_ids=[category]),
                    *lone,
                ],
            )
        elif kind < 0.8:
            add(
                "PERCENTAGE_DISCOUNT",
                {"percentage": rng.choice([5, 8, 10, 12, 15, 20]), "max_off": str(rng.choice([10, 20, 30, 50]))},
                [*lone, *extra_conditions()],
            )
        elif kind < 0.9:
            add("RANDOM_CASH", {"min_amount": "1.00", "max_amount": "8.88"}, lone, amount=Decimal(money(rng, 1, 8)))
        else:
            add(
                "FREE_ITEM",
                {"gift_item_id": "d-901", "quantity": 1},
                [rule("CONDITIONAL_GIFT_ITEM", required_category_ids=[rng.choice(categories)]), *lone],
                gift=gift_dish,
            )

    # 50 that stack.
    for _ in range(50):
        kind = rng.random()
        if kind < 0.35:
            threshold = rng.choice([0, 50, 100, 200, 400, 1000])
            rules = [rule("MINIMUM_SPEND", amount=threshold)] if threshold else []
            if rng.random() < 0.3:
                rules.append(rule("EXCLUDE_ITEMS", category_ids=[rng.choice(categories)]))
            add(
                "CASH_VOUCHER",
                {"amount": str(rng.choice([3, 5, 8, 10, 15, 20]))},
                [*rules, stacking(), *extra_conditions()],
            )
        elif kind < 0.55:
            category = rng.choice(categories)
            add(
                "CASH_VOUCHER",
                {"amount": str(rng.choice([5, 10, 20]))},
                [rule("ITEM_DISCOUNT_SCOPE", category_ids=[category]), stacking()],
            )
        elif kind < 0.75:
            value: dict[str, Any] = {"percentage": rng.choice([5, 8, 10, 12])}
            if rng.random() < 0.8:
                value["max_off"] = str(rng.choice([10, 20, 30]))
            scope = [rule("ITEM_DISCOUNT_SCOPE", category_ids=[rng.choice(categories)])] if rng.random() < 0.4 else []
            add("PERCENTAGE_DISCOUNT", value, [*scope, stacking(), *extra_conditions()])
        elif kind < 0.9:
            add(
                "RANDOM_CASH",
                {"min_amount": "1.00", "max_amount": "8.88"},
                [stacking()],
                amount=Decimal(money(rng, 1, 8)),
            )
        else:
            add(
                "FREE_ITEM",
                {"gift_item_id": "d-901", "quantity": 1},
                [rule("SPEND_FOR_GIFT", amount=100), stacking()],
                gift=gift_dish,
            )

    rng.shuffle(coupons)
    return coupons


def timed(function: Callable[[], object], runs: int) -> tuple[list[float], list[float]]:
    """Wall-clock and CPU milliseconds of each run."""
    wall, cpu = [], []
    for _ in range(runs):
        start, start_cpu = time.perf_counter_ns(), time.process_time_ns()
        function()
        wall.append((time.perf_counter_ns() - start) / 1e6)
        cpu.append((time.process_time_ns() - start_cpu) / 1e6)
    return wall, cpu


def p95(samples: list[float]) -> float:
    return sorted(samples)[max(0, int(len(samples) * 0.95) - 1)]


def stacking_key(coupon: Coupon) -> tuple[int, int, int]:
    scoped = any(item["rule_type"] == "ITEM_DISCOUNT_SCOPE" for item in coupon.usage_rules)
    rank = {"CASH_VOUCHER": 0, "RANDOM_CASH": 0, "PERCENTAGE_DISCOUNT": 1, "FREE_ITEM": 2}[coupon.type]
    return (0 if scoped else 1, rank, coupon.id)


def brute_force(cart: Cart, coupons: list[Coupon], ctx: Context) -> Application:
    """Every subset applied; the best by benefit, then fewer coupons, then the stacking order."""
    best: tuple[Any, Application] | None = None
    for size in range(len(coupons) + 1):
        for subset in combinations(coupons, size):
            application = apply_coupons(cart, list(subset), ctx)
            if application.ok:
                rank = (-application.benefit, size, sorted(stacking_key(c) for c in subset))
                if best is None or rank < best[0]:
                    best = (rank, application)
    assert best is not None
    return best[1]


def main() -> int:
    runs = scaled(300, least=60)
    report = Report("engine", ".venv/bin/python bench/engine.py")
    rng = random.Random(20240504)
    menu = build_menu(rng)
    cart = build_cart(rng, menu)
    wallet = build_wallet(rng, menu)
    ctx = Context(NOW, SHANGHAI, "APP")

    result = preview(cart, wallet, ctx)
    by_id = {coupon.id: coupon for coupon in wallet}
    usable = [by_id[e.coupon_id] for e in result.evaluations if e.usable]
    stackable_usable = [
        c
        for c in usable
        if any(r["rule_type"] == "STACKABILITY" and r["params"]["allow_stacking"] for r in c.usage_rules)
    ]
    print(
        f"wallet {len(wallet)} coupons ({len(usable)} usable, {len(stackable_usable)} of them stackable), "
        f"cart {len(cart.lines)} lines, subtotal {cart.subtotal}"
    )
    print(
        f"best: coupons {list(result.best.coupon_ids)}, discount {result.best.discount_total}, "
        f"gifts {result.best.gift_worth}, total {result.best.total}"
    )

    gc.collect()
    wall, cpu = timed(lambda: preview(cart, wallet, ctx), runs)
    report.add(
        f"engine preview p95 (usable check + best), {len(wallet)} coupons, {len(cart.lines)} lines, x{runs}",
        f"{p95(wall):.2f} ms wall (p50 {statistics.median(wall):.2f})",
        f"limit {LIMIT_MS:.0f} ms; CPU of the same calls p95 {p95(cpu):.2f} ms",
        p95(wall) / LIMIT_MS,
        f"<= {LIMIT_MS:.0f} ms wall",
        p95(wall) <= LIMIT_MS,
    )

    # Brute force on the largest input it still finishes: the usable stackable coupons, topped up with
    # lone ones, BRUTE_SIZE in all.
    lone = [c for c in usable if c not in stackable_usable]
    subset = (stackable_usable[:BRUTE_SIZE] + lone)[:BRUTE_SIZE]
    search = best_combination(cart, subset, ctx)
    start = time.perf_counter()
    oracle = brute_force(cart, subset, ctx)
    brute_ms = (time.perf_counter() - start) * 1000
    search_ms = statistics.median(timed(lambda: best_combination(cart, subset, ctx), 30)[0])
    report.add(
        f"best combination on {len(subset)} coupons",
        f"search {search_ms:.2f} ms: coupons {list(search.coupon_ids)}, benefit {search.benefit}",
        f"brute force over {2 ** len(subset):,} subsets {brute_ms:,.0f} ms: coupons {list(oracle.coupon_ids)}",
        search_ms / brute_ms,
        "equal answers",
        search == oracle,
    )
    return report.finish()


if __name__ == "__main__":
    sys.exit(main())
