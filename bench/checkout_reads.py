"""Checkout's reads beside the engine, in process: what the preview service adds to the engine alone.

Run from the repository root: ``.venv/bin/python bench/checkout_reads.py [rounds]``. It uses the data of
bench/checkout.py (a customer with 200 coupons, a 30-line cart, 1,000 other customers holding 20
coupons each) in ``BENCH_CHECKOUT_DATABASE_URL``, built on the first run and reused after. Each round
times ``checkout_coupons_for``, ``orderable_products`` (and, where the code keeps dishes under the menu's
stamp, ``orderable_products`` so), the preview service and the engine alone on the very same Cart and
Coupons, alternately, so that the noise of a busy machine falls on all of them alike.
Printed: medians and p95 over every sample, the median of the rounds' p95 ratios (service / engine), and
the load average before and after. Copied into another checkout of the code, it measures that one.
"""

from __future__ import annotations

import gc
import importlib
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

ROUNDS = int(sys.argv[1]) if len(sys.argv) > 1 else 15
PER_ROUND = 20


def _loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3]) if Path("/proc/loadavg").exists() else "?"


def p95(samples: list[float]) -> float:
    return sorted(samples)[max(0, int(len(samples) * 0.95) - 1)]


def main() -> int:
    bench = importlib.import_module("bench.checkout")  # sets up Django and its database

    from coupons.engine import preview
    from orders import selectors
    from orders.pricing import engine_cart, engine_coupons, gift_skus, pricing_context
    from orders.selectors import checkout_coupons_for, orderable_products
    from orders.services import checkout_preview

    customer, lines = bench.reused_or_built()

    skus = [line["sku"] for line in lines]
    coupons = checkout_coupons_for(user=customer)
    all_skus = skus + sorted(gift_skus(coupons))
    products = orderable_products(skus=all_skus)
    cart = engine_cart(lines=[(products[line["sku"]], line["quantity"]) for line in lines])
    engine_input = engine_coupons(coupons, products=products)
    ctx = pricing_context(channel="APP")
    result = checkout_preview(user=customer, lines=lines, channel="APP")
    assert preview(cart, engine_input, ctx).best == result.best

    measured: dict[str, Callable[[], object]] = {
        "checkout_coupons_for": lambda: checkout_coupons_for(user=customer),
        "orderable_products": lambda: orderable_products(skus=all_skus),
        "preview service": lambda: checkout_preview(user=customer, lines=lines, channel="APP"),
        "engine alone": lambda: preview(cart, engine_input, ctx),
    }
    wallet_of = getattr(selectors, "checkout_wallet", None)
    if wallet_of is not None:  # the dishes kept under the menu's stamp, as the service reads them
        menu_stamp = wallet_of(user=customer).menu
        measured["products, kept"] = lambda: orderable_products(skus=all_skus, menu=menu_stamp)
    samples: dict[str, list[float]] = {name: [] for name in measured}
    ratios: list[float] = []
    code = Path(checkout_preview.__code__.co_filename).parent.parent.parent
    print(f"code {code}; {len(coupons)} coupons, {len(lines)} lines; load before {_loadavg()}")
    gc.collect()
    for _round in range(ROUNDS):
        here: dict[str, list[float]] = {name: [] for name in measured}
        for _ in range(PER_ROUND):
            for name, function in measured.items():
                start = time.perf_counter_ns()
                function()
                here[name].append((time.perf_counter_ns() - start) / 1e6)
        for name in measured:
            samples[name] += here[name]
        ratios.append(p95(here["preview service"]) / p95(here["engine alone"]))
    for name, values in samples.items():
        print(f"  {name:<22} median {statistics.median(values):6.2f} ms  p95 {p95(values):6.2f} ms")
    service, engine = p95(samples["preview service"]), p95(samples["engine alone"])
    print(
        f"  service p95 / engine p95: {service / engine:.2f} over all samples, "
        f"median of {ROUNDS} rounds {statistics.median(ratios):.2f}; load after {_loadavg()}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
